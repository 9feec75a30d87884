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
)

// standbyConfig is config with one standby replica per stateful task, the
// instance advertised as server, and quick probing rebalances.
func standbyConfig(t *testing.T, c interface{ Addrs() []string }, appID, server string, l *listener) streams.Config {
	cfg := streams.Config{
		ApplicationID:            appID,
		Brokers:                  c.Addrs(),
		StateDir:                 t.TempDir(),
		CommitInterval:           50 * time.Millisecond,
		Logger:                   quiet,
		ApplicationServer:        server,
		NumStandbyReplicas:       1,
		ProbingRebalanceInterval: 500 * time.Millisecond,
		RestoreListener:          l,
	}
	cfg.ClientOptions = []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}
	return cfg
}

// countsOf reads every count of the store "counts" that a query with opts
// sees on app.
func countsOf(t *testing.T, app *streams.App, opts ...streams.QueryOptions) map[string]int64 {
	t.Helper()
	q, err := streams.QueryKeyValue[string, int64](app, "counts", opts...)
	require.NoError(t, err)
	out := map[string]int64{}
	for kv, err := range q.All() {
		require.NoError(t, err)
		out[kv.Key] = kv.Value
	}
	return out
}

func kinds(t *testing.T, app *streams.App) map[processor.TaskID]streams.StoreKind {
	t.Helper()
	ls, err := streams.LocalStores(app, "counts", streams.QueryOptions{StaleStores: true})
	require.NoError(t, err)
	out := map[processor.TaskID]streams.StoreKind{}
	for _, l := range ls {
		out[l.Task] = l.Kind
	}
	return out
}

// A second instance that joins an app whose state it lacks (more than
// AcceptableRecoveryLag behind) gets no stateful active task at once: it
// holds standby replicas, which follow the changelogs, and a probing
// rebalance moves a task to it once it caught up, promoted from its
// standby with nothing left to restore. Queries with StaleStores read the
// standby; the metadata names both hosts. When the first instance leaves,
// its task moves to the standby on the second, which restores only the
// tail, and every count is exact.
func TestStandbyReplicasWarmUpAndTakeOverWithTailOnlyRestores(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	const appID = "standby"
	repartition := streams.RepartitionTopic(appID, "by-key")
	produced := 0
	produce := func(n int) {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = fmt.Sprintf("k%03d", (produced+i)%100)
		}
		produceValues(t, c, "in", false, vs...)
		produced += n
	}
	la, lb := &listener{}, &listener{}
	cfgA := standbyConfig(t, c, appID, "a:1", la)
	cfgA.AcceptableRecoveryLag = 1
	a := start(t, counting(t), cfgA)
	produce(2000)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))

	var stateful []processor.TaskID // the tasks of "counts"
	for id := range kinds(t, a.app) {
		stateful = append(stateful, id)
	}
	require.Len(t, stateful, 2)

	cfgB := standbyConfig(t, c, appID, "b:2", lb)
	cfgB.AcceptableRecoveryLag = 1
	b := start(t, counting(t), cfgB)
	// B first holds standbys of both stateful tasks; once they caught up, a
	// probing rebalance gives it one of them.
	var k map[processor.TaskID]streams.StoreKind
	until(t, 30*time.Second, func() bool {
		k = kinds(t, b.app)
		return len(k) == 2 && (k[stateful[0]] == streams.Active) != (k[stateful[1]] == streams.Active)
	}, "B runs one stateful task and holds a standby of the other: %v", &k)
	require.Zero(t, lb.restoredRecords(), "the task B took over was restored by its standby, not from scratch")
	var bActive, bStandby processor.TaskID
	for id, k := range kinds(t, b.app) {
		if k == streams.Active {
			bActive = id
		} else {
			bStandby = id
		}
	}
	until(t, 30*time.Second, func() bool {
		k := kinds(t, a.app)
		return k[bStandby] == streams.Active && k[bActive] == streams.Standby
	}, "A runs the other task and holds a standby of B's")

	// What the instances say about each other.
	until(t, 30*time.Second, func() bool {
		md := streams.AllMetadata(b.app)
		return len(md) == 2 && len(md[0].StandbyTasks) == 1 && len(md[1].StandbyTasks) == 1
	}, "the metadata lists both instances, each with a standby task")
	md := streams.AllMetadata(a.app)
	require.Equal(t, "a:1", md[0].Server)
	require.Contains(t, md[0].ActiveTasks, bStandby)
	require.Equal(t, []processor.TaskID{bActive}, md[0].StandbyTasks)
	require.Equal(t, []string{"counts"}, md[0].StandbyStores)
	require.Equal(t, "b:2", md[1].Server)
	require.Contains(t, md[1].ActiveTasks, bActive)
	require.Equal(t, []processor.TaskID{bStandby}, md[1].StandbyTasks)
	forStore, err := streams.MetadataForStore(a.app, "counts")
	require.NoError(t, err)
	require.Len(t, forStore, 2)
	for i := range 100 {
		key := fmt.Sprintf("k%03d", i)
		m, err := streams.QueryMetadataForKey(b.app, "counts", key, serde.String())
		require.NoError(t, err)
		want := map[bool][2]string{true: {"b:2", "a:1"}, false: {"a:1", "b:2"}}[m.Task == bActive]
		require.Equal(t, want[0], m.Server, key)
		require.Equal(t, []string{want[1]}, m.Standbys, key)
		require.Equal(t, m.Task == bActive, m.Local, key)
		require.Equal(t, m.Task == bStandby, m.LocalStandby, key)
	}

	// B's queries: the active task's counts alone by default, both with
	// StaleStores (the standby's copy too), one partition when asked.
	produce(2000)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	var stale map[string]int64
	until(t, 30*time.Second, func() bool {
		stale = countsOf(t, b.app, streams.QueryOptions{StaleStores: true})
		for _, n := range stale {
			if n != 40 {
				return false
			}
		}
		return len(stale) == 100
	}, "the standby follows the active's changelog: %v", stale)
	mine := countsOf(t, b.app)
	require.NotEmpty(t, mine)
	require.Less(t, len(mine), 100, "without StaleStores only B's active task is read")
	onlyStandby := countsOf(t, b.app, streams.QueryOptions{StaleStores: true, Partitions: []int32{bStandby.Partition}})
	require.Len(t, onlyStandby, 100-len(mine))
	lags, err := b.app.LagInfo(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, streams.Active, lags["counts"][bActive.Partition].Kind)
	require.Equal(t, streams.Standby, lags["counts"][bStandby.Partition].Kind)
	require.Zero(t, lags["counts"][bStandby.Partition].Lag, "caught up: %+v", lags["counts"][bStandby.Partition])
	require.Positive(t, lags["counts"][bStandby.Partition].EndOffset)

	// A leaves: its task goes to B's standby, which lacks only the tail.
	produce(2000)
	require.NoError(t, a.stop(t))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	until(t, 30*time.Second, func() bool {
		k := kinds(t, b.app)
		return k[bActive] == streams.Active && k[bStandby] == streams.Active
	}, "B runs both tasks")
	require.Less(t, lb.restoredRecords(), int64(60), "B restored the tail of a 3000-record changelog, not all of it")
	produce(2000)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	require.NoError(t, b.stop(t))
	counts := latestCounts(t, c, appID)
	require.Len(t, counts, 100)
	for k, n := range counts {
		require.Equal(t, int64(80), n, k)
	}
}

// until calls cond on the test's goroutine (so that cond may use require)
// every 20 ms until it holds, failing the test with msg after timeout.
func until(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
