package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// RestoreListener learns about the restoration of stores from their
// changelogs. Its methods run on a stream thread: keep them quick.
type RestoreListener interface {
	// OnRestoreStart is called when a store starts restoring.
	OnRestoreStart(e RestoreEvent)
	// OnBatchRestored is called after each batch written to the store.
	OnBatchRestored(e RestoreEvent)
	// OnRestoreEnd is called when the store has caught up with its
	// changelog.
	OnRestoreEnd(e RestoreEvent)
}

// RestoreEvent describes a store's restoration.
type RestoreEvent struct {
	Store string
	Task  processor.TaskID
	// Topic and Partition are the changelog partition.
	Topic     string
	Partition int32
	// StartOffset is where the restore began; EndOffset is the changelog's
	// end when it began, which the store catches up to.
	StartOffset, EndOffset int64
	// Offset is the position reached: the offset after the last record
	// restored.
	Offset int64
	// BatchRecords is the number of records in the batch just written
	// (OnBatchRestored); Records the total restored so far.
	BatchRecords int
	Records      int64
	// Elapsed is the time since the restore started.
	Elapsed time.Duration
}

// restoring is a task whose stores are being restored.
type restoring struct {
	tk     *task.Task
	stores map[task.TopicPartition]*storeRestore
	inputs map[string][]int32 // the task's input partitions, paused meanwhile
	paused bool
}

type storeRestore struct {
	name    string
	r       state.Restorer
	start   int64
	end     int64
	next    int64
	records int64
	began   time.Time
	logged  time.Time // when progress was last logged, or began
	// from says where a persistent store's restore started: its
	// checkpoint, its own changelog offset, or "" for the beginning.
	from  string
	batch []state.KeyValue[[]byte, []byte]
}

// defaultProgressEvery is how often a long restore logs its progress.
const defaultProgressEvery = 10 * time.Second

func (sr *storeRestore) event(id processor.TaskID, tp task.TopicPartition) RestoreEvent {
	return RestoreEvent{Store: sr.name, Task: id, Topic: tp.Topic, Partition: tp.Partition,
		StartOffset: sr.start, EndOffset: sr.end, Offset: sr.next, Records: sr.records, Elapsed: time.Since(sr.began)}
}

// startRestore sets up the restoration of tk's logged stores. A store whose
// changelog is empty is restored at once; if every store is, the task is
// ready. The caller holds mu.
func (th *thread) startRestore(ctx context.Context, tk *task.Task, inputs map[string][]int32) error {
	logs := tk.Changelogs()
	if len(logs) == 0 {
		th.app.local.add(tk)
		th.app.attachSubscriptions(tk.Stores(), tk.ID())
		return nil
	}
	topics := make([]string, 0, len(logs))
	for _, topic := range logs {
		topics = append(topics, topic)
	}
	list := th.app.admin.ListEndOffsets
	if th.sess != nil {
		// read_committed: restore up to the last stable offset, the end of
		// what committed transactions wrote.
		list = th.app.admin.ListCommittedOffsets
	}
	ends, err := list(ctx, topics...)
	if err != nil {
		return fmt.Errorf("streams: task %s: end offsets of its changelogs: %w", tk.ID(), err)
	}
	rs := &restoring{tk: tk, stores: map[task.TopicPartition]*storeRestore{}, inputs: inputs}
	add := map[string]map[int32]kgo.Offset{}
	p := tk.ID().Partition
	// A persistent store restores from its checkpoint: only what the
	// changelog got after the task last closed cleanly.
	cp, cpErr := checkpoint.Read(tk.StateDir())
	if cpErr != nil {
		th.log.Warn("ignoring the task's checkpoint: its persistent stores are restored from the beginning",
			"task", tk.ID().String(), "error", cpErr)
		cp = nil
	}
	for store, topic := range logs {
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			return fmt.Errorf("streams: task %s: end offset of changelog %s-%d: %v", tk.ID(), topic, p, o.Err)
		}
		st, _ := tk.Store(store)
		r, ok := st.(state.Restorer)
		if !ok {
			return fmt.Errorf("streams: task %s: store %q (%T) cannot be restored from its changelog", tk.ID(), store, st)
		}
		now := time.Now()
		sr := &storeRestore{name: store, r: r, end: o.Offset, began: now, logged: now}
		tp := task.TopicPartition{Topic: topic, Partition: p}
		if st.Persistent() {
			if err := th.restoreStart(tk, sr, cp, tp); err != nil {
				return err
			}
			th.mu.restoredTo[tp] = sr.end
		}
		if th.app.cfg.RestoreListener != nil {
			th.app.cfg.RestoreListener.OnRestoreStart(sr.event(tk.ID(), tp))
		}
		if sr.end <= sr.start {
			th.endRestore(tk.ID(), tp, sr)
			continue
		}
		th.log.Info("restoring store", "task", tk.ID().String(), "store", store, "changelog", topic, "records", sr.end-sr.start,
			"from", cmp.Or(sr.from, "the beginning"))
		rs.stores[tp] = sr
		if add[topic] == nil {
			add[topic] = map[int32]kgo.Offset{}
		}
		add[topic][p] = kgo.NewOffset().At(sr.start)
	}
	if len(rs.stores) == 0 {
		return th.restored(tk)
	}
	th.mu.restoring[tk.ID()] = rs
	th.restore.AddConsumePartitions(add)
	return nil
}

