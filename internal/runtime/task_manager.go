package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
)

// TaskManager owns the tasks of one stream thread, as Kafka Streams'
// TaskManager: it makes them when the group assigns their partitions,
// gives them up when it revokes or loses them, restores them through its
// ChangelogReader, and runs and commits them for the thread's loop.
//
// Everything it holds is behind mu, which the loop and the rebalance
// callbacks (on franz-go's goroutine) take: the tasks, the changelog
// reader's restorations and the committer's state. A revocation has one
// path, whenever it comes: the committer commits what it can of the tasks
// (release), and they are closed, clean or not.
type TaskManager struct {
	// sensors are the thread's metrics.
	sensors *threadSensors
	rt      *Runtime
	idx     int
	log     *slog.Logger
	client  GroupClient
	coll    *RecordCollector
	reader  *ChangelogReader
	commit  committer
	// thread is told of the rebalance callbacks, for its state.
	thread *StreamThread
	raw    graph.RawRecord
	// ready is closed once the thread is built: franz-go joins the group
	// inside kgo.NewClient, so a callback may come before.
	ready chan struct{}
	// heldSnap is what the thread holds, as publishHeld last saw it.
	heldSnap atomic.Pointer[heldTasks]
	// pending is what the last assignment said of the standbys, until the
	// loop applies it.
	pending atomic.Pointer[pendingStandbys]

	mu struct {
		sync.Mutex
		tasks map[processor.TaskID]*task.Task
		byTP  map[TopicPartition]*task.Task
		// inputs are each task's input partitions; paused, those of
		// restoring tasks whose input is paused.
		inputs map[processor.TaskID]map[string][]int32
		paused map[processor.TaskID]bool
		// locks hold the task directories.
		locks map[processor.TaskID]*dirLock
		// fatal is an error a callback hit; the loop returns it.
		fatal error
		// standbys are the thread's standby tasks (Kafka Streams'
		// StandbyTask): open stores, no processors, kept up to date from
		// their changelogs by the reader. wanted is the set the last
		// assignment gave the thread, which the loop makes so
		// (reconcileStandbys).
		standbys map[processor.TaskID]*task.Task
		wanted   map[processor.TaskID]bool
		// incoming are the tasks the last assignment gave the thread as
		// active: their standbys wait for OnAssigned to promote them.
		incoming map[processor.TaskID]bool
		// probeAt, if set, is when the thread asks for a probing
		// rebalance: warm-up replicas are catching up.
		probeAt time.Time
	}
}

func newTaskManager(rt *Runtime, idx int, log *slog.Logger) *TaskManager {
	tm := &TaskManager{rt: rt, idx: idx, log: log, ready: make(chan struct{}),
		sensors: newThreadSensors(rt.cfg.Metrics, rt.cfg.ApplicationID, idx)}
	tm.mu.tasks = map[processor.TaskID]*task.Task{}
	tm.mu.byTP = map[TopicPartition]*task.Task{}
	tm.mu.inputs = map[processor.TaskID]map[string][]int32{}
	tm.mu.paused = map[processor.TaskID]bool{}
	tm.mu.locks = map[processor.TaskID]*dirLock{}
	tm.mu.standbys = map[processor.TaskID]*task.Task{}
	tm.mu.wanted = map[processor.TaskID]bool{}
	tm.mu.incoming = map[processor.TaskID]bool{}
	return tm
}

// OnAssigned is the group's OnPartitionsAssigned: it makes the tasks of
// newly assigned partitions and starts restoring their stores.
func (tm *TaskManager) OnAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	<-tm.ready
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.thread.setState(ThreadPartitionsAssigned)
	if err := tm.assign(ctx, assigned); err != nil && tm.mu.fatal == nil {
		tm.mu.fatal = err
	}
	tm.publishHeld()
	// The loop restores between polls and moves the thread to Running.
	tm.thread.wake()
}

