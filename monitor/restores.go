package monitor

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
)

// keepRestores is how many finished restorations Restores remembers.
const keepRestores = 20

// Restores follows the app's store restorations, for the page's restore
// panel: where each began, where it is, and how long it took. App.LagInfo
// alone shows a restoring store's offset and its changelog's end, but not
// where the restore started nor the restores that have finished.
//
// Set it as the app's streams.Config.RestoreListener and as the monitor's
// Config.Restores:
//
//	restores := &monitor.Restores{}
//	cfg.RestoreListener = restores
//	app, err := streams.New(topo, cfg)
//	...
//	m, err := monitor.New(app, topo, monitor.Config{Restores: restores})
//
// The zero value is ready to use; it is safe for concurrent use. Its
// methods run on the app's stream threads and only take a lock.
type Restores struct {
	// Next, if set, hears every event after Restores has: the
	// RestoreListener you would have set without the monitor.
	Next streams.RestoreListener

	mu struct {
		sync.Mutex
		running map[restoreKey]Restore
		// done are the last keepRestores finished, oldest first.
		done []Restore
	}
}

type restoreKey struct {
	store     string
	task      processor.TaskID
	partition int32
}

var _ streams.RestoreListener = (*Restores)(nil)

// OnRestoreStart records that a store began restoring.
func (r *Restores) OnRestoreStart(e streams.RestoreEvent) {
	r.set(e, false)
	if r.Next != nil {
		r.Next.OnRestoreStart(e)
	}
}

// OnBatchRestored records a restore's progress.
func (r *Restores) OnBatchRestored(e streams.RestoreEvent) {
	r.set(e, false)
	if r.Next != nil {
		r.Next.OnBatchRestored(e)
	}
}

// OnRestoreEnd records that a store finished restoring.
func (r *Restores) OnRestoreEnd(e streams.RestoreEvent) {
	r.set(e, true)
	if r.Next != nil {
		r.Next.OnRestoreEnd(e)
	}
}

func (r *Restores) set(e streams.RestoreEvent, done bool) {
	now := time.Now()
	k := restoreKey{store: e.Store, task: e.Task, partition: e.Partition}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.running == nil {
		r.mu.running = map[restoreKey]Restore{}
	}
	rs := Restore{
		Store: e.Store, Task: e.Task.String(), Topic: e.Topic, Partition: e.Partition,
		StartOffset: e.StartOffset, EndOffset: e.EndOffset, Offset: e.Offset, Records: e.Records,
		Started: now.Add(-e.Elapsed), ElapsedMillis: e.Elapsed.Milliseconds(),
	}
	if old, ok := r.mu.running[k]; ok {
		rs.Started = old.Started // the first event's clock, not each batch's
	}
	if !done {
		r.mu.running[k] = rs
		return
	}
	delete(r.mu.running, k)
	rs.Done, rs.Ended = true, now
	if len(r.mu.done) == keepRestores {
		r.mu.done = slices.Delete(r.mu.done, 0, 1)
	}
	r.mu.done = append(r.mu.done, rs)
}

// snapshot returns the restores under way, by store, task and partition,
// then the finished ones, the latest first. Elapsed times of those under
// way are counted to now.
func (r *Restores) snapshot() []Restore {
	if r == nil {
		return nil
	}
	now := time.Now()
	r.mu.Lock()
	keys := make([]restoreKey, 0, len(r.mu.running))
	for k := range r.mu.running {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b restoreKey) int {
		return cmp.Or(strings.Compare(a.store, b.store), compareTasks(a.task, b.task), cmp.Compare(a.partition, b.partition))
	})
	out := make([]Restore, 0, len(r.mu.running)+len(r.mu.done))
	for _, k := range keys {
		rs := r.mu.running[k]
		rs.ElapsedMillis = now.Sub(rs.Started).Milliseconds()
		out = append(out, rs)
	}
	for i := len(r.mu.done) - 1; i >= 0; i-- {
		out = append(out, r.mu.done[i])
	}
	r.mu.Unlock()
	return out
}

// compareTasks orders task ids by sub-topology, then partition.
func compareTasks(a, b processor.TaskID) int {
	return cmp.Or(cmp.Compare(a.Subtopology, b.Subtopology), cmp.Compare(a.Partition, b.Partition))
}
