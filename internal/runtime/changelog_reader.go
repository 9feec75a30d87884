package runtime

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// ChangelogReader restores tasks' stores from their changelog topics, as
// Kafka Streams' StoreChangelogReader: it reads the changelog partitions of
// the stores being restored with a consumer outside the group, writes each
// batch to its store below the change-logging layer, and tells which tasks
// have caught up. It also works out the tasks' checkpoints.
//
// It belongs to one TaskManager and is used under its lock, but for Poll,
// which only reads the network.
type ChangelogReader struct {
	consumer ChangelogConsumer
	admin    Admin
	// group is the application's consumer group, whose committed offsets
	// bound the restore of a store from a source topic.
	group    string
	log      *slog.Logger
	listener RestoreListener // nil for none
	// committedOnly restores up to the last stable offset (exactly-once).
	committedOnly bool
	progressEvery time.Duration

	restoring map[processor.TaskID]*restoration
	// restoredTo is, per changelog partition of a persistent store, the
	// changelog end its restore reached: its checkpoint if nothing was
	// written since. reached is the same for every store.
	restoredTo map[TopicPartition]int64
	reached    map[TopicPartition]int64
}

// restoration is a task whose stores are being restored, or a standby
// task, whose stores follow their changelogs until it is promoted or
// closed.
type restoration struct {
	tk      *task.Task
	stores  map[TopicPartition]*storeRestore
	standby bool
}

type storeRestore struct {
	name    string
	r       stateproto.Restorer
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
	// stampValues, for a timestamped store restored from a source topic,
	// puts each record's timestamp in front of its value, as the store
	// keeps it; the topic's records hold the value alone.
	stampValues bool
}

func newChangelogReader(consumer ChangelogConsumer, admin Admin, group string, log *slog.Logger, listener RestoreListener, committedOnly bool, progressEvery time.Duration) *ChangelogReader {
	return &ChangelogReader{consumer: consumer, admin: admin, group: group, log: log, listener: listener, committedOnly: committedOnly,
		progressEvery: progressEvery, restoring: map[processor.TaskID]*restoration{}, restoredTo: map[TopicPartition]int64{},
		reached: map[TopicPartition]int64{}}
}

func (sr *storeRestore) event(id processor.TaskID, tp TopicPartition) RestoreEvent {
	return RestoreEvent{Store: sr.name, Task: id, Topic: tp.Topic, Partition: tp.Partition,
		StartOffset: sr.start, EndOffset: sr.end, Offset: sr.next, Records: sr.records, Elapsed: time.Since(sr.began)}
}

// Restoring reports whether any active task is being restored.
func (r *ChangelogReader) Restoring() bool {
	for _, rs := range r.restoring {
		if !rs.standby {
			return true
		}
	}
	return false
}

// HasStandbys reports whether the reader keeps any standby task.
func (r *ChangelogReader) HasStandbys() bool {
	for _, rs := range r.restoring {
		if rs.standby {
			return true
		}
	}
	return false
}

// Register sets up the restoration of tk's logged stores, which must be
// open (tk Restoring). A store whose changelog has nothing it lacks is
// restored at once; it reports whether every store is.
func (r *ChangelogReader) Register(ctx context.Context, tk *task.Task) (bool, error) {
	return r.register(ctx, tk, tk.Changelogs(), false)
}

// RegisterStandby makes tk, open and never to run its processors until
// promoted, a standby task: its stores follow their changelogs, from their
// checkpoints as a restore starts, with no end (Kafka Streams' standby
// task, read by the same reader as restorations). A store restored from a
// source topic is left out: the topic holds records the group has not
// committed yet, which the task reprocesses once active, so its standby
// copy would be ahead of what the active task must start from; Promote
// restores it.
func (r *ChangelogReader) RegisterStandby(ctx context.Context, tk *task.Task) error {
	_, err := r.register(ctx, tk, followed(tk), true)
	return err
}

// followed are the changelogs of tk's stores that a standby follows: all
// but source topics.
func followed(tk *task.Task) map[string]string {
	logs := maps.Clone(tk.Changelogs())
	maps.DeleteFunc(logs, func(store, _ string) bool { ok, _ := tk.SourceChangelog(store); return ok })
	return logs
}