func (tm *TaskManager) assign(ctx context.Context, assigned map[string][]int32) error {
	var created, promoted []*task.Task
	for _, topic := range sortedKeys(assigned) {
		sub, ok := tm.rt.subtopologyOf(topic)
		if !ok {
			return fmt.Errorf("streams: thread %d: assigned topic %q, which no source reads", tm.idx, topic)
		}
		for _, p := range assigned[topic] {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			tk := tm.mu.tasks[id]
			if tk == nil && tm.mu.standbys[id] != nil {
				// Its standby becomes the active task: its stores lack only
				// the changelogs' tail.
				tk = tm.mu.standbys[id]
				delete(tm.mu.standbys, id)
				tm.mu.tasks[id] = tk
				promoted = append(promoted, tk)
				tm.hook(tm.rt.cfg.Hooks.TaskRestoring, tk)
				tm.log.Info("task assigned; promoting its standby", "task", id.String())
			}
			if tk == nil {
				var err error
				if tk, err = tm.newTask(id); err != nil {
					return err
				}
				created = append(created, tk)
				tm.hook(tm.rt.cfg.Hooks.TaskRestoring, tk)
				tm.log.Info("task assigned", "task", id.String())
			}
			if tm.mu.inputs[id] == nil {
				tm.mu.inputs[id] = map[string][]int32{}
			}
			tm.mu.inputs[id][topic] = append(tm.mu.inputs[id][topic], p)
			tm.mu.byTP[TopicPartition{Topic: topic, Partition: p}] = tk
		}
	}
	for _, tk := range slices.Concat(created, promoted) {
		register := tm.reader.Register
		if slices.Contains(promoted, tk) {
			register = tm.reader.Promote
		}
		done, err := register(ctx, tk)
		if err != nil {
			return err
		}
		if done {
			if err := tm.restored(tk); err != nil {
				return err
			}
		}
	}
	return nil
}

// newTask makes and opens an active task: its directory locked, its
// stores open.
func (tm *TaskManager) newTask(id processor.TaskID) (*task.Task, error) {
	tk, err := tm.openTask(id, lockTaskDir)
	if err == nil {
		tm.mu.tasks[id] = tk
	}
	return tk, err
}

// openTask makes and opens a task, its directory locked with lock.
func (tm *TaskManager) openTask(id processor.TaskID, lock func(string) (*dirLock, error)) (*task.Task, error) {
	rt := tm.rt
	dir := filepath.Join(rt.appDir, id.String())
	if len(rt.prog.Subtopologies[id.Subtopology].Stores) > 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("streams: task %s: state directory: %w", id, err)
		}
		l, err := lock(dir)
		if err != nil {
			return nil, fmt.Errorf("streams: task %s: %w", id, err)
		}
		tm.mu.locks[id] = l
	}
	tk, err := task.New(task.Config{
		ID: id, ApplicationID: rt.cfg.ApplicationID, StateDir: dir, Program: rt.prog, Collector: tm.coll,
		CacheMaxBytes: rt.cfg.StoreCacheMaxBytes,
		Transactional: !tm.commit.bufferWhileRestoring(),
		Dropped:       func(string) { rt.metrics.Dropped.Add(1) },
		Logger:        tm.log,
		Globals:       rt.global.views(),
		Metrics:       rt.cfg.Metrics, ThreadID: tm.sensors.id,
		Punctuate: tm.sensors.punctuateLatency, Punctuations: tm.sensors.punctuate,
	})
	if err == nil {
		err = tk.Init()
	}
	if err != nil {
		if tk != nil {
			tk.RemoveSensors()
		}
		tm.unlockDir(id)
		return nil, err
	}
	tm.sensors.taskCreated.Inc()
	return tk, nil
}

// setStandbys records the standby tasks an assignment gave the thread
// and the tasks it runs from now on (their standbys are kept for
// OnAssigned to promote); the loop opens and closes standbys as it says
// (reconcileStandbys). With probe, the first thread asks for a probing
// rebalance after Config.ProbingRebalanceInterval, so that warm-ups that
// caught up get their tasks (one thread per instance is enough: any
// member's rejoin rebalances the whole group).
//
// It runs on franz-go's group goroutine inside the sync, where franz-go
// holds the group's lock, which a commit of the loop waits for: it must
// not take mu, which the loop holds while it commits. It hands the sets
// over instead.
func (tm *TaskManager) setStandbys(ids, actives []processor.TaskID, probe bool) {
	p := &pendingStandbys{wanted: map[processor.TaskID]bool{}, incoming: map[processor.TaskID]bool{}}
	for _, id := range ids {
		p.wanted[id] = true
	}
	for _, id := range actives {
		p.incoming[id] = true
	}
	if probe && tm.idx == 0 {
		p.probeAt = time.Now().Add(tm.rt.cfg.ProbingRebalanceInterval)
	}
	tm.pending.Store(p)
	tm.thread.wake()
}

