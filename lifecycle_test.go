package streams_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// Two instances of one app on one state directory would overwrite each
// other's stores (and, under exactly-once, share transactional ids): the
// second fails at start, naming the directory, and leaves the first alone.
// Once the first has stopped, the directory is free again.
func TestSecondInstanceOnTheSameStateDirFailsAtStart(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 2))
	const appID = "same-dir"
	cfg := config(t, c, appID)
	appDir := filepath.Join(cfg.StateDir, appID)

	first := start(t, tagger("first"), cfg)
	require.Eventually(t, func() bool { return first.app.State() == streams.Running }, 20*time.Second, 10*time.Millisecond,
		"the first instance runs, so it holds the directory")

	second := mustApp(t, tagger("second"), cfg)
	err := second.Run(ctxT(t))
	require.ErrorIs(t, err, streams.ErrStateDirLocked)
	require.ErrorContains(t, err, appDir, "the error names the directory")
	require.Equal(t, streams.Error, second.State())

	produceValues(t, c, "in", true, values(50, "v")...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
	out := outputByValue(t, c)
	require.Len(t, out, 50)
	for v, where := range out {
		require.Len(t, where, 1, v)
		require.True(t, strings.HasPrefix(where[0], "first/"), "%s was processed by %s", v, where[0])
	}
	require.Equal(t, streams.Running, first.app.State(), "the second instance's failure did not touch the first")
	select {
	case err := <-first.errs:
		t.Fatalf("the first instance stopped: %v", err)
	default:
	}
	require.NoError(t, first.stop(t))

	third := start(t, tagger("third"), cfg)
	produceValues(t, c, "in", true, values(50, "w")...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
	require.NoError(t, third.stop(t), "the directory is free once the first instance stopped")
	out = outputByValue(t, c)
	for _, v := range values(50, "w") {
		require.Len(t, out[v], 1, v)
		require.True(t, strings.HasPrefix(out[v][0], "third/"), "%s was processed by %s", v, out[v][0])
	}
}

// CleanUp removes <StateDir>/<ApplicationID> when nobody uses it: before
// Run (a missing directory is fine), after Run returned; not while the app
// runs (ErrRunning), nor while another instance runs on the directory
// (ErrStateDirLocked).
func TestCleanUp(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	const appID = "persist" // persistentCounting's changelog is persist-counts-changelog

	missing := config(t, c, appID)
	missing.StateDir = filepath.Join(missing.StateDir, "never-made")
	require.NoError(t, mustApp(t, persistentCounting(t), missing).CleanUp(), "before Run, on a directory that does not exist")
	require.NoDirExists(t, missing.StateDir, "CleanUp makes nothing")

	cfg := config(t, c, appID)
	appDir := filepath.Join(cfg.StateDir, appID)
	stores := []string{filepath.Join(appDir, "0_0", "rocksdb", "counts"), filepath.Join(appDir, "0_1", "rocksdb", "counts")}
	r := start(t, persistentCounting(t), cfg)
	produceValues(t, c, "in", true, values(40, "k")...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
	for _, dir := range stores {
		require.FileExists(t, filepath.Join(dir, "CURRENT"), "the task's RocksDB store is on disk")
	}
	require.ErrorIs(t, r.app.CleanUp(), streams.ErrRunning)
	for _, dir := range stores {
		require.FileExists(t, filepath.Join(dir, "CURRENT"), "CleanUp while running removed nothing")
	}
	require.NoError(t, r.stop(t))
	require.FileExists(t, filepath.Join(appDir, "0_0", ".checkpoint"), "a clean close wrote the checkpoints")

	// Another instance on the directory: the first cannot clean it up.
	other := start(t, persistentCounting(t), cfg)
	require.Eventually(t, func() bool { return other.app.State() == streams.Running }, 20*time.Second, 10*time.Millisecond)
	err := r.app.CleanUp()
	require.ErrorIs(t, err, streams.ErrStateDirLocked)
	require.ErrorContains(t, err, appDir)
	for _, dir := range stores {
		require.DirExists(t, dir, "a refused CleanUp removed nothing")
	}
	require.NoError(t, other.stop(t))

	require.NoError(t, r.app.CleanUp(), "after Run returned")
	require.NoDirExists(t, appDir)
	require.DirExists(t, cfg.StateDir, "only the app's own directory goes")
	require.NoError(t, r.app.CleanUp(), "again, on the directory now missing")

	// The next run restores the stores from their changelogs.
	l := &listener{}
	cfg.RestoreListener = l
	again := start(t, persistentCounting(t), cfg)
	produceValues(t, c, "in", true, "k0000")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
	require.NoError(t, again.stop(t))
	require.Positive(t, l.restoredRecords(), "with its directory gone the app restored its stores")
}

// stateChange is one call of Config.OnStateChange.
type stateChange struct{ from, to streams.State }

func (s stateChange) String() string { return s.from.String() + "→" + s.to.String() }

// stateLog records the calls of Config.OnStateChange, from any goroutine.
type stateLog struct {
	mu      sync.Mutex
	changes []stateChange
}

func (l *stateLog) record(from, to streams.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, stateChange{from, to})
}

func (l *stateLog) get() []stateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.changes)
}

