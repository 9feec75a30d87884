package streams_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
)

// listener records restore events.
type listener struct {
	mu              sync.Mutex
	starts, batches []streams.RestoreEvent
	ends            []streams.RestoreEvent
}

func (l *listener) OnRestoreStart(e streams.RestoreEvent) {
	l.mu.Lock()
	l.starts = append(l.starts, e)
	l.mu.Unlock()
}
func (l *listener) OnBatchRestored(e streams.RestoreEvent) {
	l.mu.Lock()
	l.batches = append(l.batches, e)
	l.mu.Unlock()
}
func (l *listener) OnRestoreEnd(e streams.RestoreEvent) {
	l.mu.Lock()
	l.ends = append(l.ends, e)
	l.mu.Unlock()
}

func (l *listener) restoredRecords() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, e := range l.ends {
		n += e.Records
	}
	return n
}

// latestCounts reads the changelog of "counts" and returns the latest count
// per key: what a restore rebuilds.
func latestCounts(t *testing.T, c *embedded.Cluster, appID string) map[string]int64 {
	t.Helper()
	recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic(appID, "counts"))
	require.NoError(t, err)
	m := map[string]int64{}
	for _, r := range recs {
		n, err := serde.Int64().Deserialize(r.Value)
		require.NoError(t, err)
		m[string(r.Key)] = n
	}
	return m
}

// State survives a restart: the second app (a new process, a fresh state
// directory) restores the in-memory store from its changelog before it
// processes, so its counts go on from where the first stopped. With the
// changelog compacted in between, the restore reads fewer records and
// rebuilds the same state.
func TestStoresAreRestoredFromTheirChangelog(t *testing.T) {
	t.Parallel()
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compact), func(t *testing.T) {
			t.Parallel()
			testRestore(t, compact)
		})
	}
}

func testRestore(t *testing.T, compact bool) {
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 3))
	keys := func(n int) []string {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = fmt.Sprintf("k%d", i%10)
		}
		return vs
	}
	repartition := streams.RepartitionTopic("restore", "by-key")

	first := &listener{}
	cfg := config(t, c, "restore")
	cfg.RestoreListener = first
	r := start(t, counting(t), cfg)
	// Three rounds, each committed, so each changelog partition has older
	// batches for compaction to clean (it never touches the last one).
	for range 3 {
		produceValues(t, c, "in", false, keys(100)...)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "restore", "in", repartition))
	}
	require.NoError(t, r.stop(t))
	for k, n := range latestCounts(t, c, "restore") {
		require.Equal(t, int64(30), n, k)
	}
	require.Zero(t, first.restoredRecords(), "the first run had nothing to restore")
	require.NotEmpty(t, first.ends, "an empty changelog is restored at once, not waited for")
	wantRestored := int64(300)
	if compact {
		c.Kfake().Compact()
		recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic("restore", "counts"))
		require.NoError(t, err)
		require.Less(t, len(recs), 300, "compaction dropped superseded counts")
		wantRestored = int64(len(recs))
	}

	second := &listener{}
	cfg = config(t, c, "restore") // a new state directory
	cfg.RestoreListener = second
	r = start(t, counting(t), cfg)
	produceValues(t, c, "in", false, keys(100)...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "restore", "in", repartition))
	require.NoError(t, r.stop(t))
	counts := latestCounts(t, c, "restore")
	require.Len(t, counts, 10)
	for k, n := range counts {
		require.Equal(t, int64(40), n, "%s: 30 before the restart and 10 after", k)
	}
	require.Equal(t, wantRestored, second.restoredRecords(), "every changelog record left was restored")
	second.mu.Lock()
	defer second.mu.Unlock()
	require.NotEmpty(t, second.batches)
	for _, e := range second.ends {
		require.Equal(t, e.EndOffset, e.Offset, "each store caught up with its changelog")
	}
}