func (th *thread) endRestore(id processor.TaskID, tp task.TopicPartition, sr *storeRestore) {
	if th.app.cfg.RestoreListener != nil {
		th.app.cfg.RestoreListener.OnRestoreEnd(sr.event(id, tp))
	}
	th.log.Info("store restored", "task", id.String(), "store", sr.name, "records", sr.records, "elapsed", time.Since(sr.began))
}

// restoreStep polls the changelogs being restored and writes what came to
// the stores, one batch per store. Tasks whose stores all caught up start
// processing.
func (th *thread) restoreStep(ctx context.Context, wait time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, wait)
	fetches := th.restore.PollRecords(pctx, 10_000)
	cancel()
	th.mu.Lock()
	defer th.mu.Unlock()
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue // the poll's wait ended
		}
		return fmt.Errorf("streams: restoring from %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	touched := map[*storeRestore]task.TopicPartition{}
	fetches.EachRecord(func(r *kgo.Record) {
		tp := task.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		for _, rs := range th.mu.restoring {
			sr := rs.stores[tp]
			if sr == nil || r.Offset < sr.next {
				continue
			}
			sr.next = r.Offset + 1
			if !r.Attrs.IsControl() && r.Offset < sr.end {
				sr.batch = append(sr.batch, state.KeyValue[[]byte, []byte]{Key: r.Key, Value: r.Value})
			}
			touched[sr] = tp
		}
	})
	for id, rs := range th.mu.restoring {
		for tp, sr := range rs.stores {
			if _, ok := touched[sr]; !ok {
				continue
			}
			if len(sr.batch) > 0 {
				if err := sr.r.Restore(sr.batch); err != nil {
					return fmt.Errorf("streams: task %s: restoring store %q: %w", id, sr.name, err)
				}
				sr.records += int64(len(sr.batch))
				if th.app.cfg.RestoreListener != nil {
					e := sr.event(id, tp)
					e.BatchRecords = len(sr.batch)
					th.app.cfg.RestoreListener.OnBatchRestored(e)
				}
				clear(sr.batch)
				sr.batch = sr.batch[:0]
				if time.Since(sr.logged) >= th.app.progressEvery && sr.next < sr.end {
					sr.logged = time.Now()
					th.log.Info("store restore progress", "task", id.String(), "store", sr.name,
						"restored", sr.records, "offset", sr.next, "end", sr.end, "elapsed", time.Since(sr.began))
				}
			}
			if sr.next >= sr.end {
				th.restore.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
				delete(rs.stores, tp)
				th.endRestore(id, tp, sr)
			}
		}
		if len(rs.stores) == 0 {
			if err := th.restored(rs.tk); err != nil {
				return err
			}
			delete(th.mu.restoring, id)
			if rs.paused {
				th.cl.ResumeFetchPartitions(rs.inputs)
			}
			th.log.Info("task restored; processing", "task", id.String())
		}
	}
	return nil
}

// pauseRestoring pauses the input of restoring tasks, so that their
// records wait in Kafka, not in memory: under exactly-once at once (their
// records are not kept but rewound), else once a task has MaxPollRecords
// buffered. A short restore then never pauses its input: resuming costs up
// to the client's fetch wait (FetchMaxWait), which a fetch already waiting
// without the resumed partitions sits out. The caller holds mu.
func (th *thread) pauseRestoring() {
	for _, rs := range th.mu.restoring {
		if !rs.paused && (th.sess != nil || rs.tk.Buffered() >= th.app.cfg.MaxPollRecords) {
			th.cl.PauseFetchPartitions(rs.inputs)
			rs.paused = true
		}
	}
}

