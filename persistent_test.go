package streams_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
)

// persistentCounting counts per key in a RocksDB store "counts" (no
// repartition: the input is keyed).
func persistentCounting(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &countStore{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("counts", rocksdb.Options{}), serde.String(), serde.Int64()), "count")
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// persistentRun runs the app once over n more records of keys k0..k9 with
// the given state directory and returns how many changelog records it
// restored.
func persistentRun(t *testing.T, c *embedded.Cluster, dir string, n int) int64 {
	t.Helper()
	l := &listener{}
	cfg := config(t, c, "persist")
	cfg.StateDir = dir
	cfg.RestoreListener = l
	r := start(t, persistentCounting(t), cfg)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = string(rune('a' + i%10))
	}
	produceValues(t, c, "in", true, keys...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "persist", "in"))
	require.NoError(t, r.stop(t))
	return l.restoredRecords()
}

func requireCounts(t *testing.T, c *embedded.Cluster, want int64) {
	t.Helper()
	counts := latestCounts(t, c, "persist")
	require.Len(t, counts, 10)
	for k, n := range counts {
		require.Equal(t, want, n, k)
	}
}

// A persistent store keeps its contents on disk; after a clean close its
// checkpoint says how far the changelog reflects it, so a restart restores
// only what came after (here: nothing). A corrupt checkpoint, one ahead of
// the changelog, or a deleted state directory each mean a full restore;
// every run still counts exactly.
func TestPersistentStoresRestoreOnlyTheDeltaAfterACleanClose(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	dir := t.TempDir()
	checkpoints := func() []string {
		m, err := filepath.Glob(filepath.Join(dir, "persist", "*", ".checkpoint"))
		require.NoError(t, err)
		return m
	}

	require.Zero(t, persistentRun(t, c, dir, 100))
	requireCounts(t, c, 10)
	require.Len(t, checkpoints(), 2, "a clean close writes each task's checkpoint")

	require.Zero(t, persistentRun(t, c, dir, 100), "the store is on disk and its checkpoint is current: nothing to restore")
	requireCounts(t, c, 20)

	// A corrupt checkpoint: that task restores its store from the start.
	cps := checkpoints()
	require.NoError(t, os.WriteFile(cps[0], []byte("not a checkpoint"), 0o644))
	restored := persistentRun(t, c, dir, 100)
	require.Positive(t, restored)
	requireCounts(t, c, 30)

	// A checkpoint ahead of the changelog (as after the changelog was
	// recreated): detected, full restore.
	cps = checkpoints()
	data, err := os.ReadFile(cps[1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cps[1], []byte(replaceLastOffset(string(data), "999999")), 0o644))
	require.Positive(t, persistentRun(t, c, dir, 100))
	requireCounts(t, c, 40)

	// The whole state directory gone: every store is rebuilt.
	require.NoError(t, os.RemoveAll(dir))
	require.Equal(t, int64(totalChangelogRecords(t, c)), persistentRun(t, c, dir, 100), "a full restore reads the whole changelog")
	requireCounts(t, c, 50)
}

// replaceLastOffset sets the offset of a one-entry checkpoint file.
func replaceLastOffset(cp, off string) string {
	lines := strings.Split(strings.TrimSuffix(cp, "\n"), "\n")
	f := strings.Fields(lines[len(lines)-1])
	lines[len(lines)-1] = f[0] + " " + f[1] + " " + off
	return strings.Join(lines, "\n") + "\n"
}

func totalChangelogRecords(t *testing.T, c *embedded.Cluster) int {
	t.Helper()
	recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic("persist", "counts"))
	require.NoError(t, err)
	return len(recs)
}