// appTransitions are the transitions lifecycle.go documents.
var appTransitions = map[streams.State][]streams.State{
	streams.Created:         {streams.Rebalancing, streams.PendingShutdown, streams.PendingError},
	streams.Rebalancing:     {streams.Running, streams.PendingShutdown, streams.PendingError},
	streams.Running:         {streams.Rebalancing, streams.PendingShutdown, streams.PendingError},
	streams.PendingShutdown: {streams.NotRunning},
	streams.PendingError:    {streams.Error},
}

// requireValidChanges checks that changes start at Created, that each
// starts where the one before ended and that each is a documented
// transition.
func requireValidChanges(t *testing.T, changes []stateChange) {
	t.Helper()
	require.NotEmpty(t, changes)
	require.Equal(t, streams.Created, changes[0].from, "%v", changes)
	for i, ch := range changes {
		require.Contains(t, appTransitions[ch.from], ch.to, "change %d, %v, is not a documented transition: %v", i, ch, changes)
		if i > 0 {
			require.Equal(t, changes[i-1].to, ch.from, "change %d does not start where change %d ended: %v", i, i-1, changes)
		}
	}
}

// App.State and Config.OnStateChange through a clean stop and a failure.
//
// Bug: runtime.threadStateChanged counted a stream thread on its way out
// (PendingShutdown) as "not running" and moved a Running app to
// Rebalancing. A failed thread does so before the supervisor hears of the
// failure, so a failing app always showed Running→Rebalancing→PendingError;
// on a clean stop the thread races the supervisor's PendingShutdown, so the
// app showed Running→Rebalancing→PendingShutdown about every other run.
// Nothing rebalanced in either case.
func TestStateChanges(t *testing.T) {
	t.Parallel()
	t.Run("clean stop", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
		require.NoError(t, c.CreateTopic(ctxT(t), "out", 2))
		var l stateLog
		cfg := config(t, c, "states")
		cfg.OnStateChange = l.record
		app := mustApp(t, tagger("x"), cfg)
		require.Equal(t, streams.Created, app.State())
		require.Empty(t, l.get())

		r := run(t, app)
		require.Eventually(t, func() bool { return app.State() == streams.Running }, 20*time.Second, 10*time.Millisecond)
		produceValues(t, c, "in", true, values(20, "v")...)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "states", "in"))
		require.Equal(t, streams.Running, app.State())
		require.NoError(t, r.stop(t))
		require.Equal(t, streams.NotRunning, app.State())

		got := l.get()
		requireValidChanges(t, got)
		require.Equal(t, stateChange{streams.Created, streams.Rebalancing}, got[0], "%v", got)
		require.Contains(t, got, stateChange{streams.Rebalancing, streams.Running}, "%v", got)
		// Stopped while Running, with no rebalance under way: the app goes
		// straight to PendingShutdown.
		require.Equal(t, []stateChange{{streams.Running, streams.PendingShutdown}, {streams.PendingShutdown, streams.NotRunning}},
			got[len(got)-2:], "%v", got)
		for _, ch := range got {
			require.NotContains(t, []streams.State{streams.PendingError, streams.Error}, ch.to, "%v", got)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
		topo := failsOnBad(t)
		var l stateLog
		cfg := config(t, c, "states-fail")
		cfg.OnStateChange = l.record
		app := mustApp(t, topo, cfg)
		require.Equal(t, streams.Created, app.State())

		r := run(t, app)
		require.Eventually(t, func() bool { return app.State() == streams.Running }, 20*time.Second, 10*time.Millisecond)
		produceValues(t, c, "in", false, "ok", "bad")
		err := r.wait(t)
		require.ErrorContains(t, err, "cannot handle bad")
		var pe *processor.ProcessingError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, streams.Error, app.State())

		got := l.get()
		requireValidChanges(t, got)
		require.Equal(t, stateChange{streams.Created, streams.Rebalancing}, got[0], "%v", got)
		require.Contains(t, got, stateChange{streams.Rebalancing, streams.Running}, "%v", got)
		// The record failed while the app was Running, with no rebalance
		// under way: the app goes straight to PendingError, as in Kafka
		// Streams (a stream thread's death is not a rebalance).
		require.Equal(t, []stateChange{{streams.Running, streams.PendingError}, {streams.PendingError, streams.Error}},
			got[len(got)-2:], "%v", got)
		for _, ch := range got {
			require.NotContains(t, []streams.State{streams.PendingShutdown, streams.NotRunning}, ch.to, "%v", got)
		}
	})
}