// pendingStandbys is what the last assignment said of the thread's
// standbys, for the loop to apply.
type pendingStandbys struct {
	wanted, incoming map[processor.TaskID]bool
	probeAt          time.Time
}

// applyPending takes what the last assignment said of the standbys, once.
// The caller holds mu.
func (tm *TaskManager) applyPending() {
	p := tm.pending.Swap(nil)
	if p == nil {
		return
	}
	tm.mu.wanted, tm.mu.incoming, tm.mu.probeAt = p.wanted, p.incoming, p.probeAt
}

// heldTasks is what a thread holds, for its subscription.
type heldTasks struct {
	standbys  []taskKey
	positions map[taskKey]int64
	at        time.Time
}

// held returns, for the thread's subscription, its standby tasks and the
// positions of the tasks whose state it has (publishHeld). It runs on
// franz-go's group goroutine, in the join, and so must not take mu: the
// loop may hold mu in a commit that waits for the join to end.
func (tm *TaskManager) held() ([]taskKey, map[taskKey]int64) {
	h := tm.heldSnap.Load()
	if h == nil {
		return nil, map[taskKey]int64{}
	}
	return slices.Clone(h.standbys), maps.Clone(h.positions)
}

// publishHeld works out what held returns: the standby tasks, and per task
// whose state the thread has, caughtUp for a running active task, else
// the sum of the offsets of its followed changelogs. The caller holds mu.
func (tm *TaskManager) publishHeld() {
	positions := map[taskKey]int64{}
	sum := func(tk *task.Task) (int64, bool) {
		logs := followed(tk)
		var n int64
		ok := false
		for tp, off := range tm.reader.Positions(tk.ID()) {
			for _, topic := range logs {
				if topic == tp.Topic {
					n, ok = n+off, true
				}
			}
		}
		return n, ok
	}
	for id, tk := range tm.mu.tasks {
		k := taskKey{id.Subtopology, id.Partition}
		if tk.State() == task.Running {
			positions[k] = caughtUp
		} else if n, ok := sum(tk); ok {
			positions[k] = n
		}
	}
	var standbys []taskKey
	for id, tk := range tm.mu.standbys {
		k := taskKey{id.Subtopology, id.Partition}
		standbys = append(standbys, k)
		if n, ok := sum(tk); ok {
			positions[k] = n
		}
	}
	tm.heldSnap.Store(&heldTasks{standbys: standbys, positions: positions, at: time.Now()})
}

// checkpointed returns the positions the checkpoints in the app's state
// directory give (per task, the sum of the offsets of its followed
// changelogs, changelogs), for tasks that no thread has open: an instance
// that restarts, or had a task before, is that far.
func (tm *TaskManager) checkpointed(changelogs map[int][]string) map[taskKey]int64 {
	out := map[taskKey]int64{}
	entries, err := os.ReadDir(tm.rt.appDir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		id, err := processor.ParseTaskID(e.Name())
		if err != nil || !e.IsDir() || len(changelogs[id.Subtopology]) == 0 {
			continue
		}
		cp, err := checkpoint.Read(filepath.Join(tm.rt.appDir, e.Name()))
		if err != nil || len(cp) == 0 {
			continue
		}
		var n int64
		found := false
		for _, topic := range changelogs[id.Subtopology] {
			if off, ok := cp[checkpoint.Partition{Topic: topic, Partition: id.Partition}]; ok {
				n, found = n+off, true
			}
		}
		if found {
			out[taskKey{id.Subtopology, id.Partition}] = n
		}
	}
	return out
}

// probe asks for a probing rebalance once it is due.
func (tm *TaskManager) probe(now time.Time) {
	tm.mu.Lock()
	tm.applyPending()
	due := !tm.mu.probeAt.IsZero() && !now.Before(tm.mu.probeAt)
	if due {
		tm.mu.probeAt = time.Time{}
	}
	tm.mu.Unlock()
	if due {
		tm.log.Info("probing rebalance: warm-up replicas may have caught up")
		tm.client.ForceRebalance()
	}
}

