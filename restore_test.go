package streams_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

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

func (l *listener) batchesRestored() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.batches)
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

// A task that moves to another instance arrives with its state: B joins,
// takes over some counting tasks mid-stream and restores their stores; A
// takes them back when B leaves. Every count is exact (both leave cleanly,
// so nothing is processed twice), which it can only be if each move
// restored the store.
func TestMovedTasksArriveWithTheirState(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	repartition := streams.RepartitionTopic("moving", "by-key")
	key := func(i int) string { return fmt.Sprintf("k%02d", i%20) }
	produced := 0
	produce := func(n int) {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = key(produced + i)
		}
		produceValues(t, c, "in", false, vs...)
		produced += n
	}

	aListener, bListener := &listener{}, &listener{}
	cfgA := config(t, c, "moving")
	cfgA.RestoreListener = aListener
	a := start(t, counting(t), cfgA)
	produce(400)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "moving", "in", repartition))

	cfgB := config(t, c, "moving")
	cfgB.RestoreListener = bListener
	b := start(t, counting(t), cfgB)
	require.Eventually(t, func() bool {
		produce(20)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "moving", "in", repartition))
		return bListener.restoredRecords() > 0
	}, 30*time.Second, 10*time.Millisecond, "B restored the stores of the tasks it took over")
	produce(400)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "moving", "in", repartition))
	require.NoError(t, b.stop(t))
	produce(400)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "moving", "in", repartition))
	require.NoError(t, a.stop(t))

	counts := latestCounts(t, c, "moving")
	require.Len(t, counts, 20)
	for k, n := range counts {
		require.Equal(t, int64(produced/20), n, "%s: %d records of every key were produced", k, produced/20)
	}
	require.Positive(t, aListener.restoredRecords(), "A restored the tasks it got back")
}

// Input that arrives while a task restores waits: in the task's buffer,
// and once that holds MaxPollRecords, in Kafka (the partition is paused
// until the restore ends). Nothing is lost or counted twice either way.
func TestInputDuringALongRestoreIsProcessedOnceAfterIt(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	const n = 200_000
	fillCounts(t, c, "long-restore", n)
	// The restoring task's input, there before the app starts: polled
	// while it restores.
	repartition := streams.RepartitionTopic("long-restore", "by-key")
	require.NoError(t, c.CreateTopic(ctxT(t), repartition, 1))
	var input []string
	for i := range 500 {
		input = append(input, fmt.Sprintf("k%d", i%10))
	}
	produceValues(t, c, repartition, true, input...)

	l := &listener{}
	cfg := config(t, c, "long-restore")
	cfg.RestoreListener = l
	cfg.MaxPollRecords = 20
	r := start(t, counting(t), cfg)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "long-restore", "in", repartition))
	require.NoError(t, r.stop(t))
	require.Greater(t, l.batchesRestored(), 1, "the restore must take several batches for this test to mean anything")
	require.Equal(t, int64(n), l.restoredRecords())
	counts := latestCounts(t, c, "long-restore")
	for i := range 10 {
		require.Equal(t, int64(i+50), counts[fmt.Sprintf("k%d", i)], "k%d: its restored count and 50 more", i)
	}
}

// fillCounts writes n counts to the changelog of the store "counts" of the
// app appID, a compacted topic of one partition: "k<i>" counts i.
func fillCounts(t *testing.T, c *embedded.Cluster, appID string, n int) {
	t.Helper()
	changelog := streams.ChangelogTopic(appID, "counts")
	compact := "compact"
	resp, err := c.Admin().CreateTopic(ctxT(t), 1, -1, map[string]*string{"cleanup.policy": &compact}, changelog)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		v, _ := serde.Int64().Serialize(int64(i))
		recs = append(recs, &kgo.Record{Topic: changelog, Key: fmt.Appendf(nil, "k%d", i), Value: v})
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
}