// failingTagger is tagger(instance) whose processor, once armed, fails on
// the next record it gets (once), counting the failure in fired.
func failingTagger(instance string, armed *atomic.Bool, fired *atomic.Int64) *topology.Topology {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	tag := topology.AddProcessor(b, "tag", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		if armed.CompareAndSwap(true, false) {
			fired.Add(1)
			return fmt.Errorf("injected failure on %s", rec.Value)
		}
		return ctx.Forward(rec.WithValue(rec.Value + "@" + instance + "/" + ctx.TaskID().String()))
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, tag)
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}
	return topo
}

// uncaught counts the calls of an OnUncaughtError handler and keeps their
// errors.
type uncaught struct {
	answer streams.UncaughtErrorResponse
	mu     sync.Mutex
	errs   []error
}

func (u *uncaught) handle(err error) streams.UncaughtErrorResponse {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.errs = append(u.errs, err)
	return u.answer
}

func (u *uncaught) got() []error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.errs)
}

// failingPair is two instances, A and B, of one app on "in" (4 partitions)
// writing "out". A's processor fails once armed; B's never does.
type failingPair struct {
	c                    *embedded.Cluster
	appID                string
	a, b                 *running
	armed                atomic.Bool
	fired                atomic.Int64
	aUncaught, bUncaught *uncaught
	// produced is every value produced to "in".
	produced []string
}