// stopRestore forgets the restoration of a task that is dropped. The
// caller holds mu.
func (th *thread) stopRestore(id processor.TaskID) {
	rs := th.mu.restoring[id]
	if rs == nil {
		return
	}
	for tp := range rs.stores {
		th.restore.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	}
	if rs.paused {
		th.cl.ResumeFetchPartitions(rs.inputs)
	}
	delete(th.mu.restoring, id)
}

// restoreStart decides where a persistent store's restore starts: at its
// checkpoint, when it has a valid one, or else at the beginning, after
// wiping the store, whose contents cannot be matched to the changelog.
func (th *thread) restoreStart(tk *task.Task, sr *storeRestore, cp map[checkpoint.Partition]int64, tp task.TopicPartition) error {
	off, ok := cp[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}]
	from := "checkpoint"
	if !ok {
		// No checkpoint: the task did not close cleanly. A store that keeps
		// the changelog offset with its data (ExactlyOnce) knows how far it
		// got, and restores only the tail.
		if r, isReader := sr.r.(state.ChangelogOffsetReader); isReader {
			var err error
			if off, ok, err = r.ChangelogOffset(); err != nil {
				th.log.Warn("reading the store's changelog offset; restoring it from the beginning",
					"task", tk.ID().String(), "store", sr.name, "error", err)
				ok = false
			}
			from = "the store's changelog offset"
		}
	}
	switch {
	case ok && off <= sr.end:
		sr.start, sr.next = off, off
		sr.from = from
		return nil
	case ok:
		th.log.Warn(from+" is ahead of the changelog (was the changelog recreated?); restoring the store from the beginning",
			"task", tk.ID().String(), "store", sr.name, "offset", off, "changelog end", sr.end)
	}
	if err := sr.r.Wipe(); err != nil {
		return fmt.Errorf("streams: task %s: wiping store %q before a full restore: %w", tk.ID(), sr.name, err)
	}
	return nil
}

// restored is called when all of tk's stores caught up. Its checkpoint is
// removed: from now on its persistent stores move past it, and a crash must
// not restore them from a stale position onto newer contents. A clean close
// writes a new one.
func (th *thread) restored(tk *task.Task) error {
	th.app.local.add(tk)
	th.app.attachSubscriptions(tk.Stores(), tk.ID())
	if tk.StateDir() == "" {
		return nil
	}
	return checkpoint.Remove(tk.StateDir())
}

// checkpoints works out, for each of ts with persistent logged stores, how
// far their changelogs reflect them. It runs after a successful commit
// (every changelog record acknowledged) as the tasks are closed cleanly;
// the files are written with writeCheckpoints only after the stores are
// closed, which makes their contents durable (a RocksDB store without a
// write-ahead log writes its memtables then): a crash in between leaves no
// checkpoint, and so a full restore. The caller holds mu.
func (th *thread) checkpoints(ts []*task.Task) map[string]map[checkpoint.Partition]int64 {
	files := map[string]map[checkpoint.Partition]int64{}
	for _, tk := range ts {
		if th.mu.restoring[tk.ID()] != nil {
			continue // not restored: its old checkpoint, if any, still holds
		}
		offsets := map[checkpoint.Partition]int64{}
		for store, topic := range tk.Changelogs() {
			st, _ := tk.Store(store)
			if !st.Persistent() {
				continue
			}
			tp := task.TopicPartition{Topic: topic, Partition: tk.ID().Partition}
			offsets[checkpoint.Partition{Topic: topic, Partition: tp.Partition}] = max(th.mu.restoredTo[tp], th.coll.ackedEnd(tp))
		}
		if len(offsets) > 0 {
			files[tk.StateDir()] = offsets
		}
	}
	return files
}

// writeCheckpoints writes the checkpoint files checkpoints worked out, once
// the tasks' stores are closed.
func (th *thread) writeCheckpoints(files map[string]map[checkpoint.Partition]int64) {
	for dir, offsets := range files {
		if err := checkpoint.Write(dir, offsets); err != nil {
			th.log.Warn("writing a task's checkpoint; its next start restores its stores from the beginning",
				"dir", dir, "error", err)
		}
	}
}
