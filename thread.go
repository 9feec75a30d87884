package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
)

// thread is one stream thread: a goroutine that is a member of the app's
// consumer group and runs the tasks of the partitions it is assigned.
//
// Concurrency: the thread's goroutine runs the loop; franz-go runs the
// rebalance callbacks on its own goroutine. With BlockRebalanceOnPoll a
// callback never runs between a non-empty poll and AllowRebalance, but it
// may run while the loop punctuates or commits after an empty poll, so both
// hold mu while they touch the tasks.
type thread struct {
	app *App
	idx int
	log *slog.Logger
	cl  *kgo.Client
	// sess is the transact session around cl under ExactlyOnce, else nil;
	// inTxn tells whether its transaction is open. Only the loop (and
	// shutdown) touch them.
	sess  *kgo.GroupTransactSession
	inTxn bool
	// txnFailures counts the transactions aborted, and the threads of this
	// index restarted, since the last successful commit.
	txnFailures int
	// restore reads changelogs to restore stores: a consumer outside the
	// group, given partitions as tasks need them.
	restore *kgo.Client
	coll    *collector
	raw     graph.RawRecord
	// ready is closed once newThread has set every field. franz-go starts
	// joining the group inside kgo.NewClient, so a rebalance callback can
	// run before newThread returns; each waits for ready first.
	ready chan struct{}

	mu struct {
		sync.Mutex
		tasks map[processor.TaskID]*task.Task
		byTP  map[task.TopicPartition]*task.Task
		// committed is the last offset committed per partition, so a
		// commit sends only what moved.
		committed map[task.TopicPartition]int64
		// restoring are the tasks whose stores are not restored yet; they
		// do not process.
		restoring map[processor.TaskID]*restoring
		// restoredTo is, per changelog partition of a persistent store,
		// the changelog end its restore reached: its checkpoint if nothing
		// was written since.
		restoredTo map[task.TopicPartition]int64
		// fatal is an error a callback hit; the loop returns it.
		fatal error
		// txnStart is, under ExactlyOnce, the offset of the first record
		// polled since the last commit of each input partition: where an
		// aborted transaction rewinds it to.
		txnStart map[task.TopicPartition]int64
		// ending is set while the loop ends a transaction without holding
		// mu (see commit); a revocation or loss that comes meanwhile is
		// left in deferred for the loop to carry out after.
		ending   bool
		deferred []deferredDrop
	}
	lastCommit time.Time
}