// reconcileStandbys closes the standby tasks the thread no longer has (or
// runs as active tasks now) and opens the new ones. A task directory that
// another thread of the process still holds (its active task is closing)
// is tried again on the next call. The caller holds mu.
func (tm *TaskManager) reconcileStandbys(ctx context.Context) error {
	tm.applyPending()
	for _, id := range slices.SortedFunc(maps.Keys(tm.mu.standbys), CompareTaskIDs) {
		if (!tm.mu.wanted[id] && !tm.mu.incoming[id]) || tm.mu.tasks[id] != nil {
			tm.closeStandby(tm.mu.standbys[id])
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(tm.mu.wanted), CompareTaskIDs) {
		if tm.mu.standbys[id] != nil || tm.mu.tasks[id] != nil || id.Subtopology >= len(tm.rt.prog.Subtopologies) {
			continue
		}
		tk, err := tm.openTask(id, lockDir)
		if errors.Is(err, ErrStateDirLocked) {
			continue
		}
		if err != nil {
			return err
		}
		if err := tm.reader.RegisterStandby(ctx, tk); err != nil {
			tm.reader.Unregister(tk)
			_ = tk.Close()
			tm.unlockDir(id)
			return err
		}
		tm.mu.standbys[id] = tk
		tm.hook(tm.rt.cfg.Hooks.StandbyOpened, tk)
		tm.log.Info("standby task opened", "task", id.String())
	}
	return nil
}

// closeStandby closes a standby task, checkpointing how far its
// persistent stores got. The caller holds mu.
func (tm *TaskManager) closeStandby(tk *task.Task) {
	id := tk.ID()
	tm.hook(tm.rt.cfg.Hooks.StandbyClosing, tk)
	cp := tm.reader.Checkpoint(tk, func(TopicPartition) int64 { return 0 })
	tm.reader.Unregister(tk)
	if err := tk.Close(); err != nil {
		tm.log.Warn("closing standby task", "task", id.String(), "error", err)
		cp = nil
	}
	tm.reader.WriteCheckpoint(tk.StateDir(), cp)
	tm.unlockDir(id)
	delete(tm.mu.standbys, id)
	tm.log.Info("standby task closed", "task", id.String())
}

// positions returns where the thread's tasks are in their changelogs.
func (tm *TaskManager) positions() []TaskPosition {
	select {
	case <-tm.ready:
	default:
		return nil
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var out []TaskPosition
	for _, tk := range tm.allTasks() {
		out = append(out, TaskPosition{Task: tk.ID(), Running: tk.State() == task.Running, Changelogs: maps.Clone(tk.Changelogs()), Positions: tm.reader.Positions(tk.ID())})
	}
	for _, tk := range tm.standbyTasks() {
		out = append(out, TaskPosition{Task: tk.ID(), Standby: true, Changelogs: maps.Clone(tk.Changelogs()), Positions: tm.reader.Positions(tk.ID())})
	}
	return out
}

// hook calls h, one of the optional Hooks, if it is set.
func (tm *TaskManager) hook(h func(*task.Task), tk *task.Task) {
	if h != nil {
		h(tk)
	}
}

// standbyTasks returns the thread's standby tasks, by task order. The
// caller holds mu.
func (tm *TaskManager) standbyTasks() []*task.Task {
	ts := slices.Collect(maps.Values(tm.mu.standbys))
	slices.SortFunc(ts, func(a, b *task.Task) int { return CompareTaskIDs(a.ID(), b.ID()) })
	return ts
}

// restored is called when all of tk's stores caught up: its processors
// start. Its checkpoint is removed: from now on its persistent stores move
// past it, and a crash must not restore them from a stale position onto
// newer contents. A clean close writes a new one.
func (tm *TaskManager) restored(tk *task.Task) error {
	if err := tk.CompleteRestoration(); err != nil {
		return err
	}
	if tm.mu.paused[tk.ID()] {
		tm.client.ResumeFetchPartitions(tm.mu.inputs[tk.ID()])
		delete(tm.mu.paused, tk.ID())
	}
	tm.rt.cfg.Hooks.TaskRunning(tk)
	if len(tk.Changelogs()) > 0 {
		tm.log.Info("task restored; processing", "task", tk.ID().String())
	}
	if tk.StateDir() == "" || len(tk.StoreNames()) == 0 {
		return nil
	}
	return checkpoint.Remove(tk.StateDir())
}

// OnRevoked is the group's OnPartitionsRevoked: the tasks of the revoked
// partitions are committed as far as the guarantee allows and closed, so
// that their next owner starts where they stopped.
func (tm *TaskManager) OnRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	<-tm.ready
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tasks := tm.tasksOf(revoked)
	if len(tasks) == 0 {
		return
	}
	tm.thread.setState(ThreadPartitionsRevoked)
	tm.revoke(ctx, tasks)
	tm.publishHeld()
}

// revoke is the one path of a revocation. The caller holds mu.
func (tm *TaskManager) revoke(ctx context.Context, tasks []*task.Task) {
	running := map[processor.TaskID]bool{}
	for _, tk := range tasks {
		running[tk.ID()] = tk.State() == task.Running
		_ = tk.Suspend() // a Restoring or Running task stops; a closed one has gone already
	}
	clean, err := tm.commit.release(ctx, tasks)
	if err != nil && tm.mu.fatal == nil {
		tm.mu.fatal = err
	}
	clean = clean && err == nil
	// The assignment that revoked the tasks may keep some here as
	// standbys: those keep their stores, which hold what was committed.
	tm.applyPending()
	var closing []*task.Task
	for _, tk := range tasks {
		if !clean || !running[tk.ID()] || !tm.mu.wanted[tk.ID()] || !tm.recycle(tk) {
			closing = append(closing, tk)
		}
	}
	tm.closeTasks(closing, clean, "revoked")
}

// recycle turns a revoked, committed active task into a standby task, its
// stores open and up to date; false if it cannot be (it is then closed).
// The caller holds mu.
func (tm *TaskManager) recycle(tk *task.Task) bool {
	id := tk.ID()
	if tm.mu.tasks[id] != tk || len(followed(tk)) == 0 {
		return false
	}
	tm.rt.cfg.Hooks.TaskClosing(tk)
	if err := tk.Recycle(); err != nil {
		tm.log.Warn("recycling a revoked task into a standby; closing it", "task", id.String(), "error", err)
		return false
	}
	tm.reader.Unregister(tk)
	tm.reader.RecycleToStandby(tk, tm.coll.AckedEnd)
	tm.forgetInputs(id)
	delete(tm.mu.tasks, id)
	tm.mu.standbys[id] = tk
	tm.hook(tm.rt.cfg.Hooks.StandbyOpened, tk)
	tm.log.Info("task revoked; kept as a standby", "task", id.String())
	return true
}

// OnLost is the group's OnPartitionsLost: the tasks are closed without a
// commit, since the group gave their partitions to someone else already.
func (tm *TaskManager) OnLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	<-tm.ready
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tasks := tm.tasksOf(lost)
	if len(tasks) > 0 {
		tm.thread.setState(ThreadPartitionsRevoked)
	}
	tm.closeTasks(tasks, false, "lost")
	tm.publishHeld()
}