// startFailingPair starts A, whose OnUncaughtError answers answer, and B,
// whose answers ShutdownClient and is never to be asked. It produces until
// both instances process records, then arms A and produces more, over all
// four partitions, and returns once A's processor has failed on the first
// of them it got.
func startFailingPair(t *testing.T, appID string, answer streams.UncaughtErrorResponse) *failingPair {
	t.Helper()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 4))
	p := &failingPair{c: c, appID: appID, aUncaught: &uncaught{answer: answer}, bUncaught: &uncaught{answer: streams.ShutdownClient}}
	t.Cleanup(func() { require.Empty(t, p.bUncaught.got(), "B's threads never failed") })
	cfgA := config(t, c, appID)
	cfgA.OnUncaughtError = p.aUncaught.handle
	p.a = start(t, failingTagger("A", &p.armed, &p.fired), cfgA)
	cfgB := config(t, c, appID)
	cfgB.OnUncaughtError = p.bUncaught.handle
	p.b = start(t, tagger("B"), cfgB)

	warm := values(400, "warm-")
	require.Eventually(t, func() bool {
		batch := warm[:20]
		warm = warm[20:]
		p.produce(t, batch...)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"))
		out := outputByValue(t, c)
		var sawA, sawB bool
		for _, v := range batch {
			for _, where := range out[v] {
				sawA = sawA || strings.HasPrefix(where, "A/")
				sawB = sawB || strings.HasPrefix(where, "B/")
			}
		}
		return sawA && sawB || len(warm) == 0
	}, 30*time.Second, 10*time.Millisecond)
	require.NotEmpty(t, warm, "both instances process records")
	require.Zero(t, p.fired.Load())

	p.armed.Store(true)
	p.produce(t, values(40, "failing-")...)
	require.Eventually(t, func() bool { return p.fired.Load() == 1 }, 20*time.Second, 5*time.Millisecond, "A's processor failed")
	return p
}

func (p *failingPair) produce(t *testing.T, vs ...string) {
	t.Helper()
	produceValues(t, p.c, "in", true, vs...)
	p.produced = append(p.produced, vs...)
}

// requireAskedOnce checks that A's OnUncaughtError was asked once, about
// the injected failure.
func (p *failingPair) requireAskedOnce(t *testing.T) {
	t.Helper()
	errs := p.aUncaught.got()
	require.Len(t, errs, 1, "A's OnUncaughtError was asked once: %v", errs)
	require.ErrorContains(t, errs[0], "injected failure on failing-")
	var pe *processor.ProcessingError
	require.ErrorAs(t, errs[0], &pe)
}

// requireAllProcessed waits until the group committed all of "in" and
// checks that every value produced was processed, at least once (a failed
// thread's uncommitted records are processed again by the tasks' next
// owner).
func (p *failingPair) requireAllProcessed(t *testing.T) map[string][]string {
	t.Helper()
	require.NoError(t, p.c.WaitCaughtUp(ctxT(t), p.appID, "in"))
	out := outputByValue(t, p.c)
	for _, v := range p.produced {
		require.NotEmpty(t, out[v], "%s was never processed", v)
	}
	require.Len(t, out, len(p.produced), "nothing but the input came out")
	return out
}

func requireStillRunning(t *testing.T, r *running, name string) {
	t.Helper()
	select {
	case err := <-r.errs:
		t.Fatalf("%s's Run returned: %v", name, err)
	default:
	}
}

