package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
)

// External sinks (topology.AddExternalSink) write to a system outside
// Kafka, in its own transactions. Every committer commits them at the same
// point of a commit: after the tasks' stores and Kafka output are flushed,
// before the offsets are committed or the exactly-once transaction ends,
// so that the offsets the group holds never run ahead of what the sinks
// committed. A sink that stores its input offsets with its data is where
// its tasks start reading (storedOffsets), and the group's offsets are
// only for lag monitoring.

// externalBackoff is the first pause before an external commit that failed
// with a retriable error is tried again; it doubles up to maxExternalBackoff.
const (
	externalBackoff    = 100 * time.Millisecond
	maxExternalBackoff = 2 * time.Second
)

// commitExternal commits the external sinks of tasks, retrying a
// retriable failure (a database restarting) with a backoff for up to the
// app's TaskTimeout, and calls committed with each task whose sinks
// committed.
func (tm *TaskManager) commitExternal(ctx context.Context, tasks []*task.Task, committed func(tk *task.Task)) error {
	for _, tk := range tasks {
		if !tk.HasExternal() {
			continue
		}
		if err := retryExternal(ctx, tm.rt.cfg.TaskTimeout, tm.log, func() error { return tk.CommitExternal(ctx) }); err != nil {
			return fmt.Errorf("streams: thread %d: %w", tm.idx, err)
		}
		if committed != nil {
			committed(tk)
		}
	}
	return nil
}

type warnLogger interface {
	Warn(msg string, args ...any)
}

// retryExternal calls f until it succeeds, fails with an error that is not
// retriable, timeout passes, or ctx ends.
func retryExternal(ctx context.Context, timeout time.Duration, log warnLogger, f func() error) error {
	deadline := time.Now().Add(timeout)
	pause := externalBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				log.Warn("external commit succeeded after retries", "attempts", attempt)
			}
			return nil
		}
		if !processor.IsRetriable(err) {
			return err
		}
		if time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("%w (still failing after %d attempts in %v, the TaskTimeout)", err, attempt, timeout)
		}
		log.Warn("external commit failed; retrying", "error", err, "attempt", attempt, "retry_in", pause)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up retrying: %w)", err, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, maxExternalBackoff)
	}
}

// storedOffsets is the part of a thread's AdjustFetchOffsetsFn for the
// sub-topologies whose external sink stores its input offsets: their
// partitions start at the offsets the sink read, in place of the group's.
// A partition the sink has no offset for keeps the group's (or the reset
// offset). The sink is asked again, with a backoff, while it fails: its
// partitions are not read before the offsets are known, and ctx ends when
// the group takes them away.
func (rt *Runtime) storedOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	type want struct {
		sub *graph.Subtopology
		tps []processor.TopicPartition
	}
	var wants []*want
	for topic, ps := range offsets {
		sub := rt.externalOffsetsOf(topic)
		if sub == nil {
			continue
		}
		var w *want
		for _, x := range wants {
			if x.sub == sub {
				w = x
			}
		}
		if w == nil {
			w = &want{sub: sub}
			wants = append(wants, w)
		}
		for p := range ps {
			w.tps = append(w.tps, processor.TopicPartition{Topic: topic, Partition: p})
		}
	}
	for _, w := range wants {
		var stored map[processor.TopicPartition]int64
		pause := externalBackoff
		for {
			var err error
			stored, err = w.sub.StoredOffsets(ctx, rt.cfg.ApplicationID, w.tps)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("streams: reading the stored offsets of sub-topology %d: %w", w.sub.ID, err)
			}
			rt.log.Warn("reading the offsets an external sink stored failed; retrying", "subtopology", w.sub.ID, "error", err, "retry_in", pause)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
		}
		for tp, off := range stored {
			if ps := offsets[tp.Topic]; ps != nil {
				if _, ok := ps[tp.Partition]; ok {
					ps[tp.Partition] = kgo.NewOffset().At(off)
				}
			}
		}
		rt.log.Debug("partitions start at the offsets their external sink stored", "subtopology", w.sub.ID, "offsets", stored)
	}
	return offsets, nil
}

// externalOffsetsOf returns the sub-topology that reads topic if its
// offsets are stored by an external sink.
func (rt *Runtime) externalOffsetsOf(topic string) *graph.Subtopology {
	id, ok := rt.subOf[topic]
	if !ok {
		for _, s := range rt.patterns {
			for _, p := range s.patterns {
				if fullMatch(p, topic) {
					id, ok = s.id, true
				}
			}
		}
	}
	if !ok || rt.prog.Subtopologies[id].StoredOffsets == nil {
		return nil
	}
	return rt.prog.Subtopologies[id]
}

// adjustOffsets is the group's AdjustFetchOffsetsFn: sources' own offset
// resets, then the offsets external sinks stored.
func (rt *Runtime) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	offsets, err := rt.sourceResets(ctx, offsets)
	if err != nil {
		return offsets, err
	}
	return rt.storedOffsets(ctx, offsets)
}
