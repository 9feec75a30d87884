package testdriver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Options configures a Driver. The zero value is ready to use.
type Options struct {
	// ApplicationID is the app's application.id: it prefixes repartition
	// topics ("<id>-<name>-repartition") and names the state directory.
	// Default "test-app".
	ApplicationID string
	// StateDir is the root state directory. Default: a new temporary
	// directory that Close removes.
	StateDir string
	// WallClockStart is the mock wall clock's initial time. Default: the
	// Unix epoch, so that runs are deterministic.
	WallClockStart time.Time
	// Logger is what processors log with (processor.Context.Logger).
	// Default slog.Default().
	Logger *slog.Logger
}

// ErrClosed is returned by every Driver method called after Close, and by
// the topics and stores of a closed driver.
var ErrClosed = errors.New("testdriver: driver closed")

// ErrEmptyTopic is returned by an OutputTopic's Read methods when the topic
// has no record left to read.
var ErrEmptyTopic = errors.New("testdriver: output topic is empty")

// KeyValue is a key and a value read from or piped to a topic.
type KeyValue[K, V any] = state.KeyValue[K, V]

// Driver runs a topology synchronously with no broker: every piped record is
// processed, with everything it causes downstream, before Pipe returns. It
// runs one task per sub-topology, on partition 0 of every topic, with the
// same task code as the real runtime.
//
// After each processed record the driver checks stream-time punctuations;
// after each Pipe it commits every task. Records sent to a topic that a
// source reads (repartition topics) are fed back in before Pipe returns.
// Wall-clock time is a mock clock moved only by AdvanceWallClock.
//
// A Driver is not safe for concurrent use. Stores obtained from it may be
// read from other goroutines, as the store contract allows.
type Driver struct {
	prog     *graph.Program
	appID    string
	stateDir string
	ownDir   bool
	clock    time.Time
	tasks    []*task.Task
	global   *task.GlobalTask  // the global stores, or nil
	topics   map[string]*topic // by cluster topic name
	raw      graph.RawRecord   // the piped record
	fed      graph.RawRecord   // a sent record on its way back in
	closed   bool
	dropped  int64 // records processors dropped on purpose
	// droppedByNode counts them by the node that dropped them.
	droppedByNode map[string]int64
}

// topic is the driver's view of one topic: its log and who reads it.
type topic struct {
	reader *task.Task // the task whose source reads it, or nil
	// global says a global store reads it.
	global bool
	// internal (repartition and changelog) topics are kept for reading only
	// when wanted.
	internal bool
	wanted   bool  // an OutputTopic was created for it
	next     int64 // next offset
	recs     []graph.RawRecord
	head     int // first unread record
}

// New starts a driver for t. Close it when done.
func New(t *topology.Topology, opts Options) (*Driver, error) {
	if t == nil {
		return nil, errors.New("testdriver: New was given a nil topology")
	}
	d := &Driver{
		prog:     graph.ProgramOf(t),
		appID:    opts.ApplicationID,
		stateDir: opts.StateDir,
		clock:    opts.WallClockStart,
		topics:   map[string]*topic{},
	}
	if d.appID == "" {
		d.appID = "test-app"
	}
	if d.clock.IsZero() {
		d.clock = time.Unix(0, 0)
	}
	if d.stateDir == "" {
		dir, err := os.MkdirTemp("", "streams-testdriver-")
		if err != nil {
			return nil, fmt.Errorf("testdriver: making a state directory: %w", err)
		}
		d.stateDir, d.ownDir = dir, true
	}
	globals, err := d.newGlobal(opts)
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	for _, st := range d.prog.Subtopologies {
		if st.Global {
			continue // the global task runs it
		}
		id := processor.TaskID{Subtopology: st.ID, Partition: 0}
		dir := filepath.Join(d.stateDir, d.appID, id.String())
		if len(st.Stores) > 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, errors.Join(fmt.Errorf("testdriver: making task directory: %w", err), d.Close())
			}
		}
		tk, err := task.New(task.Config{
			ID:            id,
			ApplicationID: d.appID,
			StateDir:      dir,
			Program:       d.prog,
			Collector:     d,
			Clock:         func() time.Time { return d.clock },
			Dropped:       d.droppedBy,
			Logger:        opts.Logger,
			Globals:       globals,
		})
		if err != nil {
			return nil, errors.Join(err, d.Close())
		}
		d.tasks = append(d.tasks, tk)
	}
	// The driver restores nothing: a task's stores start empty (or as a
	// persistent store left them in StateDir), and it runs at once.
	for _, tk := range d.tasks {
		if err := tk.Init(); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		if err := tk.CompleteRestoration(); err != nil {
			return nil, errors.Join(err, d.Close())
		}
	}
	return d, nil
}

