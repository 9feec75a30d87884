// Package task runs one task: one sub-topology on one partition of its
// source topics. It buffers records per input partition, always processes
// the buffered record with the smallest timestamp next, keeps stream time,
// fires punctuations and owns the task's state stores. It does no I/O of its
// own: records come in through AddRecord and go out through a Collector, so
// the test driver and the Kafka runtime run the very same code.
//
// A Task is owned by one goroutine; none of its methods may be called
// concurrently. GlobalTask runs the global stores' sub-topologies, for the
// global thread and the test driver alike.
package task

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// Collector receives the records a task's sinks produce.
type Collector interface {
	// Send takes out, which the caller reuses after Send returns, as it
	// does the memory of out.Key and out.Value (a sink's scratch, a store's
	// buffer): a collector copies what it keeps. A nil Key or Value is a
	// Kafka null and an empty one is not; a copy keeps them apart.
	Send(out *graph.Output) error
	// NumPartitions reports the partition count of topic.
	NumPartitions(topic string) (int, error)
}

// Config configures a Task.
type Config struct {
	ID            processor.TaskID
	ApplicationID string
	// StateDir is the task's directory, <state.dir>/<app>/<task>; empty for
	// none.
	StateDir  string
	Program   *graph.Program
	Collector Collector
	// Clock returns wall-clock time. Default time.Now.
	Clock func() time.Time
	// CacheMaxBytes bounds the cache of each cached store; 0 means
	// state.DefaultCacheMaxBytes.
	CacheMaxBytes int64
	// Transactional opens the stores transactional (ExactlyOnce): their
	// writes wait for Prepare and Apply.
	Transactional bool
	// Dropped, if set, counts the records processors drop
	// (processor.Context.DroppedRecord), with the node that dropped each
	// ("" for the task's own drops).
	Dropped func(node string)
	// Logger is what processors log with, with the task as an attribute.
	// Default slog.Default().
	Logger *slog.Logger
	// Globals are the read-only views of the app's global stores, by name
	// (GlobalTask.Views), which every processor may read.
	Globals map[string]state.Store
	// Metrics is the app's registry, nil for none; ThreadID names the
	// thread that runs the task in it, and Punctuate and Punctuations
	// are the thread's punctuation sensors, which the task records.
	Metrics      *metrics.Registry
	ThreadID     string
	Punctuate    *metrics.Stat
	Punctuations *metrics.Counter
}

// TopicPartition names one input partition.
type TopicPartition = processor.TopicPartition

type input struct {
	tp TopicPartition
	q  graph.Queue
	// e2e is its source node's record-e2e-latency, nil if not recorded.
	e2e      *metrics.Local
	consumed int64 // offset after the last processed record; -1 before the first
	// skipped is the offset after the last skipped record, which becomes
	// consumed once the records buffered before it are processed.
	skipped int64
}

type source struct {
	def  *graph.NodeDef
	node graph.Node
}

const unknown = math.MinInt64

// Task runs one sub-topology for one partition.
type Task struct {
	cfg      Config
	sub      *graph.Subtopology
	nodes    []graph.Node
	sources  []source
	byTopic  map[string]*source
	inputs   []*input
	byTP     map[TopicPartition]*input
	last     *input // the input of the previous AddRecord, to skip the map lookup
	buffered int

	storeNames []string
	stores     map[string]state.Store

	streamTime  int64 // Unix ns; unknown before the first record
	streamTimeT time.Time
	current     processor.RecordMetadata
	hasCurrent  bool
	// now is the timestamp of what the task is doing: the record being
	// processed, or the time a punctuation was called with. Changelog
	// records carry it.
	now time.Time
	// changelogs maps a logged store to its changelog topic.
	changelogs map[string]string
	out        graph.Output // scratch for LogChange
	lastLogged struct{ store, topic string }

	schedules []*schedule
	seq       int
	due       []*schedule // scratch for punctuate

	// external are the task's external sinks (topology.AddExternalSink).
	external []externalSink

	// The task's sensors (nil when not recorded), and the system time the
	// runtime last set (SetSystemTime), Unix ns, for end-to-end latencies.
	sensors  taskSensors
	systemNs int64

	commitRequested bool
	state           State
	// nodesInit is set once the processors are initialized, so that only
	// initialized processors are closed.
	nodesInit bool
}

