package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/task"
)

// errRestart ends a thread whose transactional producer cannot go on: it
// was fenced, or ending a transaction failed so that the client does not
// know how it ended. The thread closes its tasks without committing and the
// runtime makes it anew: a new producer (whose initialization settles
// whatever the old one left open) rejoins the group, and the tasks restore
// what the cluster committed, whichever way the transaction went. This is
// recovery, not a failure: the user's OnUncaughtError does not hear of it.
var errRestart = errors.New("streams: the thread's transactional producer must be made anew")

// maxTxnFailures bounds the aborts and restarts in a row, with no
// successful commit between them, before a thread gives up and fails: a
// record the broker always rejects must not loop forever.
const maxTxnFailures = 10

// exactlyOnce commits a thread's tasks in Kafka transactions, one
// transactional producer per thread (Kafka Streams' EOS v2): the output,
// the changelog records and the consumed offsets commit together, and the
// stores apply their writes only once the transaction committed. It owns
// the transaction session and its state: whether a transaction is open,
// and where each input partition's records since the last commit start.
type exactlyOnce struct {
	tm  *TaskManager
	txn Transactions
	// inTxn tells whether a transaction is open; ending, that it is being
	// ended without the TaskManager's lock.
	inTxn, ending bool
	// failures counts the transactions aborted, and the threads of this
	// index restarted, since the last successful commit.
	failures int
	// txnStart is the offset of the first record polled since the last
	// commit of each input partition: where an aborted transaction rewinds
	// it to.
	txnStart map[TopicPartition]int64
	last     time.Time
}

func (c *exactlyOnce) init(ctx context.Context) error {
	// Initialize the producer now, not at its first record: that fences
	// the previous incarnation of this thread (a crashed process restarted
	// on the same state directory) and aborts the transaction it left
	// open, which would otherwise hold up every read_committed reader of
	// its partitions until it timed out.
	if err := c.txn.InitProducer(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: initializing the transactional producer: %w", errRestart, err)
	}
	return nil
}

func (c *exactlyOnce) polled(context.Context, kgo.Fetches) bool { return true }

// A restoring task's records are not kept: the transaction would commit
// their offsets with the next records. They are rewound and read again.
func (c *exactlyOnce) bufferWhileRestoring() bool { return false }

func (c *exactlyOnce) took(tp TopicPartition, offset int64) {
	if _, ok := c.txnStart[tp]; !ok {
		c.txnStart[tp] = offset
	}
}

func (c *exactlyOnce) begin() error {
	if c.inTxn {
		return nil
	}
	if err := c.txn.Begin(); err != nil {
		return fmt.Errorf("streams: thread %d: beginning a transaction: %w", c.tm.idx, err)
	}
	c.inTxn = true
	return nil
}

// Under exactly-once a rebalance waits for the commit that ends the open
// transaction (at most a commit interval): a task is only given up with
// all its work committed, and the transaction session never sees a
// revocation in the middle of a transaction but while it ends.
func (c *exactlyOnce) mayRebalance() bool { return !c.inTxn }

func (c *exactlyOnce) lastCommit() time.Time { return c.last }

func (c *exactlyOnce) forget(tps []TopicPartition) {
	for _, tp := range tps {
		delete(c.txnStart, tp)
	}
}

// release: the transaction session aborts an open transaction once the
// group took partitions away, so nothing these tasks did since the last
// commit can commit now; with no transaction open their stores hold just
// what committed, and they close clean.
func (c *exactlyOnce) release(context.Context, []*task.Task) (bool, error) {
	return !c.inTxn, nil
}

// commit is the exactly-once commit of every running task: they are all in
// the one transaction, and an abort takes them all back to the last
// commit.
func (c *exactlyOnce) commit(ctx context.Context) error {
	c.last = time.Now()
	tasks := c.tm.runningTasks()
	if err := c.begin(); err != nil {
		return err
	}
	var prepErr error
	for _, tk := range tasks {
		if prepErr = tk.PrepareCommit(); prepErr != nil {
			break
		}
	}
	if err := c.tm.coll.Flush(ctx); err != nil {
		return fmt.Errorf("streams: thread %d: %w", c.tm.idx, err)
	}
	// A record the broker rejected aborts the transaction, which must
	// never commit without it; the production handler is not asked.
	rejected := c.tm.coll.TakeFailures()
	try := kgo.TryCommit
	if prepErr != nil || len(rejected) > 0 {
		try = kgo.TryAbort
	} else if prepErr = c.tm.commitExternal(ctx, tasks, c.externallyCommitted); prepErr != nil {
		try = kgo.TryAbort
	}
	committed, endErr := c.end(ctx, try)
	// Tasks a rebalance closed while the transaction ended are gone; the
	// session aborted it, or their stores restore what it committed.
	tasks = openTasks(tasks)
	switch {
	case endErr != nil:
		c.tm.log.Warn("ending the transaction failed; making the thread's producer anew", "error", endErr, "fenced", isFencedError(endErr))
		return fmt.Errorf("%w: %w", errRestart, endErr)
	case !committed:
		return c.aborted(tasks, prepErr, rejected)
	}
	c.failures = 0
	c.tm.rt.metrics.Commits.Add(1)
	clear(c.txnStart)
	if err := finish(tasks, func(tk *task.Task, store string) int64 {
		return c.tm.coll.AckedEnd(TopicPartition{Topic: tk.Changelogs()[store], Partition: tk.ID().Partition})
	}); err != nil {
		// The changelog has what the store lacks: a restart restores it.
		return fmt.Errorf("streams: thread %d: %w", c.tm.idx, err)
	}
	return nil
}