func newThread(a *App, idx int, plan *topicPlan) (*thread, error) {
	th := &thread{app: a, idx: idx, log: a.log.With("thread", idx), ready: make(chan struct{})}
	defer close(th.ready)
	th.mu.tasks = map[processor.TaskID]*task.Task{}
	th.mu.byTP = map[task.TopicPartition]*task.Task{}
	th.mu.committed = map[task.TopicPartition]int64{}
	th.mu.restoring = map[processor.TaskID]*restoring{}
	th.mu.restoredTo = map[task.TopicPartition]int64{}
	th.mu.txnStart = map[task.TopicPartition]int64{}
	eosMode := a.cfg.Guarantee == eos.ExactlyOnce
	th.coll = &collector{th: th}

	reset := kgo.NewOffset().AtStart()
	if a.cfg.OffsetReset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	topics, regex := a.consumeTopics()
	opts := []kgo.Opt{
		kgo.SeedBrokers(a.cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("%s-thread-%d", a.cfg.ApplicationID, idx)),
		kgo.ConsumerGroup(a.cfg.ApplicationID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(a.balancer),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(th.onAssigned),
		kgo.OnPartitionsRevoked(th.onRevoked),
		kgo.OnPartitionsLost(th.onLost),
		kgo.ConsumeResetOffset(reset),
		kgo.RecordPartitioner(sinkPartitioner{kgo.StickyKeyPartitioner(nil)}),
		// The Java consumer's default (franz-go's is 5s): a fetch already
		// waiting does not see partitions resumed after a restore, so this
		// bounds how long they wait.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if regex {
		opts = append(opts, kgo.ConsumeRegex())
	}
	restoreOpts := []kgo.Opt{}
	if eosMode {
		opts = append(opts,
			kgo.TransactionalID(transactionalID(a.cfg.ApplicationID, a.processID, idx)),
			kgo.TransactionTimeout(a.cfg.TransactionTimeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
		)
		// A restore must never see the records of an aborted transaction.
		restoreOpts = append(restoreOpts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	restore, err := kgo.NewClient(append(append([]kgo.Opt{
		kgo.SeedBrokers(a.cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("%s-thread-%d-restore", a.cfg.ApplicationID, idx)),
		// Transaction markers count: with them the restore reaches the
		// changelog's end offset exactly, even when it ends in one.
		kgo.KeepControlRecords(),
		// Answer promptly when a restored partition has nothing more: a
		// restore is waiting for this, not for new data.
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, restoreOpts...), a.cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("streams: thread %d: restore client: %w", idx, err)
	}
	th.restore = restore
	if eosMode {
		sess, err := kgo.NewGroupTransactSession(append(opts, a.cfg.ClientOptions...)...)
		if err != nil {
			th.restore.Close()
			return nil, fmt.Errorf("streams: thread %d: transactional client: %w", idx, err)
		}
		th.sess, th.cl = sess, sess.Client()
		return th, nil
	}
	cl, err := kgo.NewClient(append(opts, a.cfg.ClientOptions...)...)
	if err != nil {
		th.restore.Close()
		return nil, fmt.Errorf("streams: thread %d: client: %w", idx, err)
	}
	th.cl = cl
	return th, nil
}

// run is the thread's loop. It returns nil when ctx is cancelled, after a
// final commit, and the error otherwise.
func (th *thread) run(ctx context.Context) (err error) {
	defer func() { th.shutdown(err == nil) }()
	th.lastCommit = time.Now()
	if th.sess != nil {
		// Initialize the producer now, not at its first record: that
		// fences the previous incarnation of this thread (a crashed
		// process restarted on the same state directory) and aborts the
		// transaction it left open, which would otherwise hold up every
		// read_committed reader of its partitions until it timed out.
		if _, _, err := th.cl.ProducerID(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: initializing the transactional producer: %w", errRestart, err)
		}
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait := th.untilNextWork(time.Now())
		restoring := th.isRestoring()
		if restoring {
			wait = time.Millisecond // the restore poll below does the waiting
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := th.cl.PollRecords(pctx, th.app.cfg.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			if fe.Topic == "" || kerr.IsRetriable(fe.Err) || isNetError(fe.Err) {
				// The client's own trouble (joining the group, reaching a
				// broker) or a partition's passing one: franz-go retries.
				th.log.Warn("fetch error; the client retries", "topic", fe.Topic, "partition", fe.Partition, "error", fe.Err)
				continue
			}
			return fmt.Errorf("streams: thread %d: fetching %s-%d: %w", th.idx, fe.Topic, fe.Partition, fe.Err)
		}
		// Cancelling ctx asks the thread to stop after this step, not to
		// abandon it: a commit cut short by a SIGTERM would fail and skip
		// the final commit. The step's own I/O is bounded by the client's
		// timeouts.
		err := th.step(context.WithoutCancel(ctx), fetches)
		// Under ExactlyOnce a rebalance waits for the commit that ends the
		// open transaction (at most a commit interval): a task is only
		// given up with all its work committed, and the transact session
		// never sees a revocation in the middle of a transaction.
		if !th.inTxn {
			th.cl.AllowRebalance()
		}
		if err != nil {
			return err
		}
		if restoring {
			if err := th.restoreStep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
}

func (th *thread) isRestoring() bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	return len(th.mu.restoring) > 0
}

// untilNextWork is how long a poll may wait: until the next commit or
// wall-clock punctuation is due.
func (th *thread) untilNextWork(now time.Time) time.Duration {
	next := th.lastCommit.Add(th.app.cfg.CommitInterval)
	th.mu.Lock()
	for _, tk := range th.mu.tasks {
		if t, ok := tk.NextWallClock(); ok && t.Before(next) {
			next = t
		}
	}
	th.mu.Unlock()
	return max(next.Sub(now), time.Millisecond)
}

// step feeds the polled records to their tasks, processes everything
// buffered, punctuates and commits when due.
func (th *thread) step(ctx context.Context, fetches kgo.Fetches) error {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.mu.fatal != nil {
		return th.mu.fatal
	}
	if err := th.beginTxn(); err != nil {
		return err
	}
	if th.app.cfg.Guarantee == eos.AtMostOnce && !fetches.Empty() {
		if !th.commitPolled(ctx, fetches) {
			return nil
		}
	}
	// Partition by partition: the lookups below are per partition, not per
	// record.
	var rewind map[task.TopicPartition]int64
	var addErr error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if addErr != nil || len(p.Records) == 0 {
			return
		}
		tp := task.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		tk := th.mu.byTP[tp]
		if tk == nil {
			// Not ours (any more): its new owner reads it from the
			// committed offset.
			return
		}
		if th.sess != nil {
			if th.mu.restoring[tk.ID()] != nil {
				// A restoring task's records are not kept: the transaction
				// would commit their offsets with the next records. The
				// partition is rewound and paused; it is read again once
				// the task is restored.
				if _, ok := rewind[tp]; !ok {
					if rewind == nil {
						rewind = map[task.TopicPartition]int64{}
					}
					rewind[tp] = p.Records[0].Offset
				}
				return
			}
			if _, ok := th.mu.txnStart[tp]; !ok {
				th.mu.txnStart[tp] = p.Records[0].Offset
			}
		}
		for _, r := range p.Records {
			if addErr = th.add(ctx, tk, r); addErr != nil {
				return
			}
		}
	})
	if addErr != nil {
		return addErr
	}
	th.pauseRestoring()
	th.rewind(rewind)
	for _, id := range th.taskOrder() {
		if th.mu.restoring[id] != nil {
			continue // its records wait until its stores are restored
		}
		tk := th.mu.tasks[id]
		n := int64(0)
		for tk.Buffered() > 0 {
			if _, err := tk.Process(); err != nil {
				if err := th.handle(ctx, tk, err); err != nil {
					return err
				}
			}
			n++
			if _, err := tk.PunctuateStreamTime(); err != nil {
				if err := th.handle(ctx, tk, err); err != nil {
					return err
				}
			}
		}
		th.app.metrics.processed.Add(n)
	}
	now := time.Now()
	commitRequested := false
	for id, tk := range th.mu.tasks {
		if th.mu.restoring[id] != nil {
			continue
		}
		if _, err := tk.PunctuateWallClock(now); err != nil {
			if err := th.handle(ctx, tk, err); err != nil {
				return err
			}
		}
		commitRequested = commitRequested || tk.NeedsCommit()
	}
	if commitRequested || now.Sub(th.lastCommit) >= th.app.cfg.CommitInterval {
		return th.commit(ctx, th.allTasks())
	}
	return nil
}

// add hands a consumed record to its task.
func (th *thread) add(ctx context.Context, tk *task.Task, r *kgo.Record) error {
	th.raw = graph.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		th.raw.Headers = make([]processor.Header, len(r.Headers))
		for i, h := range r.Headers {
			th.raw.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
		}
	}
	err := tk.AddRecord(&th.raw)
	if err == nil {
		return nil
	}
	var de *processor.DeserializationError
	if !errors.As(err, &de) {
		return err
	}
	th.app.metrics.deserErrors.Add(1)
	resp := th.app.cfg.OnDeserializationError(ctx, r, de)
	if !resp.Continue {
		return fmt.Errorf("streams: task %s: %w", tk.ID(), de)
	}
	th.sendDeadLetters(resp.DeadLetters)
	return tk.Skip(r.Topic, r.Partition, r.Offset)
}

// handle applies the processing handler to err, the failure of a step of
// tk. It returns nil when the handler skips the failure.
func (th *thread) handle(ctx context.Context, tk *task.Task, err error) error {
	var pe *processor.ProcessingError
	if !errors.As(err, &pe) {
		return err
	}
	th.app.metrics.procErrors.Add(1)
	resp := th.app.cfg.OnProcessingError(ctx, pe)
	if !resp.Continue {
		return err
	}
	th.log.Warn("skipping after a processing error", "error", err)
	th.sendDeadLetters(resp.DeadLetters)
	if !pe.Punctuation {
		return tk.Skip(pe.Record.Topic, pe.Record.Partition, pe.Record.Offset)
	}
	return nil
}

func (th *thread) sendDeadLetters(recs []*kgo.Record) {
	for _, r := range recs {
		th.app.metrics.deadLetters.Add(1)
		th.cl.Produce(context.Background(), r, th.coll.promise)
	}
}

func (th *thread) taskOrder() []processor.TaskID {
	ids := make([]processor.TaskID, 0, len(th.mu.tasks))
	for id := range th.mu.tasks {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareTaskIDs)
	return ids
}

// compareTaskIDs orders task ids by sub-topology, then partition.
func compareTaskIDs(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

func (th *thread) allTasks() []*task.Task {
	var ts []*task.Task
	for _, id := range th.taskOrder() {
		ts = append(ts, th.mu.tasks[id])
	}
	return ts
}

// commitPolled is AtMostOnce: it commits the offsets after the polled
// records before they are processed. If the commit fails, the records are
// not processed (the partitions' next owner reads them from the last
// commit): it reports false.
func (th *thread) commitPolled(ctx context.Context, fetches kgo.Fetches) bool {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			if offsets[p.Topic] == nil {
				offsets[p.Topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: -1, Offset: p.Records[n-1].Offset + 1}
		}
	})
	if err := th.commitOffsets(ctx, offsets); err != nil {
		th.log.Warn("at-most-once commit before processing failed; dropping the polled records", "error", err)
		return false
	}
	return true
}

// commit is the app's one commit path, whatever the guarantee, which only
// decides what each step does:
//
//  1. The stores hand over their writes since the last commit: flushed to
//     the backend and the changelog (at-least-once, at-most-once), or only
//     sent to the changelog inside the open transaction (exactly-once).
//  2. Every produced record is acknowledged. A record the broker rejected
//     goes to the production handler; under exactly-once it aborts the
//     transaction, which must never commit without it.
//  3. The offsets after the processed records are committed: with the
//     consumer group (at-least-once), with the transaction, which commits
//     (exactly-once), or not at all (at-most-once committed them before
//     processing).
//  4. The tasks learn that the commit succeeded: under exactly-once the
//     stores apply their writes now; subscribers hear of the changes.
//
// Under exactly-once every running task of the thread is in the
// transaction, whatever tasks says; a transaction that aborts takes them all
// back to the last commit (reviveAll). The caller holds mu.
func (th *thread) commit(ctx context.Context, tasks []*task.Task) error {
	th.lastCommit = time.Now()
	txn := th.sess != nil
	if txn {
		tasks = th.runningTasks()
		if err := th.beginTxn(); err != nil {
			return err
		}
	}

	// 1. The stores.
	var storeErr error
	for _, tk := range tasks {
		hand := tk.Commit
		if txn {
			hand = tk.Prepare
		}
		if storeErr = hand(); storeErr != nil {
			break
		}
	}
	if storeErr != nil && !txn {
		return storeErr
	}

	// 2. Every record acknowledged.
	if err := th.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: thread %d: waiting for produced records: %w", th.idx, err)
	}
	var rejected []failedRecord
	if txn {
		rejected = th.coll.takeFailures()
	} else if err := th.coll.failures(ctx); err != nil {
		return err
	}

	// 3. The offsets.
	switch {
	case txn:
		// End runs without mu (see endTxn).
		try := kgo.TryCommit
		if storeErr != nil || len(rejected) > 0 {
			try = kgo.TryAbort
		}
		committed, endErr := th.endTxn(ctx, try)
		ok, err := th.ended(committed, endErr, storeErr, rejected)
		if err != nil || !ok {
			th.runDeferred()
			return err
		}
	case th.app.cfg.Guarantee == eos.AtLeastOnce:
		if err := th.commitConsumed(ctx, tasks); err != nil {
			return err
		}
	}

	// 4. Done.
	if txn {
		for _, tk := range tasks {
			changelogs := tk.Changelogs()
			p := tk.ID().Partition
			if err := tk.Apply(func(store string) int64 {
				return th.coll.ackedEnd(task.TopicPartition{Topic: changelogs[store], Partition: p})
			}); err != nil {
				// The changelog has what the store lacks: a restart
				// restores it.
				return fmt.Errorf("streams: thread %d: %w", th.idx, err)
			}
		}
		clear(th.mu.txnStart)
	}
	committed(tasks)
	th.runDeferred()
	return nil
}

// commitConsumed commits, at-least-once, the offsets after the records the
// tasks processed, where they moved since the last commit. The caller holds
// mu.
func (th *thread) commitConsumed(ctx context.Context, tasks []*task.Task) error {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, tk := range tasks {
		for tp, off := range tk.ConsumedOffsets() {
			if th.mu.committed[tp] == off {
				continue
			}
			if offsets[tp.Topic] == nil {
				offsets[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := th.commitOffsets(ctx, offsets); err != nil {
		if isRebalanceError(err) {
			// The tasks are being moved; their new owner repeats what was
			// not committed, which at-least-once allows.
			th.log.Warn("commit lost to a rebalance", "error", err)
			return nil
		}
		return fmt.Errorf("streams: thread %d: committing offsets: %w", th.idx, err)
	}
	for topic, ps := range offsets {
		for p, o := range ps {
			th.mu.committed[task.TopicPartition{Topic: topic, Partition: p}] = o.Offset
		}
	}
	th.app.metrics.commits.Add(1)
	return nil
}

// committed tells tasks their commit succeeded.
func committed(tasks []*task.Task) {
	for _, tk := range tasks {
		tk.Committed()
	}
}

func (th *thread) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	th.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
					cerr = fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return cerr
}

// isNetError reports a network failure (a timeout, a closed connection),
// which the client recovers from by reconnecting.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

func isRebalanceError(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID)
}

// onAssigned makes the tasks of newly assigned partitions.
func (th *thread) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	<-th.ready
	th.mu.Lock()
	defer th.mu.Unlock()
	created := map[processor.TaskID]map[string][]int32{}
	for topic, parts := range assigned {
		sub, ok := th.app.subtopologyOf(topic)
		if !ok {
			th.mu.fatal = fmt.Errorf("streams: thread %d: assigned topic %q, which no source reads", th.idx, topic)
			return
		}
		for _, p := range parts {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			tk := th.mu.tasks[id]
			if tk == nil {
				var err error
				if tk, err = th.newTask(id); err != nil {
					th.mu.fatal = err
					return
				}
				th.mu.tasks[id] = tk
				created[id] = map[string][]int32{}
				th.log.Info("task assigned", "task", id.String())
			}
			if in := created[id]; in != nil {
				in[topic] = append(in[topic], p)
			}
			th.mu.byTP[task.TopicPartition{Topic: topic, Partition: p}] = tk
		}
	}
	for id, inputs := range created {
		if err := th.startRestore(ctx, th.mu.tasks[id], inputs); err != nil {
			th.mu.fatal = err
			return
		}
	}
}

func (th *thread) newTask(id processor.TaskID) (*task.Task, error) {
	a := th.app
	dir := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, id.String())
	if len(a.prog.Subtopologies[id.Subtopology].Stores) > 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("streams: task %s: state directory: %w", id, err)
		}
	}
	tk, err := task.New(task.Config{
		ID: id, ApplicationID: a.cfg.ApplicationID, StateDir: dir, Program: a.prog, Collector: th.coll,
		CacheMaxBytes: a.cfg.StoreCacheMaxBytes,
		Transactional: a.cfg.Guarantee == eos.ExactlyOnce,
		Dropped:       func() { a.metrics.dropped.Add(1) },
		Logger:        th.log,
	})
	if err != nil {
		return nil, err
	}
	if err := tk.Init(); err != nil {
		return nil, err
	}
	return tk, nil
}

// onRevoked commits and closes the tasks of revoked partitions before they
// are given up, so their next owner starts where they stopped.
func (th *thread) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	<-th.ready
	th.mu.Lock()
	defer th.mu.Unlock()
	affected := th.tasksOf(revoked)
	if len(affected) == 0 {
		return
	}
	var cps map[string]map[checkpoint.Partition]int64
	if th.sess != nil {
		if th.mu.ending {
			// The loop is ending the transaction these tasks are in; it
			// gives them up once their stores hold what it committed.
			th.mu.deferred = append(th.mu.deferred, deferredDrop{affected, "revoked"})
			return
		}
		// The transaction of these tasks' work since the last commit, if
		// any, aborts: the session saw the revocation. Their stores hold
		// only what was committed.
		cps = th.checkpoints(affected)
		th.drop(affected, "revoked")
		th.writeCheckpoints(cps)
		return
	}
	if err := th.commit(ctx, affected); err != nil {
		if th.mu.fatal == nil {
			th.mu.fatal = err
		}
	} else {
		cps = th.checkpoints(affected)
	}
	th.drop(affected, "revoked")
	th.writeCheckpoints(cps)
}

