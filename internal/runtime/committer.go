package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/task"
)

// committer commits a thread's tasks under one delivery guarantee. A
// commit is the same three steps whatever the guarantee (see task's
// PrepareCommit); the committer decides what makes them durable: offsets
// committed with the group before processing (at-most-once) or after
// (at-least-once), or a Kafka transaction (exactly-once).
//
// Every method runs with the TaskManager's lock held, on the thread's
// goroutine, except release, which the rebalance callbacks call.
type committer interface {
	// init prepares the guarantee's clients when the thread starts.
	init(ctx context.Context) error
	// polled sees a poll's records before any of them is buffered; false
	// drops them all.
	polled(ctx context.Context, fetches kgo.Fetches) bool
	// bufferWhileRestoring reports whether the records of a restoring task
	// wait in its buffer (true) or are rewound and read again once it is
	// restored (false).
	bufferWhileRestoring() bool
	// took hears of the first record buffered from a partition in a poll.
	took(tp TopicPartition, offset int64)
	// begin opens what a step's output goes into.
	begin() error
	// commit commits every task of the thread.
	commit(ctx context.Context) error
	// release commits, if it can, the work of tasks a rebalance takes away
	// before they are closed; it reports whether their stores are
	// committed, which makes their close clean (checkpointed).
	release(ctx context.Context, tasks []*task.Task) (clean bool, err error)
	// forget drops what the committer keeps about partitions that are no
	// longer the thread's.
	forget(tps []TopicPartition)
	// mayRebalance reports whether the loop may let a rebalance the last
	// poll blocked go on now.
	mayRebalance() bool
	// abandon gives up what is not committed when the thread fails.
	abandon(ctx context.Context)
	// lastCommit is when the last commit started.
	lastCommit() time.Time
}

func newCommitter(tm *TaskManager, txn Transactions) committer {
	switch tm.rt.cfg.Guarantee {
	case eos.ExactlyOnce:
		return &exactlyOnce{tm: tm, txn: txn, last: time.Now(), txnStart: map[TopicPartition]int64{}}
	case eos.AtMostOnce:
		return &atMostOnce{flusher{tm: tm, last: time.Now()}}
	default:
		return &atLeastOnce{flusher: flusher{tm: tm, last: time.Now()}, committed: map[TopicPartition]int64{}}
	}
}

// flusher is the commit that at-least-once and at-most-once share: the
// stores are written down and every produced record acknowledged, with the
// production handler deciding about rejected ones.
type flusher struct {
	tm   *TaskManager
	last time.Time
}

func (f *flusher) init(context.Context) error               { return nil }
func (f *flusher) bufferWhileRestoring() bool               { return true }
func (f *flusher) took(TopicPartition, int64)               {}
func (f *flusher) begin() error                             { return nil }
func (f *flusher) forget([]TopicPartition)                  {}
func (f *flusher) mayRebalance() bool                       { return true }
func (f *flusher) abandon(context.Context)                  {}
func (f *flusher) lastCommit() time.Time                    { return f.last }
func (f *flusher) polled(context.Context, kgo.Fetches) bool { return true }

// flush is steps 1 and 2 of a commit of tasks.
func (f *flusher) flush(ctx context.Context, tasks []*task.Task) error {
	f.last = time.Now()
	for _, tk := range tasks {
		if err := tk.PrepareCommit(); err != nil {
			return err
		}
	}
	coll := f.tm.coll
	// Dead letters the production handler returns are produced too, and
	// waited for; a handler that keeps returning records the broker
	// rejects is stopped after a few rounds.
	for range 3 {
		if err := coll.Flush(ctx); err != nil {
			return fmt.Errorf("streams: thread %d: %w", f.tm.idx, err)
		}
		sent := f.tm.rt.metrics.DeadLetters.Load()
		if err := coll.HandleFailures(ctx); err != nil {
			return err
		}
		if f.tm.rt.metrics.DeadLetters.Load() == sent {
			return nil
		}
	}
	return fmt.Errorf("streams: thread %d: the dead letters for rejected records were rejected too", f.tm.idx)
}

