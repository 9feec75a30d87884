package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
)

// step feeds a poll's records to their tasks, processes everything
// buffered, punctuates, and commits when a commit is due.
func (tm *TaskManager) step(ctx context.Context, fetches kgo.Fetches) error {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.mu.fatal != nil {
		return tm.mu.fatal
	}
	if err := tm.commit.begin(); err != nil {
		return err
	}
	if !tm.commit.polled(ctx, fetches) {
		return nil
	}
	if err := tm.addRecords(ctx, fetches); err != nil {
		return err
	}
	now := time.Now()
	for _, tk := range tm.runningTasks() {
		tk.SetSystemTime(now)
		start := time.Now()
		n, err := tk.ProcessAll(func(err error) error { return tm.handle(ctx, tk, err) })
		tm.rt.metrics.Processed.Add(int64(n))
		if n > 0 {
			tm.sensors.process.Add(int64(n))
			if tm.sensors.processLatency != nil {
				tm.sensors.processLatency.Record(int64(time.Since(start)) / int64(n))
			}
		}
		if err != nil {
			return err
		}
	}
	now = time.Now()
	commitRequested := false
	for _, tk := range tm.runningTasks() {
		if _, err := tk.PunctuateWallClock(now); err != nil {
			if err := tm.handle(ctx, tk, err); err != nil {
				return err
			}
		}
		commitRequested = commitRequested || tk.NeedsCommit()
	}
	if commitRequested || now.Sub(tm.commit.lastCommit()) >= tm.rt.cfg.CommitInterval {
		return tm.timedCommit(ctx)
	}
	return nil
}

// addRecords hands the polled records to their tasks, partition by
// partition (the lookups are per partition, not per record). A restoring
// task keeps them, unless the committer wants them read again once it is
// restored; either way its input is paused once it has enough, so that its
// records wait in Kafka, not in memory. The caller holds mu.
func (tm *TaskManager) addRecords(ctx context.Context, fetches kgo.Fetches) error {
	var rewind map[TopicPartition]int64
	var err error
	keep := tm.commit.bufferWhileRestoring()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if err != nil || len(p.Records) == 0 {
			return
		}
		tp := TopicPartition{Topic: p.Topic, Partition: p.Partition}
		tk := tm.mu.byTP[tp]
		if tk == nil {
			// Not ours (any more): its new owner reads it from the
			// committed offset.
			return
		}
		if tk.State() == task.Restoring && !keep {
			if _, ok := rewind[tp]; !ok {
				if rewind == nil {
					rewind = map[TopicPartition]int64{}
				}
				rewind[tp] = p.Records[0].Offset
			}
			return
		}
		tm.commit.took(tp, p.Records[0].Offset)
		for _, r := range p.Records {
			if err = tm.add(ctx, tk, r); err != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	tm.pauseRestoring(keep)
	tm.rewind(rewind)
	return nil
}

// pauseRestoring pauses the input of restoring tasks: at once when their
// records are not kept, else once a task has MaxPollRecords buffered. A
// short restore then never pauses its input: resuming costs up to the
// client's fetch wait (FetchMaxWait), which a fetch already waiting without
// the resumed partitions sits out. The caller holds mu.
func (tm *TaskManager) pauseRestoring(keep bool) {
	for id, tk := range tm.mu.tasks {
		if tk.State() != task.Restoring || tm.mu.paused[id] {
			continue
		}
		if !keep || tk.Buffered() >= tm.rt.cfg.MaxPollRecords {
			tm.client.PauseFetchPartitions(tm.mu.inputs[id])
			tm.mu.paused[id] = true
		}
	}
}

// add hands a consumed record to its task.
func (tm *TaskManager) add(ctx context.Context, tk *task.Task, r *kgo.Record) error {
	tm.raw = graph.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		tm.raw.Headers = make([]processor.Header, len(r.Headers))
		for i, h := range r.Headers {
			tm.raw.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
		}
	}
	err := tk.AddRecord(&tm.raw)
	if err == nil {
		return nil
	}
	var de *processor.DeserializationError
	if !errors.As(err, &de) {
		return err
	}
	tm.rt.metrics.DeserializationErrors.Add(1)
	resp := tm.rt.cfg.Hooks.OnDeserializationError(ctx, r, de)
	if !resp.Continue {
		return fmt.Errorf("streams: task %s: %w", tk.ID(), de)
	}
	tm.coll.SendDeadLetters(resp.DeadLetters)
	return tk.Skip(r.Topic, r.Partition, r.Offset)
}

// handle applies the processing handler to err, the failure of a step of
// tk. It returns nil when the handler skips the failure.
func (tm *TaskManager) handle(ctx context.Context, tk *task.Task, err error) error {
	var pe *processor.ProcessingError
	if !errors.As(err, &pe) {
		return err
	}
	tm.rt.metrics.ProcessingErrors.Add(1)
	resp := tm.rt.cfg.Hooks.OnProcessingError(ctx, pe)
	if !resp.Continue {
		return err
	}
	tm.log.Warn("skipping after a processing error", "error", err)
	tm.coll.SendDeadLetters(resp.DeadLetters)
	if !pe.Punctuation {
		return tk.Skip(pe.Record.Topic, pe.Record.Partition, pe.Record.Offset)
	}
	return nil
}

// shutdown ends the thread's work: with clean, a final commit and a clean
// close of every task; otherwise what is not committed is abandoned and
// the tasks close as they are.
func (tm *TaskManager) shutdown(clean bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed := false
	if clean && len(tm.mu.tasks) > 0 {
		if err := tm.commit.commit(ctx); err != nil {
			tm.log.Warn("final commit failed", "error", err)
		} else {
			committed = true
		}
	}
	if !committed {
		tm.commit.abandon(ctx)
	}
	tm.closeTasks(tm.allTasks(), committed, "closed")
	for _, tk := range tm.standbyTasks() {
		tm.closeStandby(tk)
	}
}

// timedCommit commits the thread's tasks, counted and timed in the
// thread's commit metrics.
func (tm *TaskManager) timedCommit(ctx context.Context) error {
	start := time.Now()
	err := tm.commit.commit(ctx)
	if err == nil {
		tm.sensors.commit.Inc()
		tm.sensors.commitLatency.Since(start)
	}
	return err
}