// register sets up the restoration of the stores in logs (store ->
// changelog topic) of tk, replacing what the reader had of tk.
func (r *ChangelogReader) register(ctx context.Context, tk *task.Task, logs map[string]string, standby bool) (bool, error) {
	if len(logs) == 0 {
		if standby {
			r.restoring[tk.ID()] = &restoration{tk: tk, stores: map[TopicPartition]*storeRestore{}, standby: true}
		}
		return true, nil
	}
	topics := make([]string, 0, len(logs))
	for _, topic := range logs {
		topics = append(topics, topic)
	}
	ends, endErrs, err := r.admin.EndOffsets(ctx, r.committedOnly, topics...)
	if err != nil {
		return false, fmt.Errorf("streams: task %s: end offsets of its changelogs: %w", tk.ID(), err)
	}
	// A store restored from a source topic restores only what the group
	// has committed there: the task processes the rest, and restoring it
	// too would forward its records twice (Kafka Streams'
	// StoreChangelogReader does the same for source changelogs).
	var committed map[TopicPartition]int64
	for store := range logs {
		if ok, _ := tk.SourceChangelog(store); ok && committed == nil {
			if committed, err = r.admin.CommittedOffsets(ctx, r.group, topics...); err != nil {
				return false, fmt.Errorf("streams: task %s: committed offsets of its source changelogs: %w", tk.ID(), err)
			}
		}
	}
	rs := &restoration{tk: tk, stores: map[TopicPartition]*storeRestore{}, standby: standby}
	add := map[string]map[int32]kgo.Offset{}
	p := tk.ID().Partition
	// A persistent store restores from its checkpoint: only what the
	// changelog got after the task last closed cleanly.
	cp, cpErr := checkpoint.Read(tk.StateDir())
	if cpErr != nil {
		r.log.Warn("ignoring the task's checkpoint: its persistent stores are restored from the beginning",
			"task", tk.ID().String(), "error", cpErr)
		cp = nil
	}
	for store, topic := range logs {
		tp := TopicPartition{Topic: topic, Partition: p}
		end, ok := ends[tp]
		if !ok {
			return false, fmt.Errorf("streams: task %s: end offset of changelog %s-%d: %v", tk.ID(), topic, p, cmp.Or(endErrs[tp], errors.New("not in the cluster's answer")))
		}
		st, _ := tk.Store(store)
		rr, ok := st.(stateproto.Restorer)
		if !ok {
			return false, fmt.Errorf("streams: task %s: store %q (%T) cannot be restored from its changelog", tk.ID(), store, st)
		}
		now := time.Now()
		sr := &storeRestore{name: store, r: rr, end: end, began: now, logged: now}
		if ok, timestamped := tk.SourceChangelog(store); ok {
			sr.end = min(end, committed[tp]) // nothing committed: nothing to restore
			sr.stampValues = timestamped
		}
		if st.Persistent() {
			if err := r.restoreStart(tk, sr, cp, tp); err != nil {
				return false, err
			}
			r.restoredTo[tp] = sr.end
		}
		if standby {
			// It follows the changelog until promoted: Promote sets its end.
			r.log.Info("standby store", "task", tk.ID().String(), "store", store, "changelog", topic,
				"behind", end-sr.start, "from", cmp.Or(sr.from, "the beginning"))
			sr.end = math.MaxInt64
			if st.Persistent() {
				r.restoredTo[tp] = sr.start
			}
		} else {
			if r.listener != nil {
				r.listener.OnRestoreStart(sr.event(tk.ID(), tp))
			}
			if sr.end <= sr.start {
				r.endRestore(tk.ID(), tp, sr)
				continue
			}
			r.log.Info("restoring store", "task", tk.ID().String(), "store", store, "changelog", topic, "records", sr.end-sr.start,
				"from", cmp.Or(sr.from, "the beginning"))
		}
		rs.stores[tp] = sr
		if add[topic] == nil {
			add[topic] = map[int32]kgo.Offset{}
		}
		add[topic][p] = kgo.NewOffset().At(sr.start)
	}
	if len(rs.stores) == 0 && !standby {
		return true, nil
	}
	r.restoring[tk.ID()] = rs
	if len(add) > 0 {
		r.consumer.AddConsumePartitions(add)
	}
	return false, nil
}