// New builds a task: its nodes, wired, and its stores, unopened. Call Init
// before adding records.
func New(cfg Config) (*Task, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("task", cfg.ID.String())
	if cfg.ID.Subtopology < 0 || cfg.ID.Subtopology >= len(cfg.Program.Subtopologies) {
		return nil, fmt.Errorf("task %s: the topology has no sub-topology %d", cfg.ID, cfg.ID.Subtopology)
	}
	t := &Task{
		cfg:        cfg,
		sub:        cfg.Program.Subtopologies[cfg.ID.Subtopology],
		byTopic:    map[string]*source{},
		byTP:       map[TopicPartition]*input{},
		stores:     map[string]state.Store{},
		streamTime: unknown,
		current:    processor.NoRecord,
	}
	if err := t.buildNodes(); err != nil {
		return nil, err
	}
	t.initSensors()
	t.changelogs = map[string]string{}
	for _, name := range t.sub.Stores {
		t.storeNames = append(t.storeNames, name)
		def := cfg.Program.Stores[name]
		b := def.Builder
		t.stores[name] = b.Build()
		t.meter(name, t.stores[name])
		switch {
		case def.SourceTopic != "":
			// Restored from the topic it was built from; nothing is
			// written to it (the store does not log).
			t.changelogs[name] = cfg.Program.TopicName(cfg.ApplicationID, def.SourceTopic)
		case b.LoggingEnabled():
			t.changelogs[name] = graph.ChangelogTopic(cfg.ApplicationID, name)
		}
	}
	return t, nil
}

// buildNodes makes the task's nodes, wired, and indexes its sources.
func (t *Task) buildNodes() error {
	t.nodes, t.sources = nil, nil
	t.byTopic = map[string]*source{}
	byName := map[string]graph.Node{}
	for _, def := range t.sub.Nodes {
		n := def.New(t.cfg.ApplicationID)
		byName[def.Name] = n
		t.nodes = append(t.nodes, n)
		if def.Kind == graph.SourceKind {
			t.sources = append(t.sources, source{def: def, node: n})
		}
	}
	for i := range t.sources {
		for _, topic := range t.sources[i].def.Topics {
			t.byTopic[t.cfg.Program.TopicName(t.cfg.ApplicationID, topic)] = &t.sources[i]
		}
	}
	t.external = t.external[:0]
	for i, def := range t.sub.Nodes {
		if !def.External {
			continue
		}
		n, _ := t.nodes[i].(interface {
			ExternalCommitter() (processor.ExternalCommitter, bool)
		})
		var ec processor.ExternalCommitter
		if n != nil {
			ec, _ = n.ExternalCommitter()
		}
		if ec == nil {
			return fmt.Errorf("task %s: external sink %q: its processor does not implement processor.ExternalCommitter, so its writes could never commit", t.cfg.ID, def.Name)
		}
		t.external = append(t.external, externalSink{name: def.Name, system: def.System, c: ec})
	}
	for _, def := range t.sub.Nodes {
		for _, c := range def.Children {
			if err := byName[def.Name].AddChild(byName[c]); err != nil {
				return fmt.Errorf("task %s: %w", t.cfg.ID, err)
			}
		}
	}
	return nil
}

// ID returns the task's id.
func (t *Task) ID() processor.TaskID { return t.cfg.ID }