// closeTasks closes tasks and forgets them and their input partitions. A
// clean close (its stores committed) writes the task's checkpoint; any
// other leaves none, so that the next owner here restores the stores from
// their own changelog offset or from the beginning. The caller holds mu.
func (tm *TaskManager) closeTasks(tasks []*task.Task, clean bool, why string) {
	for _, tk := range tasks {
		id := tk.ID()
		if tm.mu.tasks[id] != tk {
			continue
		}
		tm.rt.cfg.Hooks.TaskClosing(tk)
		var cp map[checkpoint.Partition]int64
		if clean {
			cp = tm.reader.Checkpoint(tk, tm.coll.AckedEnd)
		}
		tm.reader.Unregister(tk)
		if err := tk.Close(); err != nil {
			tm.log.Warn("closing task", "task", id.String(), "error", err)
			cp = nil
		}
		tm.reader.WriteCheckpoint(tk.StateDir(), cp)
		tm.unlockDir(id)
		tm.forgetInputs(id)
		delete(tm.mu.tasks, id)
		tk.RemoveSensors()
		tm.sensors.taskClosed.Inc()
		tm.log.Info("task "+why, "task", id.String(), "clean", clean)
	}
}

// forgetInputs forgets a task's input partitions, resuming the paused
// ones. The caller holds mu.
func (tm *TaskManager) forgetInputs(id processor.TaskID) {
	if tm.mu.paused[id] {
		tm.client.ResumeFetchPartitions(tm.mu.inputs[id])
		delete(tm.mu.paused, id)
	}
	var tps []TopicPartition
	for topic, ps := range tm.mu.inputs[id] {
		for _, p := range ps {
			tp := TopicPartition{Topic: topic, Partition: p}
			delete(tm.mu.byTP, tp)
			tps = append(tps, tp)
		}
	}
	tm.commit.forget(tps)
	tm.sensors.lag.forget(tps)
	delete(tm.mu.inputs, id)
}