// The three answers of OnUncaughtError, with two instances of one app and a
// failure on one of them.
func TestOnUncaughtError(t *testing.T) {
	t.Parallel()
	t.Run("ReplaceThread", func(t *testing.T) {
		t.Parallel()
		p := startFailingPair(t, "replace", streams.ReplaceThread)
		require.Eventually(t, func() bool { return p.a.app.Metrics().ThreadsReplaced == 1 }, 20*time.Second, 5*time.Millisecond)
		requireStillRunning(t, p.a, "A")
		requireStillRunning(t, p.b, "B")

		// A's new thread takes tasks again and processes.
		more := values(400, "after-")
		require.Eventually(t, func() bool {
			batch := more[:20]
			more = more[20:]
			p.produce(t, batch...)
			out := p.requireAllProcessed(t)
			for _, v := range batch {
				for _, where := range out[v] {
					if strings.HasPrefix(where, "A/") {
						return true
					}
				}
			}
			return len(more) == 0
		}, 30*time.Second, 10*time.Millisecond)
		require.NotEmpty(t, more, "A's replacement thread processes records")
		p.requireAllProcessed(t)
		require.Eventually(t, func() bool { return p.a.app.State() == streams.Running }, 20*time.Second, 10*time.Millisecond,
			"A runs again with its new thread")
		require.Equal(t, streams.Running, p.b.app.State(), "B was not affected")
		requireStillRunning(t, p.a, "A")
		requireStillRunning(t, p.b, "B")
		p.requireAskedOnce(t)
		require.Equal(t, int64(1), p.a.app.Metrics().ThreadsReplaced)
		require.Zero(t, p.b.app.Metrics().ThreadsReplaced)
		require.NoError(t, p.a.stop(t))
		require.NoError(t, p.b.stop(t))
	})
	t.Run("ShutdownClient", func(t *testing.T) {
		t.Parallel()
		p := startFailingPair(t, "shutdown-client", streams.ShutdownClient)
		err := p.a.wait(t)
		require.ErrorContains(t, err, "injected failure on failing-")
		var pe *processor.ProcessingError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, streams.Error, p.a.app.State())
		require.Zero(t, p.a.app.Metrics().ThreadsReplaced)
		p.requireAskedOnce(t)

		// B takes A's tasks over: everything after is B's.
		after := values(100, "after-")
		p.produce(t, after...)
		out := p.requireAllProcessed(t)
		for _, v := range after {
			for _, where := range out[v] {
				require.True(t, strings.HasPrefix(where, "B/"), "%s was processed by %s after A stopped", v, where)
			}
		}
		tasks := map[string]bool{}
		for _, v := range after {
			tasks[strings.TrimPrefix(out[v][0], "B/")] = true
		}
		require.Len(t, tasks, 4, "B runs all four tasks: %v", tasks)
		require.Equal(t, streams.Running, p.b.app.State())
		requireStillRunning(t, p.b, "B")
		require.NoError(t, p.b.stop(t))
	})
	t.Run("ShutdownApplication", func(t *testing.T) {
		t.Parallel()
		p := startFailingPair(t, "shutdown-app", streams.ShutdownApplication)
		errA := p.a.wait(t)
		require.ErrorContains(t, errA, "injected failure on failing-")
		errB := p.b.wait(t)
		require.ErrorIs(t, errB, streams.ErrApplicationShutdown, "B stopped because A asked every instance to")
		require.Equal(t, streams.Error, p.a.app.State())
		require.Equal(t, streams.Error, p.b.app.State())
		p.requireAskedOnce(t)
		require.Zero(t, p.a.app.Metrics().ThreadsReplaced)
	})
}

// Under exactly-once, a thread that failed in the middle of the input and
// was replaced (ReplaceThread) leaves no trace in the output: its open
// transaction is aborted and its tasks' next owner redoes the work from
// the last commit, exactly once.
func TestExactlyOnceReplacedThreadKeepsTheOutputExact(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	eosTopics(t, c)
	const appID = "eos-replace"
	eosInput(t, c, 0, 300, 20)
	var failAt atomic.Int64
	failAt.Store(150)
	u := &uncaught{answer: streams.ReplaceThread}
	cfg := eosConfig(t, c, appID)
	cfg.CommitInterval = 20 * time.Millisecond
	cfg.NumStreamThreads = 2
	cfg.OnUncaughtError = u.handle
	r := start(t, eosTopology(t, &failAt), cfg)
	require.Eventually(t, func() bool { return r.app.Metrics().ThreadsReplaced == 1 }, 20*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(-1), failAt.Load(), "the failure fired")
	eosInput(t, c, 300, 300, 20)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", streams.RepartitionTopic(appID, "by-key")))
	requireStillRunning(t, r, "the app")
	require.NoError(t, r.stop(t))

	errs := u.got()
	require.Len(t, errs, 1, "%v", errs)
	require.ErrorContains(t, errs[0], "injected failure at value 150")
	m := r.app.Metrics()
	require.Equal(t, int64(1), m.ThreadsReplaced)
	require.Zero(t, m.ThreadRestarts, "the thread was replaced, not restarted")
	verifyExactlyOnce(t, c, appID)
}