// Init opens the stores: the task goes from Created to Restoring. The
// processors are initialized by CompleteRestoration, once the stores hold
// what their changelogs hold, as in Kafka Streams: a processor's Init may
// read its stores.
func (t *Task) Init() error {
	if err := t.transition(Restoring); err != nil {
		return err
	}
	sc := state.StoreContext{
		ApplicationID: t.cfg.ApplicationID,
		TaskID:        t.cfg.ID.String(),
		Partition:     t.cfg.ID.Partition,
		Dir:           t.cfg.StateDir,
		Changelog:     t,
		RecordTime:    func() time.Time { return t.now },
		CacheMaxBytes: t.cfg.CacheMaxBytes,
		Transactional: t.cfg.Transactional,
	}
	for _, name := range t.storeNames {
		if err := t.stores[name].Init(sc); err != nil {
			return errors.Join(fmt.Errorf("task %s: opening store %q: %w", t.cfg.ID, name, err), t.Close())
		}
	}
	return nil
}

// CompleteRestoration initializes the processors, parents first: the task
// goes from Restoring to Running and processes what it buffered meanwhile.
// If a processor fails, the task is closed.
func (t *Task) CompleteRestoration() error {
	if err := t.transition(Running); err != nil {
		return err
	}
	if err := t.initNodes(); err != nil {
		return errors.Join(err, t.Close())
	}
	return nil
}

func (t *Task) initNodes() error {
	t.nodesInit = true
	for _, n := range t.nodes {
		if err := n.Init(t); err != nil {
			return err
		}
	}
	return nil
}

// Suspend stops the task processing, when a rebalance takes it away: the
// caller commits or abandons its work, then closes it.
func (t *Task) Suspend() error { return t.transition(Suspended) }

// Recycle turns a Suspended task whose work is committed into one that
// keeps only its open stores, Restoring, as a standby task is (Kafka
// Streams recycles a revoked active task into a standby the same way): its
// processors are closed and made anew for when it runs again, its buffered
// records, punctuation schedules and stream time dropped.
func (t *Task) Recycle() error {
	if t.state != Suspended {
		return fmt.Errorf("task %s: cannot recycle a %v task", t.cfg.ID, t.state)
	}
	errs := t.closeNodes()
	t.nodesInit = false
	for _, in := range t.inputs {
		in.q.Clear()
	}
	t.inputs, t.byTP, t.last, t.buffered = nil, map[TopicPartition]*input{}, nil, 0
	t.schedules, t.due = nil, nil
	t.streamTime, t.streamTimeT = unknown, time.Time{}
	t.current, t.hasCurrent, t.commitRequested = processor.NoRecord, false, false
	if err := t.buildNodes(); err != nil {
		errs = append(errs, err)
	}
	t.state = Restoring
	return errors.Join(errs...)
}

// Reads reports whether the task reads topic (a cluster topic name).
func (t *Task) Reads(topic string) bool { return t.sourceFor(topic) != nil }

func (t *Task) sourceFor(topic string) *source {
	if s, ok := t.byTopic[topic]; ok {
		return s
	}
	for i := range t.sources {
		if p := t.sources[i].def.Pattern; p != nil && fullMatch(p.FindStringIndex(topic), topic) {
			t.byTopic[topic] = &t.sources[i]
			return &t.sources[i]
		}
	}
	return nil
}

func fullMatch(loc []int, s string) bool { return loc != nil && loc[0] == 0 && loc[1] == len(s) }

// AddRecord deserializes raw and buffers it. A record that cannot be
// deserialized is not buffered and a *processor.DeserializationError is
// returned; the caller's handler decides what happens next.
func (t *Task) AddRecord(raw *graph.RawRecord) error {
	if t.state != Restoring && t.state != Running {
		return fmt.Errorf("task %s is %v: it takes no records (%s-%d@%d)", t.cfg.ID, t.state, raw.Topic, raw.Partition, raw.Offset)
	}
	in, err := t.input(raw.Topic, raw.Partition)
	if err != nil {
		return err
	}
	if err := in.q.Add(raw); err != nil {
		if errors.Is(err, processor.ErrSkipRecord) {
			// The timestamp extractor dropped it.
			t.cfg.Logger.Warn("skipping a record", "topic", raw.Topic, "partition", raw.Partition, "offset", raw.Offset, "error", err)
			t.DroppedRecord("")
			return t.Skip(raw.Topic, raw.Partition, raw.Offset)
		}
		return err
	}
	t.buffered++
	return nil
}