// externallyCommitted hears of a task whose external sinks committed.
// When a sink keeps the task's offsets, what it committed is the task's
// last commit, whatever becomes of the transaction: an abort takes the
// task back there, not to the start of the transaction.
func (c *exactlyOnce) externallyCommitted(tk *task.Task) {
	if !tk.StoresOffsetsExternally() {
		return
	}
	for tp, off := range tk.ConsumedOffsets() {
		c.txnStart[tp] = off
	}
}

// end ends the open transaction. The caller holds the TaskManager's lock,
// which end lets go meanwhile: the session calls the rebalance callbacks
// holding a lock End needs, and they need the TaskManager's. A callback
// that comes meanwhile finds ending set (see release).
//
// End waits for a heartbeat after it sent the offsets, and the group does
// not heartbeat while a rebalance waits for this member to let it go on:
// holding the rebalance here would stall End until its context ends. So
// the rebalance goes on now. With KIP-447 a new owner cannot read the
// offsets until the transaction is over.
func (c *exactlyOnce) end(ctx context.Context, try kgo.TransactionEndTry) (bool, error) {
	c.ending = true
	c.tm.mu.Unlock()
	defer func() {
		c.tm.mu.Lock()
		c.ending, c.inTxn = false, false
	}()
	c.tm.client.AllowRebalance()
	ctx, cancel := context.WithTimeout(ctx, c.tm.rt.cfg.TransactionTimeout)
	defer cancel()
	return c.txn.End(ctx, try)
}

// aborted takes every task back to the last commit after the transaction
// aborted, and rewinds its input.
func (c *exactlyOnce) aborted(tasks []*task.Task, prepErr error, rejected []failedRecord) error {
	c.tm.rt.metrics.Aborts.Add(1)
	c.failures++
	cause := prepErr
	if len(rejected) > 0 {
		cause = fmt.Errorf("the broker rejected a record for %s: %w", rejected[0].rec.Topic, rejected[0].err)
	}
	c.tm.log.Warn("transaction aborted; the thread's tasks go back to their last commit", "cause", cause)
	if c.failures >= maxTxnFailures {
		return fmt.Errorf("streams: thread %d: %d transactions in a row aborted; the last because: %v", c.tm.idx, c.failures, cause)
	}
	for _, tk := range tasks {
		if err := tk.AbortCommit(); err != nil {
			return fmt.Errorf("streams: thread %d: %w", c.tm.idx, err)
		}
	}
	c.tm.rewind(c.txnStart)
	clear(c.txnStart)
	return prepErr
}

// abandon aborts the open transaction of a thread that failed: what it
// holds must not commit.
func (c *exactlyOnce) abandon(ctx context.Context) {
	if !c.inTxn {
		return
	}
	if _, err := c.end(ctx, kgo.TryAbort); err != nil {
		c.tm.log.Warn("aborting the transaction", "error", err)
	}
	for _, tk := range openTasks(c.tm.runningTasks()) {
		_ = tk.AbortCommit() // drops the stores' uncommitted writes before they close
	}
}

func openTasks(ts []*task.Task) []*task.Task {
	out := ts[:0:0]
	for _, tk := range ts {
		if tk.State() != task.Closed {
			out = append(out, tk)
		}
	}
	return out
}

// isFencedError reports whether err means the producer can never commit
// again under its epoch.
func isFencedError(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.InvalidProducerIDMapping)
}

// processIDFile keeps the instance's id in its state directory, so that a
// restarted instance gets the transactional ids of the instance it replaces
// and, by initializing them, aborts what that instance left open.
const processIDFile = ".process-id"

// processID returns the id of this instance: the one kept in
// <StateDir>/<ApplicationID>/.process-id, or a new random one, kept there.
func processID(dir string) (string, error) {
	path := filepath.Join(dir, processIDFile)
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if _, err := hex.DecodeString(id); err == nil && len(id) == 32 {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("streams: reading the process id %s: %w", path, err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("streams: writing the process id %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("streams: writing the process id %s: %w", path, err)
	}
	return id, nil
}

// transactionalID is the transactional.id of a thread's producer:
// <application.id>-<process id>-<thread>, as in Kafka Streams' EOS v2.
func transactionalID(appID, processID string, thread int) string {
	return fmt.Sprintf("%s-%s-%d", appID, processID, thread)
}