func finish(tasks []*task.Task, changelogEnd func(tk *task.Task, store string) int64) error {
	var errs []error
	for _, tk := range tasks {
		errs = append(errs, tk.FinishCommit(func(store string) int64 { return changelogEnd(tk, store) }))
	}
	return errors.Join(errs...)
}

func noChangelogEnd(*task.Task, string) int64 { return -1 }

// atLeastOnce commits the offsets after the processed records once the
// stores and the output are durable: a crash repeats at most the work done
// since the last commit.
type atLeastOnce struct {
	flusher
	// committed is the last offset committed per partition, so that a
	// commit sends only what moved.
	committed map[TopicPartition]int64
}

func (c *atLeastOnce) commit(ctx context.Context) error { return c.commitTasks(ctx, c.tm.allTasks()) }

func (c *atLeastOnce) commitTasks(ctx context.Context, tasks []*task.Task) error {
	if err := c.flush(ctx, tasks); err != nil {
		return err
	}
	if err := c.tm.commitExternal(ctx, tasks, nil); err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, tk := range tasks {
		for tp, off := range tk.ConsumedOffsets() {
			if c.committed[tp] == off {
				continue
			}
			if offsets[tp.Topic] == nil {
				offsets[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	if len(offsets) > 0 {
		if err := c.tm.client.CommitOffsets(ctx, offsets); err != nil {
			if !isRebalanceError(err) {
				return fmt.Errorf("streams: thread %d: committing offsets: %w", c.tm.idx, err)
			}
			// The tasks are being moved; their new owner repeats what was
			// not committed, which at-least-once allows.
			c.tm.log.Warn("commit lost to a rebalance", "error", err)
			return finish(tasks, noChangelogEnd)
		}
		for topic, ps := range offsets {
			for p, o := range ps {
				c.committed[TopicPartition{Topic: topic, Partition: p}] = o.Offset
			}
		}
		c.tm.rt.metrics.Commits.Add(1)
	}
	return finish(tasks, noChangelogEnd)
}

func (c *atLeastOnce) release(ctx context.Context, tasks []*task.Task) (bool, error) {
	err := c.commitTasks(ctx, tasks)
	return err == nil, err
}

func (c *atLeastOnce) forget(tps []TopicPartition) {
	for _, tp := range tps {
		delete(c.committed, tp)
	}
}

// atMostOnce commits the offsets after the polled records before they are
// processed: a crash loses at most the work polled since.
type atMostOnce struct{ flusher }

func (c *atMostOnce) polled(ctx context.Context, fetches kgo.Fetches) bool {
	if fetches.Empty() {
		return true
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			if offsets[p.Topic] == nil {
				offsets[p.Topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: -1, Offset: p.Records[n-1].Offset + 1}
		}
	})
	if err := c.tm.client.CommitOffsets(ctx, offsets); err != nil {
		// The partitions' next owner reads them from the last commit.
		c.tm.log.Warn("at-most-once commit before processing failed; dropping the polled records", "error", err)
		return false
	}
	return true
}

func (c *atMostOnce) commit(ctx context.Context) error {
	tasks := c.tm.allTasks()
	if err := c.flush(ctx, tasks); err != nil {
		return err
	}
	if err := c.tm.commitExternal(ctx, tasks, nil); err != nil {
		return err
	}
	return finish(tasks, noChangelogEnd)
}

func (c *atMostOnce) release(ctx context.Context, tasks []*task.Task) (bool, error) {
	if err := c.flush(ctx, tasks); err != nil {
		return false, err
	}
	if err := c.tm.commitExternal(ctx, tasks, nil); err != nil {
		return false, err
	}
	return true, finish(tasks, noChangelogEnd)
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