// Promote turns the standby task tk into an active task being restored:
// each store is restored from where the standby got to up to the
// changelog's end now (the tail the standby lacks), and a store it left
// out (restored from a source topic) as Register restores it. It reports
// whether tk's stores are all restored already.
func (r *ChangelogReader) Promote(ctx context.Context, tk *task.Task) (bool, error) {
	rs := r.restoring[tk.ID()]
	if rs == nil || !rs.standby {
		return false, fmt.Errorf("streams: task %s: promoted, but it is no standby task here", tk.ID())
	}
	logs := tk.Changelogs()
	topics := make([]string, 0, len(logs))
	for _, topic := range logs {
		topics = append(topics, topic)
	}
	if len(topics) == 0 {
		delete(r.restoring, tk.ID())
		return true, nil
	}
	ends, endErrs, err := r.admin.EndOffsets(ctx, r.committedOnly, topics...)
	if err != nil {
		return false, fmt.Errorf("streams: task %s: end offsets of its changelogs: %w", tk.ID(), err)
	}
	rs.standby = false
	var tail int64
	for tp, sr := range rs.stores {
		end, ok := ends[tp]
		if !ok {
			return false, fmt.Errorf("streams: task %s: end offset of changelog %s-%d: %v", tk.ID(), tp.Topic, tp.Partition, cmp.Or(endErrs[tp], errors.New("not in the cluster's answer")))
		}
		// The restore of the promoted task is the tail alone: what the
		// standby applied before does not count as restored now.
		now := time.Now()
		sr.end, sr.start, sr.records, sr.began, sr.logged, sr.from = end, sr.next, 0, now, now, "its standby"
		if st, _ := tk.Store(sr.name); st.Persistent() {
			r.restoredTo[tp] = end
		}
		if r.listener != nil {
			r.listener.OnRestoreStart(sr.event(tk.ID(), tp))
		}
		tail += max(end-sr.next, 0)
	}
	r.log.Info("standby task promoted: restoring the tail of its changelogs", "task", tk.ID().String(), "records", tail)
	for tp, sr := range rs.stores {
		if sr.next >= sr.end {
			r.consumer.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
			delete(rs.stores, tp)
			r.endRestore(tk.ID(), tp, sr)
		}
	}
	// The source-topic stores the standby left out restore as Register
	// restores them.
	sources := maps.Clone(logs)
	maps.DeleteFunc(sources, func(store, _ string) bool { ok, _ := tk.SourceChangelog(store); return !ok })
	delete(r.restoring, tk.ID())
	if _, err := r.register(ctx, tk, sources, false); err != nil {
		return false, err
	}
	if left := r.restoring[tk.ID()]; left != nil {
		maps.Copy(rs.stores, left.stores)
	}
	if len(rs.stores) == 0 {
		delete(r.restoring, tk.ID())
		return true, nil
	}
	r.restoring[tk.ID()] = rs
	return false, nil
}

// RecycleToStandby makes tk, an active task just recycled (task.Recycle)
// after a clean commit, a standby task whose stores follow their
// changelogs from where they are: the end the task's restore reached or
// what its own writes made the end (acked), whichever is later. Nothing is
// wiped or restored again.
func (r *ChangelogReader) RecycleToStandby(tk *task.Task, acked func(TopicPartition) int64) {
	rs := &restoration{tk: tk, stores: map[TopicPartition]*storeRestore{}, standby: true}
	add := map[string]map[int32]kgo.Offset{}
	now := time.Now()
	for store, topic := range followed(tk) {
		tp := TopicPartition{Topic: topic, Partition: tk.ID().Partition}
		st, _ := tk.Store(store)
		rr, ok := st.(stateproto.Restorer)
		if !ok {
			continue
		}
		pos := max(r.reached[tp], acked(tp), 0)
		rs.stores[tp] = &storeRestore{name: store, r: rr, start: pos, next: pos, end: math.MaxInt64, began: now, logged: now, from: "its active task"}
		if st.Persistent() {
			r.restoredTo[tp] = pos
		}
		if add[topic] == nil {
			add[topic] = map[int32]kgo.Offset{}
		}
		add[topic][tp.Partition] = kgo.NewOffset().At(pos)
	}
	r.restoring[tk.ID()] = rs
	if len(add) > 0 {
		r.consumer.AddConsumePartitions(add)
	}
}

