package streams_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
)

// cachedCounting counts per key (keyed input) in a RocksDB store "counts"
// built WithCaching.
func cachedCounting(t *testing.T) *topology.Topology {
	t.Helper()
	return storeTopology(t, "count", func() processor.Processor[string, string, string, int64] { return &countStore{} },
		state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("counts", rocksdb.Options{}), serde.String(), serde.Int64()).WithCaching())
}

// With WithCaching, 500 updates of 5 keys between two commits reach the
// changelog as one record per key; interactive queries see the counts only
// once they are committed; and a fresh instance restores the same counts
// from that changelog.
func TestCachedStoreLogsOneChangePerKeyPerCommit(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = string(rune('a' + i%5))
	}
	produceValues(t, c, "in", true, keys...)

	cfg := config(t, c, "cached")
	cfg.CommitInterval = time.Hour // one commit: the final one
	r := start(t, cachedCounting(t), cfg)
	require.Eventually(t, func() bool { return r.app.Metrics().RecordsProcessed == 500 }, 30*time.Second, 10*time.Millisecond)
	q, err := streams.QueryKeyValue[string, int64](r.app, "counts")
	require.NoError(t, err)
	_, ok, err := q.Get("a")
	require.NoError(t, err)
	require.False(t, ok, "a query must not see writes that are not committed")
	require.NoError(t, r.stop(t))

	recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic("cached", "counts"))
	require.NoError(t, err)
	require.Len(t, recs, 5, "one changelog record per key for the one commit")
	require.Equal(t, map[string]int64{"a": 100, "b": 100, "c": 100, "d": 100, "e": 100}, latestCounts(t, c, "cached"))

	// A new instance with an empty state directory restores the counts,
	// and a query sees them once a commit covers the next records.
	cfg.StateDir = t.TempDir()
	cfg.CommitInterval = 50 * time.Millisecond
	r = start(t, cachedCounting(t), cfg)
	q, err = streams.QueryKeyValue[string, int64](r.app, "counts")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, ok, err := q.Get("a")
		return err == nil && ok && n == 100
	}, 30*time.Second, 10*time.Millisecond, "the task runs with its restored state")
	// Queries read a view below the cache, but a subscription made while
	// the task runs must still hear of the cached store's changes (bug:
	// it was attached to the view).
	sub, err := streams.Subscribe[string, int64](r.app, "counts", 0)
	require.NoError(t, err)
	defer sub.Close()
	produceValues(t, c, "in", true, "a")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "cached", "in"))
	require.Eventually(t, func() bool {
		n, ok, err := q.Get("a")
		return err == nil && ok && n == 101
	}, 30*time.Second, 10*time.Millisecond)
	n, ok, err := q.Get("e")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(100), n)
	select {
	case ch := <-sub.Changes():
		require.Equal(t, "a", ch.Key)
		require.Equal(t, int64(100), ch.Old)
		require.Equal(t, int64(101), ch.New)
	case <-time.After(30 * time.Second):
		t.Fatal("no change delivered for the cached store")
	}
	require.NoError(t, r.stop(t))
}
