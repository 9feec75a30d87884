package kstream_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// A row that moves from one group to another is subtracted from the old
// group and added to the new one; a deleted row is subtracted.
func TestTableGroupByMovesRowsBetweenGroups(t *testing.T) {
	nullable := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		// user -> "region:amount"
		users := kstream.Table(sb, "users", strs)
		byRegion := kstream.GroupByTable(users, func(_, v string) (string, string) {
			region, _, _ := cut(v)
			return region, v
		})
		byRegion.Count(kstream.Materialized[string, int64]{Name: "users-per-region"}).ToStream().To("counts")
		amounts := kstream.GroupByTable(users, func(_, v string) (string, int64) {
			region, amount, _ := cut(v)
			n, _ := strconv.ParseInt(amount, 10, 64)
			return region, n
		}, kstream.Grouped[string, int64]{Name: "amounts"})
		amounts.Reduce(func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v }).ToStream().To("sums")
	})
	in := testdriver.CreateInputTopic(d, "users", serde.String(), nullable)
	counts := testdriver.CreateOutputTopic(d, "counts", serde.String(), serde.Int64())
	sums := testdriver.CreateOutputTopic(d, "sums", serde.String(), serde.Int64())
	s := func(v string) *string { return &v }

	require.NoError(t, in.PipeKeyValue("alice", s("eu:10")))
	require.NoError(t, in.PipeKeyValue("bob", s("eu:5")))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(1)), kv("eu", int64(2))}, kvs(t, counts))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(10)), kv("eu", int64(15))}, kvs(t, sums))

	require.NoError(t, in.PipeKeyValue("alice", s("us:7"))) // moves: out of eu first, then into us
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(1)), kv("us", int64(1))}, kvs(t, counts))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(5)), kv("us", int64(7))}, kvs(t, sums))

	require.NoError(t, in.PipeKeyValue("bob", s("eu:8"))) // stays in eu: one update, not two
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(1))}, kvs(t, counts))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(8))}, kvs(t, sums))

	require.NoError(t, in.PipeKeyValue("bob", nil)) // deleted: subtracted
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(0))}, kvs(t, counts))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("eu", int64(0))}, kvs(t, sums))

	store, err := testdriver.TimestampedKeyValueStore[string, int64](d, "users-per-region")
	require.NoError(t, err)
	v, _, err := store.Get("us")
	require.NoError(t, err)
	require.Equal(t, int64(1), v.Value)
}

func cut(v string) (string, string, bool) {
	for i := range len(v) {
		if v[i] == ':' {
			return v[:i], v[i+1:], true
		}
	}
	return v, "", false
}

// A windowed table keeps no rows, so it cannot be grouped: Build says so.
func TestGroupByTableOfAWindowedTableIsABuildError(t *testing.T) {
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, strs)
	perMinute := kstream.WindowedBy(s.GroupByKey(), window.Tumbling(time.Minute)).Count()
	kstream.GroupByTable(perMinute, func(w state.Windowed[string], n int64) (string, int64) { return w.Key, n }).Count()
	_, err := sb.Build()
	require.ErrorContains(t, err, "KTABLE-SELECT-0000000003: GroupByTable needs the table's old values")
}