// topic returns the state of the named topic, making it on first use.
func (d *Driver) topic(name string) *topic {
	if t, ok := d.topics[name]; ok {
		return t
	}
	t := &topic{}
	if d.global != nil && d.global.StoreOf(name) != "" {
		t.global = true
	}
	for _, tk := range d.tasks {
		if tk.Reads(name) { // pattern sources included
			t.reader = tk
			break
		}
	}
	for internal := range d.prog.InternalTopics {
		if d.prog.TopicName(d.appID, internal) == name {
			t.internal = true
		}
	}
	for store := range d.prog.Stores {
		if graph.ChangelogTopic(d.appID, store) == name {
			t.internal = true
		}
	}
	d.topics[name] = t
	return t
}

// pipe feeds one serialized record to the task that reads topic and runs
// until no task has work left.
func (d *Driver) pipe(name string, key, value []byte, headers []processor.Header, ts time.Time) error {
	if d.closed {
		return ErrClosed
	}
	t := d.topic(name)
	if t.reader == nil && !t.global {
		return fmt.Errorf("testdriver: no source of the topology reads topic %q", name)
	}
	d.raw = graph.RawRecord{Topic: name, Partition: 0, Offset: t.next,
		Key: key, Value: value, Headers: headers, Timestamp: ts}
	t.next++
	if t.global {
		if err := d.updateGlobal(&d.raw); err != nil {
			return err
		}
		return d.run()
	}
	if err := t.reader.AddRecord(&d.raw); err != nil {
		return err
	}
	return d.run()
}

// run processes until every task is idle, checking stream-time punctuation
// after each record (the runtime's processing loop, task.ProcessAll), then
// commits every task.
func (d *Driver) run() error {
	for progressed := true; progressed; {
		progressed = false
		for _, tk := range d.tasks {
			n, err := tk.ProcessAll(func(err error) error { return err })
			if err != nil {
				return err
			}
			progressed = progressed || n > 0
		}
	}
	return d.commit()
}