// onLost closes the tasks of lost partitions without committing: the group
// already gave them to someone else.
func (th *thread) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	<-th.ready
	th.mu.Lock()
	defer th.mu.Unlock()
	lostTasks := th.tasksOf(lost)
	if th.mu.ending {
		th.mu.deferred = append(th.mu.deferred, deferredDrop{lostTasks, "lost"})
		return
	}
	th.drop(lostTasks, "lost")
}

// deferredDrop is a revocation or loss that came while the loop was ending
// a transaction.
type deferredDrop struct {
	tasks []*task.Task
	why   string // "revoked" or "lost"
}

// runDeferred gives up the tasks revoked or lost while the loop was ending
// a transaction, now that their stores hold what it committed. The caller
// holds mu.
func (th *thread) runDeferred() {
	for _, d := range th.mu.deferred {
		var ts []*task.Task
		for _, tk := range d.tasks {
			if th.mu.tasks[tk.ID()] == tk {
				ts = append(ts, tk)
			}
		}
		var cps map[string]map[checkpoint.Partition]int64
		if d.why == "revoked" {
			cps = th.checkpoints(ts)
		}
		th.drop(ts, d.why)
		th.writeCheckpoints(cps)
	}
	th.mu.deferred = nil
}

func (th *thread) tasksOf(parts map[string][]int32) []*task.Task {
	seen := map[processor.TaskID]bool{}
	var ts []*task.Task
	for topic, ps := range parts {
		for _, p := range ps {
			if tk := th.mu.byTP[task.TopicPartition{Topic: topic, Partition: p}]; tk != nil && !seen[tk.ID()] {
				seen[tk.ID()] = true
				ts = append(ts, tk)
			}
		}
	}
	return ts
}