// Positions returns, for each changelog partition of tk's stores that the
// reader follows, the offset it reads next.
func (r *ChangelogReader) Positions(id processor.TaskID) map[TopicPartition]int64 {
	rs := r.restoring[id]
	if rs == nil {
		return nil
	}
	out := make(map[TopicPartition]int64, len(rs.stores))
	for tp, sr := range rs.stores {
		out[tp] = sr.next
	}
	return out
}

// restoreStart decides where a persistent store's restore starts: at its
// checkpoint, when it has a valid one, or else at the beginning, after
// wiping the store, whose contents cannot be matched to the changelog.
func (r *ChangelogReader) restoreStart(tk *task.Task, sr *storeRestore, cp map[checkpoint.Partition]int64, tp TopicPartition) error {
	off, ok := cp[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}]
	from := "checkpoint"
	if !ok {
		// No checkpoint: the task did not close cleanly. A store that keeps
		// the changelog offset with its data (ExactlyOnce) knows how far it
		// got, and restores only the tail.
		if rd, isReader := sr.r.(stateproto.ChangelogOffsetReader); isReader {
			var err error
			if off, ok, err = rd.ChangelogOffset(); err != nil {
				r.log.Warn("reading the store's changelog offset; restoring it from the beginning",
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
		r.log.Warn(from+" is ahead of the changelog (was the changelog recreated?); restoring the store from the beginning",
			"task", tk.ID().String(), "store", sr.name, "offset", off, "changelog end", sr.end)
	}
	if err := sr.r.Wipe(); err != nil {
		return fmt.Errorf("streams: task %s: wiping store %q before a full restore: %w", tk.ID(), sr.name, err)
	}
	return nil
}

func (r *ChangelogReader) endRestore(id processor.TaskID, tp TopicPartition, sr *storeRestore) {
	r.reached[tp] = sr.next
	if r.listener != nil {
		r.listener.OnRestoreEnd(sr.event(id, tp))
	}
	r.log.Info("store restored", "task", id.String(), "store", sr.name, "records", sr.records, "elapsed", time.Since(sr.began))
}

// Poll reads what the changelogs being restored have, waiting up to wait.
// It takes no lock: the consumer is the reader's own.
func (r *ChangelogReader) Poll(ctx context.Context, wait time.Duration) kgo.Fetches {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return r.consumer.PollRecords(pctx, 10_000)
}

// Apply writes what Poll read to the stores, one batch per store, and
// returns the tasks whose stores all caught up; they are no longer
// restoring.
func (r *ChangelogReader) Apply(fetches kgo.Fetches) ([]*task.Task, error) {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue // the poll's wait ended
		}
		return nil, fmt.Errorf("streams: restoring from %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	touched := map[*storeRestore]bool{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		tp := TopicPartition{Topic: p.Topic, Partition: p.Partition}
		for _, rs := range r.restoring {
			sr := rs.stores[tp]
			if sr == nil {
				continue
			}
			for _, rec := range p.Records {
				if rec.Offset < sr.next {
					continue
				}
				sr.next = rec.Offset + 1
				if !rec.Attrs.IsControl() && rec.Offset < sr.end {
					v := rec.Value
					if sr.stampValues && v != nil {
						v = binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(v)), uint64(rec.Timestamp.UnixMilli()))
						v = append(v, rec.Value...)
					}
					sr.batch = append(sr.batch, state.KeyValue[[]byte, []byte]{Key: rec.Key, Value: v})
				}
				touched[sr] = true
			}
		}
	})
	var done []*task.Task
	for id, rs := range r.restoring {
		for tp, sr := range rs.stores {
			if !touched[sr] {
				continue
			}
			if err := r.write(id, tp, sr); err != nil {
				return done, err
			}
			if rs.standby {
				if _, ok := r.restoredTo[tp]; ok {
					r.restoredTo[tp] = sr.next // a persistent store's position, for its checkpoint
				}
				continue
			}
			if sr.next >= sr.end {
				r.consumer.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
				delete(rs.stores, tp)
				r.endRestore(id, tp, sr)
			}
		}
		if len(rs.stores) == 0 && !rs.standby {
			delete(r.restoring, id)
			done = append(done, rs.tk)
		}
	}
	return done, nil
}

