package testdriver

import (
	"errors"
	"fmt"
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
	readers  map[string]*task.Task // cluster topic name -> reading task
	internal map[string]bool       // cluster names of repartition topics
	offsets  map[string]int64      // next offset per topic
	outputs  map[string]*outputLog // records produced to each topic
	wanted   map[string]bool       // topics with an OutputTopic
	raw      graph.RawRecord
	closed   bool
}

type outputLog struct {
	recs []graph.RawRecord
	head int
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
		readers:  map[string]*task.Task{},
		internal: map[string]bool{},
		offsets:  map[string]int64{},
		outputs:  map[string]*outputLog{},
		wanted:   map[string]bool{},
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
	for name := range d.prog.InternalTopics {
		d.internal[d.prog.TopicName(d.appID, name)] = true
	}
	for _, st := range d.prog.Subtopologies {
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
		})
		if err != nil {
			return nil, errors.Join(err, d.Close())
		}
		d.tasks = append(d.tasks, tk)
		for _, topic := range st.SourceTopics {
			d.readers[d.prog.TopicName(d.appID, topic)] = tk
		}
	}
	for _, tk := range d.tasks {
		if err := tk.Init(); err != nil {
			return nil, errors.Join(err, d.Close())
		}
	}
	return d, nil
}

// reader returns the task that reads topic, matching pattern sources too.
func (d *Driver) reader(topic string) *task.Task {
	if tk, ok := d.readers[topic]; ok {
		return tk
	}
	for _, tk := range d.tasks {
		if tk.Reads(topic) {
			d.readers[topic] = tk
			return tk
		}
	}
	d.readers[topic] = nil
	return nil
}

// pipe feeds one serialized record to the task that reads topic and runs
// until no task has work left.
func (d *Driver) pipe(topic string, key, value []byte, headers []processor.Header, ts time.Time) error {
	if d.closed {
		return ErrClosed
	}
	tk := d.reader(topic)
	if tk == nil {
		return fmt.Errorf("testdriver: no source of the topology reads topic %q", topic)
	}
	d.raw = graph.RawRecord{Topic: topic, Partition: 0, Offset: d.nextOffset(topic),
		Key: key, Value: value, Headers: headers, Timestamp: ts}
	if err := tk.AddRecord(&d.raw); err != nil {
		return err
	}
	return d.run()
}

func (d *Driver) nextOffset(topic string) int64 {
	off := d.offsets[topic]
	d.offsets[topic] = off + 1
	return off
}

// run processes until every task is idle, checking stream-time punctuation
// after each record, then commits every task.
func (d *Driver) run() error {
	for progressed := true; progressed; {
		progressed = false
		for _, tk := range d.tasks {
			for tk.Buffered() > 0 {
				progressed = true
				if _, err := tk.Process(); err != nil {
					return err
				}
				if _, err := tk.PunctuateStreamTime(); err != nil {
					return err
				}
			}
		}
	}
	var errs []error
	for _, tk := range d.tasks {
		errs = append(errs, tk.Commit())
	}
	return errors.Join(errs...)
}

// Send implements task.Collector: it records out on its topic's log and, if
// a source reads the topic, feeds it back in.
func (d *Driver) Send(out *graph.Output) error {
	rec := graph.RawRecord{Topic: out.Topic, Partition: 0, Offset: d.nextOffset(out.Topic),
		Key: out.Key, Value: out.Value, Timestamp: out.Timestamp}
	if len(out.Headers) > 0 {
		rec.Headers = slices.Clone(out.Headers)
	}
	// Repartition topics are kept for reading only when the test asked for
	// them, so a long run does not hold every intermediate record.
	if !d.internal[out.Topic] || d.wanted[out.Topic] {
		log := d.outputs[out.Topic]
		if log == nil {
			log = &outputLog{}
			d.outputs[out.Topic] = log
		}
		log.recs = append(log.recs, rec)
	}
	if tk := d.reader(out.Topic); tk != nil {
		return tk.AddRecord(&rec)
	}
	return nil
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