// drop closes tasks and forgets them and their input partitions. The caller
// holds mu.
func (th *thread) drop(ts []*task.Task, why string) {
	for _, tk := range ts {
		th.app.local.remove(tk)
		th.stopRestore(tk.ID())
		for _, topic := range tk.Changelogs() {
			delete(th.mu.restoredTo, task.TopicPartition{Topic: topic, Partition: tk.ID().Partition})
		}
		if err := tk.Close(); err != nil {
			th.log.Warn("closing task", "task", tk.ID().String(), "error", err)
		}
		delete(th.mu.tasks, tk.ID())
		for tp, owner := range th.mu.byTP {
			if owner == tk {
				delete(th.mu.byTP, tp)
				delete(th.mu.committed, tp)
				delete(th.mu.txnStart, tp)
			}
		}
		th.log.Info("task "+why, "task", tk.ID().String())
	}
}

// shutdown commits (when the thread stops cleanly), closes every task and
// leaves the group.
func (th *thread) shutdown(clean bool) {
	th.mu.Lock()
	var cps map[string]map[checkpoint.Partition]int64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	switch {
	case clean && len(th.mu.tasks) > 0:
		if err := th.commit(ctx, th.allTasks()); err != nil {
			th.log.Warn("final commit failed", "error", err)
		} else {
			cps = th.checkpoints(th.allTasks())
		}
	case th.inTxn:
		// Failing: what the transaction holds must not commit.
		if _, err := th.endTxn(ctx, kgo.TryAbort); err != nil {
			th.log.Warn("aborting the transaction", "error", err)
		}
		for _, tk := range th.runningTasks() {
			_ = tk.Revive() // drops the stores' uncommitted writes before they close
		}
		th.runDeferred()
	}
	cancel()
	th.drop(th.allTasks(), "closed")
	th.writeCheckpoints(cps)
	th.mu.Unlock()
	// A step that failed inside a transaction returned without allowing
	// the rebalance its poll blocked; leaving the group needs it.
	th.cl.AllowRebalance()
	th.cl.Close()
	th.restore.Close()
}