// write restores one batch into a store.
func (r *ChangelogReader) write(id processor.TaskID, tp TopicPartition, sr *storeRestore) error {
	if len(sr.batch) == 0 {
		return nil
	}
	if err := sr.r.Restore(sr.batch); err != nil {
		return fmt.Errorf("streams: task %s: restoring store %q: %w", id, sr.name, err)
	}
	sr.records += int64(len(sr.batch))
	if r.listener != nil {
		e := sr.event(id, tp)
		e.BatchRecords = len(sr.batch)
		r.listener.OnBatchRestored(e)
	}
	clear(sr.batch)
	sr.batch = sr.batch[:0]
	if time.Since(sr.logged) >= r.progressEvery && sr.next < sr.end {
		sr.logged = time.Now()
		r.log.Info("store restore progress", "task", id.String(), "store", sr.name,
			"restored", sr.records, "offset", sr.next, "end", sr.end, "elapsed", time.Since(sr.began))
	}
	return nil
}

// Unregister forgets a task that is closed, restored or not.
func (r *ChangelogReader) Unregister(tk *task.Task) {
	if rs := r.restoring[tk.ID()]; rs != nil {
		for tp := range rs.stores {
			r.consumer.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		}
		delete(r.restoring, tk.ID())
	}
	for _, topic := range tk.Changelogs() {
		delete(r.restoredTo, TopicPartition{Topic: topic, Partition: tk.ID().Partition})
	}
}

// Checkpoint works out how far tk's changelogs reflect its persistent
// logged stores: nil for none. It runs after a successful commit (every
// changelog record acknowledged) as the task is closed cleanly; the file
// is written with WriteCheckpoint only after the stores are closed, which
// makes their contents durable (a RocksDB store without a write-ahead log
// writes its memtables then): a crash in between leaves no checkpoint, and
// so a full restore. acked is the collector's AckedEnd.
func (r *ChangelogReader) Checkpoint(tk *task.Task, acked func(TopicPartition) int64) map[checkpoint.Partition]int64 {
	if rs := r.restoring[tk.ID()]; rs != nil && rs.standby {
		// A standby's stores hold what it read of the changelogs it
		// follows; one it does not follow has no known position and is
		// left out (restored from the beginning next time).
		offsets := map[checkpoint.Partition]int64{}
		for tp, sr := range rs.stores {
			if _, ok := r.restoredTo[tp]; ok {
				offsets[checkpoint.Partition{Topic: tp.Topic, Partition: tp.Partition}] = sr.next
			}
		}
		if len(offsets) == 0 {
			return nil
		}
		return offsets
	} else if rs != nil {
		return nil // not restored: its old checkpoint, if any, still holds
	}
	offsets := map[checkpoint.Partition]int64{}
	for store, topic := range tk.Changelogs() {
		st, _ := tk.Store(store)
		if !st.Persistent() {
			continue
		}
		tp := TopicPartition{Topic: topic, Partition: tk.ID().Partition}
		offsets[checkpoint.Partition{Topic: topic, Partition: tp.Partition}] = max(r.restoredTo[tp], acked(tp))
	}
	if len(offsets) == 0 {
		return nil
	}
	return offsets
}

// WriteCheckpoint writes a checkpoint Checkpoint worked out, once the
// task's stores are closed.
func (r *ChangelogReader) WriteCheckpoint(dir string, offsets map[checkpoint.Partition]int64) {
	if offsets == nil {
		return
	}
	if err := checkpoint.Write(dir, offsets); err != nil {
		r.log.Warn("writing a task's checkpoint; its next start restores its stores from the beginning",
			"dir", dir, "error", err)
	}
}

// Close closes the changelog consumer.
func (r *ChangelogReader) Close() { r.consumer.Close() }