func (tm *TaskManager) unlockDir(id processor.TaskID) {
	if l := tm.mu.locks[id]; l != nil {
		l.unlock()
		delete(tm.mu.locks, id)
	}
}

// tasksOf returns the tasks that read parts, in task order. The caller
// holds mu.
func (tm *TaskManager) tasksOf(parts map[string][]int32) []*task.Task {
	seen := map[processor.TaskID]bool{}
	var ts []*task.Task
	for topic, ps := range parts {
		for _, p := range ps {
			if tk := tm.mu.byTP[TopicPartition{Topic: topic, Partition: p}]; tk != nil && !seen[tk.ID()] {
				seen[tk.ID()] = true
				ts = append(ts, tk)
			}
		}
	}
	slices.SortFunc(ts, func(a, b *task.Task) int { return CompareTaskIDs(a.ID(), b.ID()) })
	return ts
}

// allTasks returns every task, in task order. The caller holds mu.
func (tm *TaskManager) allTasks() []*task.Task {
	ts := make([]*task.Task, 0, len(tm.mu.tasks))
	for _, tk := range tm.mu.tasks {
		ts = append(ts, tk)
	}
	slices.SortFunc(ts, func(a, b *task.Task) int { return CompareTaskIDs(a.ID(), b.ID()) })
	return ts
}

// runningTasks returns the Running tasks, in task order. The caller holds
// mu.
func (tm *TaskManager) runningTasks() []*task.Task {
	return slices.DeleteFunc(tm.allTasks(), func(tk *task.Task) bool { return tk.State() != task.Running })
}

// CompareTaskIDs orders task ids by sub-topology, then partition.
func CompareTaskIDs(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

// rewind sets the consumer's position of each partition to its offset.
func (tm *TaskManager) rewind(to map[TopicPartition]int64) {
	if len(to) == 0 {
		return
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for tp, off := range to {
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	tm.client.SetOffsets(set)
}

// restoring reports whether a task is restoring.
func (tm *TaskManager) restoring() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.reader.Restoring()
}

// standbyStep opens and closes standby tasks as the last assignment says,
// and applies what their changelogs have, waiting up to wait.
func (tm *TaskManager) standbyStep(ctx context.Context, wait time.Duration) error {
	tm.mu.Lock()
	err := tm.reconcileStandbys(ctx)
	has := tm.reader.HasStandbys()
	tm.mu.Unlock()
	if err == nil && has {
		err = tm.restoreStep(ctx, wait)
	}
	if h := tm.heldSnap.Load(); h == nil || time.Since(h.at) >= heldEvery {
		tm.mu.Lock()
		tm.publishHeld()
		tm.mu.Unlock()
	}
	return err
}

// heldEvery is how often the loop works out what its thread holds for
// the next subscription: positions a little stale only make a lag look a
// little larger.
const heldEvery = 100 * time.Millisecond

// untilNextWork is how long a poll may wait: until the next commit or
// wall-clock punctuation is due.
func (tm *TaskManager) untilNextWork(now time.Time) time.Duration {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	next := tm.commit.lastCommit().Add(tm.rt.cfg.CommitInterval)
	for _, tk := range tm.mu.tasks {
		if t, ok := tk.NextWallClock(); ok && t.Before(next) {
			next = t
		}
	}
	return max(next.Sub(now), time.Millisecond)
}

// mayRebalance reports whether the loop may let a blocked rebalance go on.
func (tm *TaskManager) mayRebalance() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.commit.mayRebalance()
}

// restoreStep reads the changelogs being restored and writes what came to
// the stores; tasks whose stores all caught up start processing.
func (tm *TaskManager) restoreStep(ctx context.Context, wait time.Duration) error {
	fetches := tm.reader.Poll(ctx, wait)
	tm.mu.Lock()
	defer tm.mu.Unlock()
	done, err := tm.reader.Apply(fetches)
	for _, tk := range done {
		if rerr := tm.restored(tk); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// allRunning reports whether no task is restoring.
func (tm *TaskManager) allRunning() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return !tm.reader.Restoring()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
