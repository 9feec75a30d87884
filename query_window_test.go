package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// clicksPerMinute counts each key's records per one-minute window (by the
// record's timestamp) in the window store "clicks".
type clicksPerMinute struct {
	st state.WindowStore[string, int64]
}

func (p *clicksPerMinute) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.WindowStore[string, int64]](ctx, "clicks")
	return err
}
func (p *clicksPerMinute) Process(rec processor.Record[string, string]) error {
	start := rec.Timestamp.Truncate(time.Minute)
	n, _, err := p.st.FetchOne(rec.Key, start)
	if err != nil {
		return err
	}
	return p.st.Put(rec.Key, n+1, start)
}
func (p *clicksPerMinute) Close() error { return nil }

// Interactive queries of a window store across the app's tasks.
func TestQueryWindowAcrossTasks(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	topo := storeTopology(t, "count", func() processor.Processor[string, string, string, string] { return &clicksPerMinute{} },
		state.NewWindowStoreBuilder(state.InMemoryWindowStore("clicks", 24*time.Hour, time.Minute, false), serde.String(), serde.Int64()))
	r := start(t, topo, config(t, c, "windows"))

	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 60 { // user-0..user-5, 10 records each, over minutes 0..2
		recs = append(recs, &kgo.Record{Topic: "in", Key: []byte(fmt.Sprintf("user-%d", i%6)), Value: []byte("click"),
			Timestamp: base.Add(time.Duration(i) * 3 * time.Second)})
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "windows", "in"))

	q, err := streams.QueryWindow[string, int64](r.app, "clicks")
	require.NoError(t, err)
	// user-0 has records at 0, 18, 36, 54 s (minute 0) and 72, 90, 108 s
	// (minute 1) and 126, 144, 162 s (minute 2).
	var got []string
	for kv, err := range q.Fetch("user-0", base, base.Add(time.Hour)) {
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%s=%d", kv.Key.Sub(base), kv.Value))
	}
	require.Equal(t, []string{"0s=4", "1m0s=3", "2m0s=3"}, got, "oldest first, exact counts")
	n, ok, err := q.FetchOne("user-3", base.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	// user-3's records are at 9, 27, 45, 63, 81, 99, 117, 135, 153, 171 s:
	// minute 1 holds 63, 81, 99 and 117 s.
	require.Equal(t, int64(4), n)
	total := int64(0)
	for kv, err := range q.All() {
		require.NoError(t, err)
		total += kv.Value
	}
	require.Equal(t, int64(60), total, "every record counted once, across both tasks")

	_, err = streams.QueryWindow[string, int64](r.app, "nope")
	require.ErrorIs(t, err, streams.ErrUnknownStore)
	wrong, err := streams.QueryWindow[string, string](r.app, "clicks")
	require.NoError(t, err)
	_, _, err = wrong.FetchOne("user-0", base)
	require.ErrorContains(t, err, `store "clicks" is a`)
	require.NoError(t, r.stop(t))
}