// input returns the input of a partition, making it on first use.
func (t *Task) input(topic string, partition int32) (*input, error) {
	in := t.last
	if in != nil && in.tp.Partition == partition && in.tp.Topic == topic {
		return in, nil
	}
	tp := TopicPartition{Topic: topic, Partition: partition}
	in = t.byTP[tp]
	if in == nil {
		src := t.sourceFor(topic)
		if src == nil {
			return nil, fmt.Errorf("task %s: no source reads topic %q", t.cfg.ID, topic)
		}
		in = &input{tp: tp, q: src.def.NewQueue(src.node, topic, partition), consumed: -1, skipped: -1,
			e2e: t.sensors.e2e(t, src.def.Name)}
		t.byTP[tp] = in
		t.inputs = append(t.inputs, in)
	}
	t.last = in
	return in, nil
}

// Skip records that the record at offset of topic/partition was dropped
// unprocessed (its deserialization failed and the handler chose to go on).
// Its offset counts as consumed once every record buffered before it on
// that partition is processed, so a commit never skips those.
func (t *Task) Skip(topic string, partition int32, offset int64) error {
	in, err := t.input(topic, partition)
	if err != nil {
		return err
	}
	if in.q.Len() == 0 {
		in.consumed = max(in.consumed, offset+1)
	} else {
		in.skipped = max(in.skipped, offset+1)
	}
	return nil
}

// Buffered is the number of records waiting to be processed.
func (t *Task) Buffered() int { return t.buffered }

// Process processes the buffered record with the smallest timestamp, if
// there is one and the task is Running. Ties go to the partition that got
// records first.
func (t *Task) Process() (bool, error) {
	if t.buffered == 0 || t.state != Running {
		return false, nil
	}
	var next *input
	var best int64
	for _, in := range t.inputs {
		if in.q.Len() == 0 {
			continue
		}
		if ts, _, _ := in.q.Head(); next == nil || ts < best {
			next, best = in, ts
		}
	}
	ts, tsT, md := next.q.Head()
	if next.e2e != nil && t.systemNs != 0 {
		next.e2e.Record(t.systemNs - ts)
	}
	if ts > t.streamTime || t.streamTime == unknown {
		t.streamTime, t.streamTimeT = ts, tsT
	}
	t.current, t.hasCurrent, t.now = md, true, tsT
	t.buffered--
	err := next.q.ProcessHead()
	t.current, t.hasCurrent = processor.NoRecord, false
	// A record counts as consumed only once processed: a commit must never
	// move past a record whose processing failed. (If the app's handler
	// skips it, the runtime calls Skip.)
	if err == nil {
		next.consumed = md.Offset + 1
		if next.skipped > next.consumed && next.q.Len() == 0 {
			next.consumed = next.skipped
		}
	}
	return true, err
}

// ConsumedOffsets returns, for each input partition that processed a
// record, the offset after the last processed record: what to commit.
func (t *Task) ConsumedOffsets() map[TopicPartition]int64 {
	m := map[TopicPartition]int64{}
	for _, in := range t.inputs {
		if in.consumed >= 0 {
			m[in.tp] = in.consumed
		}
	}
	return m
}

// Close closes the processors, children after parents, then the stores,
// from any state: writes no commit handed over are dropped. It is
// idempotent.
func (t *Task) Close() error {
	if t.state == Closed {
		return nil
	}
	t.state = Closed
	errs := t.closeNodes()
	for _, name := range t.storeNames {
		if err := t.stores[name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: closing store %q: %w", t.cfg.ID, name, err))
		}
	}
	for _, in := range t.inputs {
		in.q.Clear()
	}
	t.buffered = 0
	return errors.Join(errs...)
}