// collector sends the tasks' output through the thread's client.
type collector struct {
	th *thread
	mu struct {
		sync.Mutex
		failed []failedRecord
		// acked is the offset after the last acknowledged changelog record
		// of each changelog partition: how far the changelog reflects the
		// stores, for their checkpoints.
		acked map[task.TopicPartition]int64
	}
}

type failedRecord struct {
	rec *kgo.Record
	err error
}

func (c *collector) Send(out *graph.Output) error {
	r := &kgo.Record{Topic: out.Topic, Partition: out.Partition, Key: out.Key, Value: out.Value, Timestamp: out.Timestamp}
	if len(out.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(out.Headers))
		for i, h := range out.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if out.Changelog {
		c.th.cl.Produce(context.Background(), r, c.changelogPromise)
		return nil
	}
	c.th.cl.Produce(context.Background(), r, c.promise)
	return nil
}

// changelogPromise is promise for changelog records: it also remembers how
// far each changelog partition was acknowledged.
func (c *collector) changelogPromise(r *kgo.Record, err error) {
	if err != nil {
		c.promise(r, err)
		return
	}
	tp := task.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	c.mu.Lock()
	if c.mu.acked == nil {
		c.mu.acked = map[task.TopicPartition]int64{}
	}
	c.mu.acked[tp] = max(c.mu.acked[tp], r.Offset+1)
	c.mu.Unlock()
}