// commit commits every task with the runtime's commit steps: the stores
// hand over their writes (flushed to the backend and the changelog), the
// external sinks (a database, topology.AddExternalSink) commit theirs with
// the driver's input offsets, and, the commit having succeeded, the tasks
// hear so: store observers get their changes, as they would in an App. An
// external sink's failure is returned, not retried.
func (d *Driver) commit() error {
	var errs []error
	for _, tk := range d.tasks {
		errs = append(errs, tk.PrepareCommit())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, tk := range d.tasks {
		errs = append(errs, tk.CommitExternal(context.Background()))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, tk := range d.tasks {
		errs = append(errs, tk.FinishCommit(func(store string) int64 { return d.topic(tk.Changelogs()[store]).next }))
	}
	return errors.Join(errs...)
}

// Send implements task.Collector: it records out on its topic's log and, if
// a source reads the topic, feeds it back in.
func (d *Driver) Send(out *graph.Output) error {
	t := d.topic(out.Topic)
	// fed is reused: AddRecord copies what it keeps (it deserializes) and
	// cannot call Send.
	rec := &d.fed
	*rec = graph.RawRecord{Topic: out.Topic, Partition: 0, Offset: t.next,
		Key: out.Key, Value: out.Value, Timestamp: out.Timestamp}
	t.next++
	if len(out.Headers) > 0 {
		rec.Headers = slices.Clone(out.Headers)
	}
	// Repartition topics are kept for reading only when the test asked for
	// them, so a long run does not hold every intermediate record. A kept
	// record gets its own copy of key and value: the sender reuses them.
	if !t.internal || t.wanted {
		kept := *rec
		kept.Key, kept.Value = cloneEntry(out.Key, out.Value)
		t.recs = append(t.recs, kept)
	}
	if t.global {
		return d.updateGlobal(rec)
	}
	if t.reader != nil {
		return t.reader.AddRecord(rec)
	}
	return nil
}

// cloneEntry copies key and value into one allocation, keeping nil (a
// Kafka null) and empty apart.
func cloneEntry(key, value []byte) (k, v []byte) {
	if key == nil && value == nil {
		return nil, nil
	}
	buf := make([]byte, len(key)+len(value))
	n := copy(buf, key)
	copy(buf[n:], value)
	if key != nil {
		k = buf[:n:n]
	}
	if value != nil {
		v = buf[n:]
	}
	return k, v
}

// NumPartitions implements task.Collector: every topic has one partition.
func (d *Driver) NumPartitions(string) (int, error) { return 1, nil }

// AdvanceWallClock moves the mock wall clock forward by by, as if that much
// time passed: each wall-clock punctuation runs at every time it is due on
// the way, in time order, with WallClockTime reporting that time. A 10 s
// schedule runs twice when the clock advances 20 s and not at all when it
// advances 5 s.
func (d *Driver) AdvanceWallClock(by time.Duration) error {
	if d.closed {
		return ErrClosed
	}
	if by < 0 {
		return fmt.Errorf("testdriver: AdvanceWallClock(%v): the wall clock does not go back", by)
	}
	target := d.clock.Add(by)
	for {
		var next time.Time
		found := false
		for _, tk := range d.tasks {
			if t, ok := tk.NextWallClock(); ok && (!found || t.Before(next)) {
				next, found = t, true
			}
		}
		if !found || next.After(target) {
			break
		}
		if next.After(d.clock) {
			d.clock = next
		}
		for _, tk := range d.tasks {
			if _, err := tk.PunctuateWallClock(d.clock); err != nil {
				return err
			}
		}
		if err := d.run(); err != nil {
			return err
		}
	}
	d.clock = target
	return nil
}

// WallClockTime returns the mock wall clock's time.
func (d *Driver) WallClockTime() time.Time { return d.clock }

// DroppedRecords counts the records the topology's processors dropped on
// purpose (processor.Context.DroppedRecord), such as late records of
// windowed aggregations.
func (d *Driver) DroppedRecords() int64 { return d.dropped }

// DroppedRecordsOf counts the records the processor named node dropped,
// such as a windowed aggregation's late records.
func (d *Driver) DroppedRecordsOf(node string) int64 { return d.droppedByNode[node] }

func (d *Driver) droppedBy(node string) {
	d.dropped++
	if node != "" {
		if d.droppedByNode == nil {
			d.droppedByNode = map[string]int64{}
		}
		d.droppedByNode[node]++
	}
}

// StateDir returns the root state directory; task directories are
// <StateDir>/<application id>/<task id>.
func (d *Driver) StateDir() string { return d.stateDir }

// Close closes every task (processors, then stores) and removes the state
// directory if the driver made it. It is idempotent.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, tk := range d.tasks {
		errs = append(errs, tk.Close())
	}
	if d.global != nil {
		errs = append(errs, d.global.Close())
	}
	if d.ownDir {
		errs = append(errs, os.RemoveAll(d.stateDir))
	}
	return errors.Join(errs...)
}

// GetStore returns the named store as the type S the caller expects, for
// example state.KeyValueStore[string, int64]. The store is the live one the
// topology writes to.
func GetStore[S state.Store](d *Driver, name string) (S, error) {
	var zero S
	if d.closed {
		return zero, ErrClosed
	}
	for _, tk := range d.tasks {
		if st, ok := tk.Store(name); ok {
			return processor.GetStore[S](storeGetter{st}, name)
		}
	}
	if d.global != nil {
		if st, ok := d.global.Store(name); ok {
			return processor.GetStore[S](storeGetter{st}, name)
		}
	}
	return zero, fmt.Errorf("%w: the topology has no store %q", processor.ErrUnknownStore, name)
}

type storeGetter struct{ st state.Store }

func (g storeGetter) StateStore(string) (state.Store, error) { return g.st, nil }

// KeyValueStore returns the named key-value store.
func KeyValueStore[K, V any](d *Driver, name string) (state.KeyValueStore[K, V], error) {
	return GetStore[state.KeyValueStore[K, V]](d, name)
}

// TimestampedKeyValueStore returns the named timestamped key-value store.
func TimestampedKeyValueStore[K, V any](d *Driver, name string) (state.TimestampedKeyValueStore[K, V], error) {
	return GetStore[state.TimestampedKeyValueStore[K, V]](d, name)
}
