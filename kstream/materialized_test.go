package kstream_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/testdriver"
)

// Materialized's store supplier, logging and caching reach the store.
func TestMaterializedStoreSettings(t *testing.T) {
	inRocksDB := func(name string) state.KeyValueBytesStoreSupplier {
		return rocksdb.KeyValueStore(name, rocksdb.Options{})
	}
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		s.GroupByKey().Count(kstream.Materialized[string, int64]{Name: "on-disk", KeyValueStore: inRocksDB})
		s.GroupByKey().Count(kstream.Materialized[string, int64]{Name: "unlogged", LoggingDisabled: true})
		s.GroupByKey().Count(kstream.Materialized[string, int64]{Name: "cached", Caching: true})
	})
	in := input(d, "in")
	onDisk := testdriver.CreateOutputTopic(d, "test-app-on-disk-changelog", serde.String(), serde.Bytes())
	unlogged := testdriver.CreateOutputTopic(d, "test-app-unlogged-changelog", serde.String(), serde.Bytes())
	cached := testdriver.CreateOutputTopic(d, "test-app-cached-changelog", serde.String(), serde.Bytes())
	require.NoError(t, in.PipeRecords(records("a", "a", "a", "b")))

	require.Equal(t, 4, onDisk.QueueSize(), "logged: every update")
	require.True(t, unlogged.IsEmpty(), "LoggingDisabled: no changelog")
	// The driver commits after each record, so the cache writes each one
	// down: change_test.go checks that the builder has caching on.
	require.Equal(t, 4, cached.QueueSize())
	require.NotEmpty(t, d.StateDir())
	for _, name := range []string{"on-disk", "unlogged", "cached"} {
		st, err := testdriver.TimestampedKeyValueStore[string, int64](d, name)
		require.NoError(t, err)
		v, _, err := st.Get("a")
		require.NoError(t, err)
		require.Equal(t, int64(3), v.Value, name)
	}
	st, err := testdriver.GetStore[state.Store](d, "on-disk")
	require.NoError(t, err)
	require.True(t, st.Persistent(), "the RocksDB supplier was used")
}
