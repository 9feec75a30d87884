package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/task"
)

// errRestart ends a thread whose transactional producer cannot go on: it
// was fenced, or ending a transaction failed so that the client does not
// know how it ended. The thread closes its tasks without committing and the
// app makes it anew: a new producer (whose initialization settles whatever
// the old one left open) rejoins the group, and the tasks restore what the
// cluster committed, whichever way the transaction went.
var errRestart = errors.New("streams: the thread's transactional producer must be made anew")

// maxTxnFailures bounds the aborts and restarts in a row, with no
// successful commit between them, before a thread gives up and fails the
// app: a record the broker always rejects must not loop forever.
const maxTxnFailures = 10

// processIDFile keeps the instance's id in its state directory, so that a
// restarted instance gets the transactional ids of the instance it replaces
// and, by initializing them, aborts what that instance left open.
const processIDFile = ".process-id"

// processID returns the id of this instance: the one kept in
// <StateDir>/<ApplicationID>/.process-id, or a new random one, kept there.
func processID(stateDir, appID string) (string, error) {
	dir := filepath.Join(stateDir, appID)
	path := filepath.Join(dir, processIDFile)
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) == 32 && isHex(id) {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("streams: reading the process id %s: %w", path, err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("streams: state directory %s: %w", dir, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("streams: writing the process id %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("streams: writing the process id %s: %w", path, err)
	}
	return id, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// transactionalID is the transactional.id of a thread's producer:
// <application.id>-<process id>-<thread>, as in Kafka Streams' EOS v2.
func transactionalID(appID, processID string, thread int) string {
	return fmt.Sprintf("%s-%s-%d", appID, processID, thread)
}

// isFencedError reports whether err means the producer can never commit
// again under its epoch.
func isFencedError(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.InvalidProducerIDMapping)
}

// beginTxn opens the thread's transaction if none is open. The caller
// holds mu.
func (th *thread) beginTxn() error {
	if th.sess == nil || th.inTxn {
		return nil
	}
	if err := th.sess.Begin(); err != nil {
		return fmt.Errorf("streams: thread %d: beginning a transaction: %w", th.idx, err)
	}
	th.inTxn = true
	return nil
}

// endTxn ends the open transaction, committing it (with the offsets of
// every polled record: sendOffsets) if try says so and nothing stands in
// the way. The caller holds mu, which endTxn lets go meanwhile: the
// transact session calls the rebalance callbacks holding a lock End needs,
// and they need mu. A revocation or loss that comes meanwhile is deferred
// (mu.ending); the caller carries it out with runDeferred.
func (th *thread) endTxn(ctx context.Context, try kgo.TransactionEndTry) (bool, error) {
	th.mu.ending = true
	th.mu.Unlock()
	defer func() {
		th.mu.Lock()
		th.mu.ending = false
	}()
	// End waits for a heartbeat after it sent the offsets, and the group
	// does not heartbeat while a rebalance waits for this member to let it
	// go on: holding the rebalance here would stall End until its context
	// ends. So the rebalance goes on now. A revocation before the
	// transaction ends makes the session abort it; the callbacks leave the
	// tasks to the loop (see onRevoked). With KIP-447 a new owner cannot
	// read the offsets until the transaction is over.
	th.cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(ctx, th.app.cfg.TransactionTimeout)
	defer cancel()
	committed, err := th.sess.End(ctx, try)
	th.inTxn = false
	return committed, err
}

// ended acts on how the transaction of a commit ended (step 3 of commit):
// a transaction that aborted takes every task back to the last commit and
// reports false; one whose end failed restarts the thread. prepErr and
// rejected are why the commit asked for an abort, if it did. The caller
// holds mu.
func (th *thread) ended(committed bool, err, prepErr error, rejected []failedRecord) (bool, error) {
	switch {
	case err != nil:
		th.log.Warn("ending the transaction failed; making the thread's producer anew", "error", err, "fenced", isFencedError(err))
		return false, fmt.Errorf("%w: %w", errRestart, err)
	case !committed:
		th.app.metrics.aborts.Add(1)
		th.txnFailures++
		cause := prepErr
		if len(rejected) > 0 {
			cause = fmt.Errorf("the broker rejected a record for %s: %w", rejected[0].rec.Topic, rejected[0].err)
		}
		th.log.Warn("transaction aborted; the thread's tasks go back to their last commit", "cause", cause)
		if th.txnFailures >= maxTxnFailures {
			return false, fmt.Errorf("streams: thread %d: %d transactions in a row aborted; the last because: %v", th.idx, th.txnFailures, cause)
		}
		if err := th.reviveAll(); err != nil {
			return false, err
		}
		return false, prepErr
	}
	th.txnFailures = 0
	th.app.metrics.commits.Add(1)
	return true, nil
}

// reviveAll takes every running task back to the last commit and rewinds
// its input partitions to the first offset polled since. The caller holds
// mu.
func (th *thread) reviveAll() error {
	for _, tk := range th.runningTasks() {
		if err := tk.Revive(); err != nil {
			return fmt.Errorf("streams: thread %d: %w", th.idx, err)
		}
	}
	th.rewind(th.mu.txnStart)
	clear(th.mu.txnStart)
	return nil
}

// rewind sets the consumer's position of each partition to its offset.
func (th *thread) rewind(to map[task.TopicPartition]int64) {
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
	th.cl.SetOffsets(set)
}

// runningTasks returns the tasks that are not restoring, in task order. The
// caller holds mu.
func (th *thread) runningTasks() []*task.Task {
	var ts []*task.Task
	for _, id := range th.taskOrder() {
		if th.mu.restoring[id] == nil {
			ts = append(ts, th.mu.tasks[id])
		}
	}
	return ts
}
