package task

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/processor"
)

// A commit of a task is three steps, the same under every guarantee and in
// the test driver; the task decides what each means for its stores:
//
//  1. PrepareCommit hands over the stores' writes since the last commit:
//     flushed to the backend and the changelog, or, for a transactional task
//     (exactly-once), sent to the changelog only, inside the transaction.
//  2. The caller makes the commit durable: produced records acknowledged,
//     offsets committed, the transaction committed.
//  3. FinishCommit tells the task it succeeded (a transactional task's
//     stores apply their writes now, and observers hear of the changes), or
//     AbortCommit that it did not (a transactional task goes back to its
//     last commit).
//
// Each step is a no-op unless the task is Running or Suspended.

func (t *Task) committing() bool { return t.state == Running || t.state == Suspended }

// PrepareCommit is step 1 of a commit.
func (t *Task) PrepareCommit() error {
	t.commitRequested = false
	if !t.committing() {
		return nil
	}
	var errs []error
	for _, name := range t.storeNames {
		st := t.stores[name]
		var err error
		if tx, ok := st.(stateproto.Transactional); ok && t.cfg.Transactional {
			err = tx.Prepare()
		} else {
			err = st.Flush()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("task %s: preparing the commit of store %q: %w", t.cfg.ID, name, err))
		}
	}
	return errors.Join(errs...)
}

// FinishCommit is step 3 of a commit that succeeded. changelogEnd returns
// the offset after the last record of a store's changelog partition, or
// -1, which a transactional store keeps with its writes.
func (t *Task) FinishCommit(changelogEnd func(store string) int64) error {
	if !t.committing() {
		return nil
	}
	var errs []error
	if t.cfg.Transactional {
		for _, name := range t.storeNames {
			if tx, ok := t.stores[name].(stateproto.Transactional); ok {
				if err := tx.Apply(changelogEnd(name)); err != nil {
					errs = append(errs, fmt.Errorf("task %s: applying the commit to store %q: %w", t.cfg.ID, name, err))
				}
			}
		}
	}
	if len(errs) > 0 {
		// The changelog has what the store lacks: a restart restores it.
		return errors.Join(errs...)
	}
	for _, name := range t.storeNames {
		if c, ok := t.stores[name].(stateproto.Committer); ok {
			c.Committed()
		}
	}
	return nil
}

// AbortCommit is step 3 of a commit that failed. A transactional task goes
// back to its last commit: its stores drop their uncommitted writes, its
// processors are closed and made anew (so that none keeps in memory what
// the aborted transaction did), and its buffered records, stream time and
// schedules are forgotten; the caller rewinds its input partitions to the
// committed offsets. The stores stay open: nothing is restored. A task that
// is not transactional has written its stores down already; at-least-once
// redoes its work from the committed offsets, so there is nothing to undo.
func (t *Task) AbortCommit() error {
	if !t.cfg.Transactional || !t.committing() {
		return nil
	}
	for _, name := range t.storeNames {
		if tx, ok := t.stores[name].(stateproto.Transactional); ok {
			tx.Abort()
		}
	}
	errs := t.closeNodes()
	for _, in := range t.inputs {
		in.q.Clear()
	}
	t.inputs, t.byTP, t.last, t.buffered = nil, map[TopicPartition]*input{}, nil, 0
	t.streamTime, t.streamTimeT = unknown, time.Time{}
	t.current, t.hasCurrent = processor.NoRecord, false
	t.schedules, t.due = nil, nil
	t.commitRequested = false
	if err := t.buildNodes(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if t.state == Running {
		if err := t.initNodes(); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("task %s: closing its processors to revive it: %w", t.cfg.ID, errors.Join(errs...))
	}
	return nil
}

// CommitExternal is the part of step 2 of a commit that writes to
// systems outside Kafka: each external sink of the task commits what it
// wrote since its last commit, with the task's input offsets. It runs
// after PrepareCommit and the flush of the task's Kafka output, before
// the offsets are committed. A failure names the task and the sink and
// keeps processor.Retriable's mark.
func (t *Task) CommitExternal(ctx context.Context) error {
	if len(t.external) == 0 || !t.committing() {
		return nil
	}
	offsets := t.ConsumedOffsets()
	for _, ext := range t.external {
		if err := ext.c.CommitExternal(ctx, offsets); err != nil {
			return fmt.Errorf("task %s: external sink %q: committing into %s: %w", t.cfg.ID, ext.name, ext.system, err)
		}
	}
	return nil
}

// HasExternal reports whether the task writes to a system outside Kafka.
func (t *Task) HasExternal() bool { return len(t.external) > 0 }

// StoresOffsetsExternally reports whether the task's input offsets are
// kept by an external sink (topology.ExternalSink.StoredOffsets) rather
// than by the consumer group.
func (t *Task) StoresOffsetsExternally() bool { return t.sub.StoredOffsets != nil }

type externalSink struct {
	name, system string
	c            processor.ExternalCommitter
}

// CommitRequested reports whether a processor called Context.Commit since
// the last commit.
func (t *Task) CommitRequested() bool { return t.commitRequested }

// NeedsCommit reports whether a processor asked for a commit or a
// transactional store's writes overflowed its cache.
func (t *Task) NeedsCommit() bool {
	if t.commitRequested {
		return true
	}
	if !t.cfg.Transactional {
		return false
	}
	for _, name := range t.storeNames {
		if tx, ok := t.stores[name].(stateproto.Transactional); ok && tx.Full() {
			return true
		}
	}
	return false
}

// Transactional reports whether the task's stores keep their writes until
// a commit succeeds (exactly-once).
func (t *Task) Transactional() bool { return t.cfg.Transactional }

// ProcessAll processes every buffered record, smallest timestamp first,
// and checks stream-time punctuation after each: the one processing loop
// of the runtime and the test driver. onError decides about each failure
// of a record or punctuation: nil skips it and goes on, an error stops the
// loop and is returned. It returns the number of records processed, failed
// ones included. A task that is not Running processes nothing.
func (t *Task) ProcessAll(onError func(error) error) (int, error) {
	n := 0
	defer func() {
		t.sensors.processed.Add(int64(n))
		t.sensors.flush()
	}()
	for t.buffered > 0 && t.state == Running {
		_, err := t.Process()
		n++
		if err != nil {
			if err = onError(err); err != nil {
				return n, err
			}
		}
		if _, err := t.PunctuateStreamTime(); err != nil {
			if err = onError(err); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

var _ graph.Env = (*Task)(nil)