// closeNodes closes the processors, children after parents, if Init got to
// them.
func (t *Task) closeNodes() []error {
	if !t.nodesInit {
		return nil
	}
	var errs []error
	for _, n := range t.nodes {
		if err := n.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// LogChange implements state.ChangelogWriter: it sends a store's change to
// the store's changelog topic, on the task's partition, stamped with the
// time of the record (or punctuation) that caused it.
func (t *Task) LogChange(store string, key, value []byte) error {
	// A record usually changes one store: the last one's topic saves the
	// map lookup.
	topic := t.lastLogged.topic
	if store != t.lastLogged.store || topic == "" {
		var ok bool
		if topic, ok = t.changelogs[store]; !ok {
			return fmt.Errorf("task %s: store %q is not logged", t.cfg.ID, store)
		}
		t.lastLogged.store, t.lastLogged.topic = store, topic
	}
	// The collector copies key and value (a nil value, a tombstone, stays
	// nil): the store may reuse them once Send returns.
	t.out = graph.Output{Topic: topic, Partition: t.cfg.ID.Partition, Key: key, Value: value, Timestamp: t.now, Sink: store, Changelog: true}
	return t.cfg.Collector.Send(&t.out)
}

// SourceChangelog reports whether store is restored from a source topic
// of the task (topology.Builder.RestoreFromSourceTopic), and whether its
// values then need their record's timestamp in front.
func (t *Task) SourceChangelog(store string) (ok, timestamped bool) {
	def := t.cfg.Program.Stores[store]
	if def == nil || def.SourceTopic == "" {
		return false, false
	}
	return true, def.Timestamped
}

// Changelogs returns the changelog topic of each logged store, and of
// each store restored from a source topic.
func (t *Task) Changelogs() map[string]string { return t.changelogs }

// Stores returns the task's stores by name.
func (t *Task) Stores() map[string]state.Store { return t.stores }

// StoreNames returns the names of the task's stores, sorted.
func (t *Task) StoreNames() []string { return slices.Clone(t.storeNames) }

// graph.Env

func (t *Task) TaskID() processor.TaskID { return t.cfg.ID }
func (t *Task) ApplicationID() string    { return t.cfg.ApplicationID }
func (t *Task) StateDir() string         { return t.cfg.StateDir }
func (t *Task) WallClockTime() time.Time { return t.cfg.Clock() }
func (t *Task) Logger() *slog.Logger     { return t.cfg.Logger }

// DroppedRecord implements graph.Env: it counts a record that node
// dropped ("" for the task's own drops, such as a timestamp extractor's)
// in the task's and the node's dropped-records.
func (t *Task) DroppedRecord(node string) {
	if t.cfg.Dropped != nil {
		t.cfg.Dropped(node)
	}
	t.sensors.dropped.Inc()
	if node != "" && t.cfg.Metrics != nil {
		t.sensors.nodeDropped(t, node).Inc()
	}
}

func (t *Task) RequestCommit() { t.commitRequested = true }

// StreamTime is the largest timestamp processed so far; the zero Time
// before the first record.
func (t *Task) StreamTime() time.Time {
	if t.streamTime == unknown {
		return time.Time{}
	}
	return t.streamTimeT
}

func (t *Task) RecordMetadata() (processor.RecordMetadata, bool) {
	return t.current, t.hasCurrent
}

func (t *Task) Store(name string) (state.Store, bool) {
	s, ok := t.stores[name]
	return s, ok
}

func (t *Task) KnowsStore(name string) bool {
	_, ok := t.cfg.Program.Stores[name]
	return ok
}

func (t *Task) Send(out *graph.Output) error {
	if t.systemNs != 0 && !out.Changelog && t.cfg.Metrics != nil {
		t.sensors.sinkE2E(t, out.Sink).Record(t.systemNs - out.Timestamp.UnixNano())
	}
	return t.cfg.Collector.Send(out)
}

// SetSystemTime tells the task the time now, which the runtime reads once
// per round of processing (as Kafka Streams caches it): records' end-to-end
// latencies are measured against it.
func (t *Task) SetSystemTime(now time.Time) { t.systemNs = now.UnixNano() }

func (t *Task) NumPartitions(topic string) (int, error) {
	return t.cfg.Collector.NumPartitions(topic)
}
