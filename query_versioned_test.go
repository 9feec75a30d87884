package streams_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
)

// A versioned table is queryable from any goroutine, as of any time in
// its history, across the tasks of the instance; a store that is not
// versioned is refused by name.
func TestQueryVersioned(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "prices", 3))
	sb := kstream.NewStreamsBuilder()
	prices := kstream.Table(sb, "prices", kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()},
		kstream.Materialized[string, string]{Name: "prices", Versioned: true, HistoryRetention: time.Hour})
	kstream.GroupByTable(prices, func(k, v string) (string, string) { return v, k }).Count(kstream.Materialized[string, int64]{Name: "by-price"})
	topo, err := sb.Build()
	require.NoError(t, err)
	r := start(t, topo, config(t, c, "query-versioned"))

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for _, item := range []string{"apple", "pear", "plum", "fig"} {
		recs = append(recs,
			&kgo.Record{Topic: "prices", Key: []byte(item), Value: []byte("1.00"), Timestamp: t0},
			&kgo.Record{Topic: "prices", Key: []byte(item), Value: []byte("2.00"), Timestamp: t0.Add(time.Minute)})
	}
	recs = append(recs, &kgo.Record{Topic: "prices", Key: []byte("fig"), Timestamp: t0.Add(2 * time.Minute)}) // deleted
	require.NoError(t, c.Produce(ctxT(t), recs...))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "query-versioned", "prices"))

	q, err := streams.QueryVersioned[string, string](r.app, "prices")
	require.NoError(t, err)
	require.Equal(t, time.Hour, q.HistoryRetention())
	for _, item := range []string{"apple", "pear", "plum"} {
		latest, ok, err := q.Get(item)
		require.NoError(t, err)
		require.True(t, ok, item)
		require.Equal(t, "2.00", latest.Value)
		old, ok, err := q.GetAsOf(item, t0.Add(30*time.Second))
		require.NoError(t, err)
		require.True(t, ok, item)
		require.Equal(t, "1.00", old.Value)
		require.Equal(t, t0.Add(time.Minute), old.ValidTo)
	}
	_, ok, err := q.Get("fig")
	require.NoError(t, err)
	require.False(t, ok, "deleted")
	was, ok, err := q.GetAsOf("fig", t0.Add(90*time.Second))
	require.NoError(t, err)
	require.True(t, ok, "the history before the deletion")
	require.Equal(t, "2.00", was.Value)

	// The table's updates (latest versions only) carry old values to an
	// aggregation: fig's deletion took it out of 2.00.
	counts, err := streams.QueryKeyValue[string, int64](r.app, "by-price")
	require.NoError(t, err)
	for price, want := range map[string]int64{"1.00": 0, "2.00": 3} {
		n, ok, err := counts.Get(price)
		require.NoError(t, err)
		require.True(t, ok, price)
		require.Equal(t, want, n, price)
	}

	_, err = streams.QueryVersioned[string, string](r.app, "by-price")
	require.ErrorContains(t, err, `store "by-price" is not a versioned store`)
	_, err = streams.QueryVersioned[string, string](r.app, "nope")
	require.ErrorIs(t, err, streams.ErrUnknownStore)
	require.NoError(t, r.stop(t))
}
