package runtime

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/internal/task"
)

// globalStateManager keeps the global stores' positions, as Kafka Streams'
// GlobalStateManager: where each global topic partition's restore starts
// (the persistent stores' checkpoint, <state.dir>/<app>/global/.checkpoint,
// or the beginning), the restore listener's events, and the checkpoint
// written when the global thread closes cleanly.
//
// The checkpoint is removed as soon as the stores may move past it and
// written only once they are closed, which makes a RocksDB store's
// contents durable (it keeps no write-ahead log): a crash leaves no
// checkpoint, and so a full restore, never one from a stale position onto
// newer contents. Kafka Streams writes it at every commit, after flushing
// RocksDB's memtables, which our Flush does not do.
type globalStateManager struct {
	dir      string
	log      *slog.Logger
	listener RestoreListener // nil for none
	tk       *task.GlobalTask

	restores map[TopicPartition]*globalRestore
}

// globalRestore is the bootstrap of one partition of a global topic.
type globalRestore struct {
	store      string
	start, end int64
	next       int64
	records    int64
	batch      int
	began      time.Time
	done       bool
}

func (r *globalRestore) event(tp TopicPartition) RestoreEvent {
	return RestoreEvent{Store: r.store, Task: task.GlobalTaskID, Topic: tp.Topic, Partition: tp.Partition,
		StartOffset: r.start, EndOffset: r.end, Offset: r.next, BatchRecords: r.batch, Records: r.records, Elapsed: time.Since(r.began)}
}

// plan works out where each partition's bootstrap starts, given the
// partitions' first and end offsets, and wipes the persistent stores that
// restore from the beginning. It removes the checkpoint: from now on the
// stores move past it.
func (m *globalStateManager) plan(starts, ends map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	cp, err := checkpoint.Read(m.dir)
	if err != nil {
		m.log.Warn("ignoring the global stores' checkpoint: the persistent ones are restored from the beginning", "error", err)
		cp = nil
	}
	byStore := map[string][]TopicPartition{}
	for tp := range ends {
		store := m.tk.StoreOf(tp.Topic)
		byStore[store] = append(byStore[store], tp)
	}
	from := map[TopicPartition]int64{}
	m.restores = map[TopicPartition]*globalRestore{}
	for store, tps := range byStore {
		st := m.tk.Stores()[store]
		// A persistent store restores from its checkpoint when it has one
		// for every partition, none past the partition's end (a recreated
		// topic); else from the beginning, wiped first: what it holds
		// cannot be matched to the topic.
		fromCheckpoint := st.Persistent()
		for _, tp := range tps {
			off, ok := cp[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}]
			if !ok || off > ends[tp] || off < starts[tp] {
				fromCheckpoint = false
			}
		}
		if st.Persistent() && !fromCheckpoint {
			if len(cp) > 0 {
				m.log.Warn("the global store's checkpoint does not match its topic; restoring it from the beginning", "store", store)
			}
			if w, ok := st.(stateproto.Restorer); ok {
				if err := w.Wipe(); err != nil {
					return nil, fmt.Errorf("streams: global store %q: wiping it before a full restore: %w", store, err)
				}
			}
		}
		for _, tp := range tps {
			start := starts[tp]
			if fromCheckpoint {
				start = cp[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}]
			}
			from[tp] = start
			now := time.Now()
			r := &globalRestore{store: store, start: start, end: ends[tp], next: start, began: now}
			m.restores[tp] = r
			m.tk.SetOffset(tp.Topic, tp.Partition, start)
			if m.listener != nil {
				m.listener.OnRestoreStart(r.event(tp))
			}
		}
	}
	if err := checkpoint.Remove(m.dir); err != nil {
		return nil, fmt.Errorf("streams: global stores: %w", err)
	}
	return from, nil
}

// restored notes that tp's bootstrap got to next, having restored n
// records since the last call; it reports whether every partition is
// done.
func (m *globalStateManager) restored(tp TopicPartition, next int64, n int) {
	r := m.restores[tp]
	if r == nil || r.done {
		return
	}
	r.next = max(r.next, next)
	if n > 0 {
		r.records += int64(n)
		r.batch = n
		if m.listener != nil {
			m.listener.OnBatchRestored(r.event(tp))
		}
		r.batch = 0
	}
}

// finished ends the restores that reached their end and reports whether
// all have.
func (m *globalStateManager) finished() bool {
	all := true
	for tp, r := range m.restores {
		if r.done {
			continue
		}
		if r.next < r.end {
			all = false
			continue
		}
		r.done = true
		if m.listener != nil {
			m.listener.OnRestoreEnd(r.event(tp))
		}
		m.log.Info("global store restored", "store", r.store, "topic", tp.Topic, "partition", tp.Partition,
			"records", r.records, "elapsed", time.Since(r.began))
	}
	return all
}

// checkpointOffsets are the positions of the persistent stores' topics,
// worked out before the stores close; nil for none.
func (m *globalStateManager) checkpointOffsets() map[checkpoint.Partition]int64 {
	out := map[checkpoint.Partition]int64{}
	for tp, off := range m.tk.Offsets() {
		if st := m.tk.Stores()[m.tk.StoreOf(tp.Topic)]; st != nil && st.Persistent() {
			out[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}] = off
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// writeCheckpoint writes offsets, once the stores are closed.
func (m *globalStateManager) writeCheckpoint(offsets map[checkpoint.Partition]int64) {
	if offsets == nil {
		return
	}
	if err := checkpoint.Write(m.dir, offsets); err != nil {
		m.log.Warn("writing the global stores' checkpoint; their next start restores them from the beginning", "error", err)
	}
}
