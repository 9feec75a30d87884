package kstream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// A table read from a topic: a nil value deletes the row, updates carry
// the old value downstream, and the store is queryable under its name.
func TestTableFromTopic(t *testing.T) {
	nullable := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		users := kstream.Table(sb, "users", strs, kstream.Materialized[string, string]{Name: "users-store"})
		require.Equal(t, "users-store", users.StoreName())
		long := users.Filter(func(_, v string) bool { return len(v) > 3 })
		kstream.MapValuesTable(long, func(_ string, v string) *string { return &v }).ToStream().
			To("long-names", kstream.Produced[string, *string]{ValueSerde: nullable})
	})
	in := testdriver.CreateInputTopic(d, "users", serde.String(), nullable, testdriver.WithStartTime(t0))
	out := testdriver.CreateOutputTopic(d, "long-names", serde.String(), nullable)
	s := func(v string) *string { return &v }

	require.NoError(t, in.PipeKeyValue("u1", s("alice")))
	require.NoError(t, in.PipeKeyValue("u2", s("bob")))   // filtered out, never passed: nothing
	require.NoError(t, in.PipeKeyValue("u1", s("al")))    // stops passing: a deletion downstream
	require.NoError(t, in.PipeKeyValue("u2", s("bobby"))) // starts passing
	require.NoError(t, in.PipeKeyValue("u2", nil))        // a tombstone deletes it
	require.NoError(t, in.PipeKeyValue("u3", nil))        // deleting a row that is not there: nothing
	require.Equal(t, []testdriver.KeyValue[string, *string]{
		kv("u1", s("alice")), kv[string, *string]("u1", nil), kv("u2", s("bobby")), kv[string, *string]("u2", nil),
	}, kvs(t, out))

	store, err := testdriver.TimestampedKeyValueStore[string, string](d, "users-store")
	require.NoError(t, err)
	v, ok, err := store.Get("u1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "al", v.Value)
	_, ok, err = store.Get("u2")
	require.NoError(t, err)
	require.False(t, ok, "the tombstone deleted u2")
}

// Without a store a table knows no old values: a row that stops passing a
// filter is deleted downstream even if it never passed, since the filter
// cannot know.
func TestUnmaterializedTableForwardsDeletes(t *testing.T) {
	nullable := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		users := kstream.Table(sb, "users", strs)
		require.Empty(t, users.StoreName())
		kstream.MapValuesTable(users.Filter(func(_, v string) bool { return len(v) > 3 }), func(_ string, v string) *string { return &v }).
			ToStream().To("out", kstream.Produced[string, *string]{ValueSerde: nullable})
	})
	in := testdriver.CreateInputTopic(d, "users", serde.String(), nullable)
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), nullable)
	require.NoError(t, in.PipeKeyValue("u2", func() *string { v := "bob"; return &v }()))
	require.Equal(t, []testdriver.KeyValue[string, *string]{kv[string, *string]("u2", nil)}, kvs(t, out))
}

func TestStreamToTableAndAggregations(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		s.ToTable("", kstream.Materialized[string, string]{Name: "latest"})
		s.GroupByKey().Reduce(func(agg, v string) string { return agg + "," + v }, kstream.Materialized[string, string]{Name: "joined"}).
			ToStream().To("joined")
		kstream.Aggregate(s.GroupByKey(), func() int64 { return 100 }, func(_, v string, agg int64) int64 { return agg + int64(len(v)) },
			kstream.Materialized[string, int64]{Name: "lengths", ValueSerde: serde.Int64()}).
			ToStream().To("lengths")
	})
	in := input(d, "in")
	joined := testdriver.CreateOutputTopic(d, "joined", serde.String(), serde.String())
	lengths := testdriver.CreateOutputTopic(d, "lengths", serde.String(), serde.Int64())
	require.NoError(t, in.PipeKeyValues([]testdriver.KeyValue[string, string]{kv("a", "x"), kv("b", "yy"), kv("a", "zzz")}))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("a", "x"), kv("b", "yy"), kv("a", "x,zzz")}, kvs(t, joined))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("a", int64(101)), kv("b", int64(102)), kv("a", int64(104))}, kvs(t, lengths))
	latest, err := testdriver.TimestampedKeyValueStore[string, string](d, "latest")
	require.NoError(t, err)
	v, _, err := latest.Get("a")
	require.NoError(t, err)
	require.Equal(t, state.ValueAndTimestamp[string]{Value: "zzz", Timestamp: t0.Add(2 * time.Millisecond)}, v)

	// The aggregate's timestamp is its latest record's, even when an older
	// record comes after it.
	require.NoError(t, in.Pipe("a", "w", t0.Add(-time.Hour)))
	rec, err := joined.ReadRecord()
	require.NoError(t, err)
	require.Equal(t, "x,zzz,w", rec.Value)
	require.Equal(t, t0.Add(2*time.Millisecond), rec.Timestamp)
}

func TestWindowedCounts(t *testing.T) {
	windowed := window.TimeWindowedSerde(serde.String(), time.Minute)
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		kstream.WindowedBy(s.GroupByKey(), window.Tumbling(time.Minute)).Count(kstream.Materialized[string, int64]{Name: "per-minute"}).
			ToStream().To("per-minute")
		kstream.WindowedBySession(s.GroupByKey(), window.Session(time.Minute)).Count().ToStream().To("sessions")
		kstream.WindowedBySliding(s.GroupByKey(), window.Sliding(time.Minute)).Reduce(func(a, v string) string { return a + v }).
			ToStream().To("sliding")
	})
	in := input(d, "in")
	perMinute := testdriver.CreateOutputTopic(d, "per-minute", windowed, serde.Int64())
	sessions := testdriver.CreateOutputTopic(d, "sessions", window.SessionWindowedSerde(serde.String()), serde.Int64())
	sliding := testdriver.CreateOutputTopic(d, "sliding", windowed, serde.String())
	require.NoError(t, in.Pipe("a", "1", t0))
	require.NoError(t, in.Pipe("a", "2", t0.Add(30*time.Second)))
	require.NoError(t, in.Pipe("a", "3", t0.Add(90*time.Second)))

	got := kvs(t, perMinute)
	require.Len(t, got, 3)
	require.Equal(t, []int64{1, 2, 1}, []int64{got[0].Value, got[1].Value, got[2].Value})
	require.Equal(t, t0, got[1].Key.Start)
	require.Equal(t, t0.Add(time.Minute), got[2].Key.Start)

	ss := kvs(t, sessions)
	last := ss[len(ss)-1]
	require.Equal(t, int64(3), last.Value, "the three records are one session: each within a minute of the next")
	require.Equal(t, t0, last.Key.Start)
	require.Equal(t, t0.Add(90*time.Second), last.Key.End)

	var endingAtLast []string
	for _, w := range kvs(t, sliding) {
		if w.Key.End.Equal(t0.Add(90 * time.Second)) {
			endingAtLast = append(endingAtLast, w.Value)
		}
	}
	require.Equal(t, []string{"23"}, endingAtLast, "the window ending at the last record holds the last two")
	store, err := testdriver.GetStore[state.WindowStore[string, int64]](d, "per-minute")
	require.NoError(t, err)
	n, ok, err := store.FetchOne("a", t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "the per-minute store is queryable under its name")
	require.Equal(t, int64(1), n)
}