// ackedEnd returns the offset after the last acknowledged record of a
// changelog partition, or -1.
func (c *collector) ackedEnd(tp task.TopicPartition) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.mu.acked[tp]; ok {
		return o
	}
	return -1
}

func (c *collector) NumPartitions(topic string) (int, error) {
	return c.th.app.numPartitions(context.Background(), topic)
}

// promise runs on a franz-go goroutine for every produced record.
func (c *collector) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.mu.failed = append(c.mu.failed, failedRecord{r, err})
	c.mu.Unlock()
}

// takeFailures returns and forgets the records the broker rejected.
func (c *collector) takeFailures() []failedRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.mu.failed
	c.mu.failed = nil
	return f
}

// failures applies the production handler to the records the broker
// rejected since the last call; it returns the first one the handler does
// not skip.
func (c *collector) failures(ctx context.Context) error {
	for _, f := range c.takeFailures() {
		c.th.app.metrics.prodErrors.Add(1)
		resp := c.th.app.cfg.OnProductionError(ctx, f.rec, f.err)
		if !resp.Continue {
			return fmt.Errorf("streams: producing to %s: %w", f.rec.Topic, f.err)
		}
		c.th.log.Warn("skipping a record the broker rejected", "topic", f.rec.Topic, "error", f.err)
	}
	return nil
}

// sinkPartitioner keeps the partition a sink's partitioner chose
// (Partition >= 0) and otherwise partitions as the Java client does:
// murmur2 of the key, sticky for records without one.
type sinkPartitioner struct{ def kgo.Partitioner }

func (p sinkPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{p.def.ForTopic(topic)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (p topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.def.RequiresConsistency(r)
}

func (p topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.def.Partition(r, n)
}

// OnNewBatch keeps the default partitioner sticky for records without a key.
func (p topicPartitioner) OnNewBatch() {
	if nb, ok := p.def.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
