package streams_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
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
	}
	if l != nil {
		cfg.RestoreListener = l
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

// marking writes each record's value to the store "marks" under its key,
// with a number no other write gets: a write of an aborted transaction
// leaves a value no committed transaction has.
func marking(t *testing.T, seq *atomic.Int64) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "mark", func() processor.Processor[string, string, string, string] { return &marker{seq: seq} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("marks"), serde.String(), serde.String()), "mark")
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

type marker struct {
	seq *atomic.Int64
	st  state.KeyValueStore[string, string]
}

func (m *marker) Init(ctx processor.Context[string, string]) error {
	var err error
	m.st, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, "marks")
	return err
}

func (m *marker) Process(rec processor.Record[string, string]) error {
	return m.st.Put(rec.Key, fmt.Sprintf("%s#%d", rec.Value, m.seq.Add(1)))
}

func (m *marker) Close() error { return nil }

// changelogValues reads a changelog with the given isolation: every value
// written, and each key's last.
func changelogValues(t *testing.T, addrs []string, topic string, committed bool) (all map[string]bool, last map[string]string) {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	all, last = map[string]bool{}, map[string]string{}
	for {
		ctx, cancel := context.WithTimeout(ctxT(t), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return all, last
		}
		fs.EachRecord(func(r *kgo.Record) {
			all[string(r.Value)] = true
			last[string(r.Key)] = string(r.Value)
		})
	}
}

// Under exactly-once a standby reads its changelogs read_committed: the
// writes of transactions that aborted (here: the offset commit fails, so
// the transaction that already sent its changelog records aborts) are in
// the changelog but never in a standby's store, which ends equal to the
// committed changelog.
func TestStandbyNeverAppliesAnAbortedWrite(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	const appID = "standby-eos"
	// Fewer faults than a thread's limit of aborts in a row (10): with 12,
	// an instance that drew ten in a row failed, leaving no standby to
	// watch (the test's flake).
	h := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RebalanceInProgress, Count: 8})
	var seq atomic.Int64
	apps := map[string]*running{}
	for _, server := range []string{"a:1", "b:2"} {
		cfg := standbyConfig(t, c, appID, server, nil)
		cfg.Guarantee = eos.ExactlyOnce
		cfg.CommitInterval = 20 * time.Millisecond
		apps[server] = start(t, marking(t, &seq), cfg)
	}
	until(t, 30*time.Second, func() bool {
		n := 0
		for _, r := range apps {
			ls, err := streams.LocalStores(r.app, "marks", streams.QueryOptions{StaleStores: true})
			require.NoError(t, err)
			n += len(ls)
		}
		return n == 4
	}, "two tasks, each active on one instance and standby on the other")
	// Watch the standbys' stores while the input comes, round by round:
	// every value they ever show.
	seen := map[string]string{} // value -> where
	var seenMu sync.Mutex
	var standbyReads, queryErrors []string // what the watcher found, for a failure's message
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for server, r := range apps {
				ls, _ := streams.LocalStores(r.app, "marks", streams.QueryOptions{StaleStores: true})
				for _, l := range ls {
					if l.Kind != streams.Standby {
						continue
					}
					q, err := streams.QueryKeyValue[string, string](r.app, "marks", streams.QueryOptions{StaleStores: true, Partitions: []int32{l.Partition}})
					seenMu.Lock()
					standbyReads = append(standbyReads, server+" "+l.Task.String())
					if err != nil {
						queryErrors = append(queryErrors, err.Error())
					}
					seenMu.Unlock()
					if err != nil {
						continue
					}
					for kv, err := range q.All() {
						if err != nil {
							seenMu.Lock()
							queryErrors = append(queryErrors, err.Error())
							seenMu.Unlock()
							break
						}
						seenMu.Lock()
						seen[kv.Value] = server + " " + l.Task.String() + " " + kv.Key
						seenMu.Unlock()
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for round := range 40 {
		vs := make([]*kgo.Record, 0, 50)
		for k := range 50 {
			vs = append(vs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%02d", k), Value: fmt.Appendf(nil, "r%d", round)})
		}
		require.NoError(t, c.Produce(ctxT(t), vs...))
		time.Sleep(30 * time.Millisecond)
	}
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
	time.Sleep(300 * time.Millisecond)
	// A standby reads read_committed: a transaction the fault left open
	// holds it back until the broker aborts it (TransactionTimeout), so
	// keep watching until it has shown what committed.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seenMu.Lock()
		n := len(seen)
		seenMu.Unlock()
		if n > 0 {
			break
		}
	}
	close(stop)
	<-watched
	require.Positive(t, h.Hits(), "the fault fired")

	changelog := streams.ChangelogTopic(appID, "marks")
	committed, latest := changelogValues(t, c.Addrs(), changelog, true)
	written, _ := changelogValues(t, c.Addrs(), changelog, false)
	aborted := 0
	for v := range written {
		if !committed[v] {
			aborted++
		}
	}
	require.Positive(t, aborted, "an aborted transaction left changelog records")
	require.Len(t, latest, 50)
	require.NotEmpty(t, seen, "standby reads: %d (last: %v); errors: %d (last: %v)", len(standbyReads), lastOf(standbyReads), len(queryErrors), lastOf(queryErrors))
	for v, where := range seen {
		require.True(t, committed[v], "standby (%s) showed %s, which no committed transaction wrote", where, v)
	}

	var aborts int64
	for server, r := range apps {
		aborts += r.app.Metrics().Aborts
		ls, err := streams.LocalStores(r.app, "marks", streams.QueryOptions{StaleStores: true})
		require.NoError(t, err)
		for _, l := range ls {
			if l.Kind != streams.Standby {
				continue
			}
			q, err := streams.QueryKeyValue[string, string](r.app, "marks", streams.QueryOptions{StaleStores: true, Partitions: []int32{l.Partition}})
			require.NoError(t, err)
			until(t, 10*time.Second, func() bool {
				n, same := 0, true
				for kv, err := range q.All() {
					require.NoError(t, err)
					require.True(t, committed[kv.Value], "%s: standby %s holds %s=%s, which no committed transaction wrote", server, l.Task, kv.Key, kv.Value)
					same = same && kv.Value == latest[kv.Key]
					n++
				}
				return same && n > 0
			}, "%s: standby %s ends equal to the committed changelog", server, l.Task)
		}
	}
	require.Positive(t, aborts, "transactions aborted")
	for _, r := range apps {
		require.NoError(t, r.stop(t))
	}
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
