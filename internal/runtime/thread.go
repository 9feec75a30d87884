package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
)

// StreamThread is one member of the app's consumer group and its poll
// loop, as Kafka Streams' StreamThread: it polls records, hands them to its
// TaskManager to process and commit, lets rebalances go on when its
// committer allows, and restores stores between polls. Its state is
// explicit (ThreadState); the app's state follows its threads'.
//
// The loop runs on the goroutine that calls Run; the rebalance callbacks
// run on franz-go's and go to the TaskManager.
type StreamThread struct {
	rt     *Runtime
	idx    int
	log    *slog.Logger
	client GroupClient
	tm     *TaskManager

	mu struct {
		sync.Mutex
		state ThreadState
		// cancelPoll ends the poll the loop is in, if any.
		cancelPoll context.CancelFunc
	}
}

// newThread makes thread idx with its clients on the cluster: a group
// member (with a transaction session under exactly-once) and a changelog
// consumer. failures is how many transactions in a row failed before, for
// a thread made anew after its producer failed.
func (rt *Runtime) newThread(idx, failures int) (*StreamThread, error) {
	log := rt.log.With("thread", idx)
	th := &StreamThread{rt: rt, idx: idx, log: log}
	tm := newTaskManager(rt, idx, log)
	th.tm, tm.thread = tm, th
	cfg := rt.cfg
	exactlyOnce := cfg.Guarantee == eos.ExactlyOnce

	topics, regex := rt.consumeTopics()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("%s-thread-%d", cfg.ApplicationID, idx)),
		kgo.ConsumerGroup(cfg.ApplicationID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(threadBalancer{rt.balancer, tm}),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(tm.OnAssigned),
		kgo.OnPartitionsRevoked(tm.OnRevoked),
		kgo.OnPartitionsLost(tm.OnLost),
		kgo.ConsumeResetOffset(resetOffset(cfg.OffsetReset)),
		kgo.AdjustFetchOffsetsFn(rt.adjustOffsets),
		kgo.RecordPartitioner(sinkPartitioner{kgo.StickyKeyPartitioner(nil)}),
		// The Java consumer's default (franz-go's is 5s): a fetch already
		// waiting does not see partitions resumed after a restore, so this
		// bounds how long they wait.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if regex {
		opts = append(opts, kgo.ConsumeRegex())
	}
	if cfg.GroupInstanceID != "" {
		opts = append(opts, kgo.InstanceID(fmt.Sprintf("%s-%d", cfg.GroupInstanceID, idx)))
	}
	restoreOpts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("%s-thread-%d-restore", cfg.ApplicationID, idx)),
		// Transaction markers count: with them the restore reaches the
		// changelog's end offset exactly, even when it ends in one.
		kgo.KeepControlRecords(),
		// Answer promptly when a restored partition has nothing more: a
		// restore is waiting for this, not for new data.
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
	if exactlyOnce {
		opts = append(opts,
			kgo.TransactionalID(transactionalID(cfg.ApplicationID, rt.processID, idx)),
			kgo.TransactionTimeout(cfg.TransactionTimeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
		)
		// A restore must never see the records of an aborted transaction.
		restoreOpts = append(restoreOpts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	restore, err := kgo.NewClient(append(restoreOpts, cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("streams: thread %d: restore client: %w", idx, err)
	}
	var txn Transactions
	if exactlyOnce {
		sess, err := kgo.NewGroupTransactSession(append(opts, cfg.ClientOptions...)...)
		if err != nil {
			restore.Close()
			return nil, fmt.Errorf("streams: thread %d: transactional client: %w", idx, err)
		}
		th.client, txn = kgoGroup{sess.Client()}, kgoTxn{sess}
	} else {
		cl, err := kgo.NewClient(append(opts, cfg.ClientOptions...)...)
		if err != nil {
			restore.Close()
			return nil, fmt.Errorf("streams: thread %d: client: %w", idx, err)
		}
		th.client = kgoGroup{cl}
	}
	th.wire(restore, txn, failures)
	return th, nil
}

// wire sets the thread's parts around its clients and lets the rebalance
// callbacks in.
func (th *StreamThread) wire(restore ChangelogConsumer, txn Transactions, failures int) {
	rt, tm := th.rt, th.tm
	tm.client = th.client
	tm.coll = &RecordCollector{client: th.client, log: th.log, metrics: rt.metrics,
		onProduction: rt.cfg.Hooks.OnProductionError, numPartitions: rt.numPartitions}
	tm.reader = newChangelogReader(restore, rt.admin, rt.cfg.ApplicationID, th.log, rt.cfg.Hooks.Restore, txn != nil, rt.cfg.RestoreProgressEvery)
	tm.commit = newCommitter(tm, txn)
	if e, ok := tm.commit.(*exactlyOnce); ok {
		e.failures = failures
	}
	close(tm.ready)
}

// State returns the thread's state.
func (th *StreamThread) State() ThreadState {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.mu.state
}

// setState moves the thread to s, if Kafka Streams allows the move, and
// tells the runtime.
func (th *StreamThread) setState(s ThreadState) {
	th.mu.Lock()
	old := th.mu.state
	if !validTransition(threadTransitions, old, s) {
		th.mu.Unlock()
		return
	}
	th.mu.state = s
	th.mu.Unlock()
	if old != s {
		th.log.Debug("stream thread state", "from", old.String(), "to", s.String())
		th.rt.threadStateChanged()
	}
}

// failures is how many transactions in a row failed, for the thread made
// anew after this one.
func (th *StreamThread) failures() int {
	th.tm.mu.Lock()
	defer th.tm.mu.Unlock()
	if e, ok := th.tm.commit.(*exactlyOnce); ok {
		return e.failures
	}
	return 0
}

// Run is the thread's loop. It returns nil when ctx is cancelled, after a
// final commit, and the error otherwise, after closing its tasks.
func (th *StreamThread) Run(ctx context.Context) (err error) {
	th.setState(ThreadStarting)
	defer func() {
		th.setState(ThreadPendingShutdown)
		th.tm.shutdown(err == nil)
		// A step that failed inside a transaction returned without allowing
		// the rebalance its poll blocked; leaving the group needs it.
		th.client.AllowRebalance()
		th.client.Close()
		th.tm.reader.Close()
		th.tm.sensors.remove()
		th.setState(ThreadDead)
	}()
	if err := th.initCommitter(ctx); err != nil {
		return err
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait := th.tm.untilNextWork(time.Now())
		restoring := th.tm.restoring()
		if restoring {
			wait = time.Millisecond // the restore poll below does the waiting
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		th.setPollCancel(cancel)
		pollStart := time.Now()
		fetches := th.client.PollRecords(pctx, th.rt.cfg.MaxPollRecords)
		th.setPollCancel(nil)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		th.tm.sensors.polled(pollStart, fetches, th.rt.cfg.Guarantee == eos.ExactlyOnce)
		if err := th.fetchErrors(fetches); err != nil {
			return err
		}
		// Cancelling ctx asks the thread to stop after this step, not to
		// abandon it: a commit cut short by a SIGTERM would fail and skip
		// the final commit. The step's own I/O is bounded by the client's
		// timeouts.
		err := th.tm.step(context.WithoutCancel(ctx), fetches)
		if th.tm.mayRebalance() {
			th.client.AllowRebalance()
		}
		if err != nil {
			return err
		}
		if restoring {
			if err := th.tm.restoreStep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
		// Standby tasks follow their changelogs between polls, taking what
		// the changelog consumer has fetched without holding up the loop.
		if err := th.tm.standbyStep(ctx, time.Millisecond); err != nil {
			return err
		}
		th.tm.probe(time.Now())
		th.tm.refreshLag(ctx, time.Now())
		if th.State() == ThreadPartitionsAssigned && th.tm.allRunning() {
			th.setState(ThreadRunning)
		}
	}
}

func (th *StreamThread) setPollCancel(cancel context.CancelFunc) {
	th.mu.Lock()
	th.mu.cancelPoll = cancel
	th.mu.Unlock()
}

// wake ends the loop's poll early: an assignment brought stores to
// restore, which the loop does between polls, and an idle input would
// otherwise keep it waiting until the next commit is due.
func (th *StreamThread) wake() {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.mu.cancelPoll != nil {
		th.mu.cancelPoll()
	}
}

func (th *StreamThread) initCommitter(ctx context.Context) error {
	th.tm.mu.Lock()
	defer th.tm.mu.Unlock()
	return th.tm.commit.init(ctx)
}

// fetchErrors returns the first fetch error the client does not recover
// from by itself.
func (th *StreamThread) fetchErrors(fetches kgo.Fetches) error {
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
	return nil
}
