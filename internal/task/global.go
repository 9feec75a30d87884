package task

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// GlobalTaskID is the task id a global store's processor sees, as in Kafka
// Streams ("-1_-1"): a global store belongs to no task.
var GlobalTaskID = processor.TaskID{Subtopology: -1, Partition: -1}

// ErrGlobalContext is wrapped by what a global store's processor gets when
// it asks for what only a task has: forwarding to a sink, punctuation.
var ErrGlobalContext = errors.New("not supported by a global store's processor")

// GlobalConfig configures a GlobalTask.
type GlobalConfig struct {
	ApplicationID string
	// StateDir is the global stores' directory, <state.dir>/<app>/global;
	// empty for none.
	StateDir string
	Program  *graph.Program
	// Clock returns wall-clock time. Default time.Now.
	Clock func() time.Time
	// CacheMaxBytes bounds the cache of each cached store; 0 means
	// state.DefaultCacheMaxBytes.
	CacheMaxBytes int64
	// Dropped, if set, counts the records the processors drop.
	Dropped func(node string)
	// Logger is what the processors log with. Default slog.Default().
	Logger *slog.Logger
}

// GlobalTask runs the global stores' sub-topologies (Program.Globals), as
// Kafka Streams' GlobalStateUpdateTask, with the stores Kafka Streams'
// GlobalStateManager keeps: every record of a global topic, of any
// partition, goes through its source and its state-update processor as it
// comes (no buffering, no stream time, no punctuation). Restoring a global
// store is the same: its processor runs over the topic from where the
// store's checkpoint says, so whatever the processor makes of a record
// (Kafka Streams' reprocessing on restore) is what the store holds. It
// does no I/O of its own: the global thread and the test driver feed it.
//
// A GlobalTask is owned by one goroutine; the views (Views) are safe to
// read from any.
type GlobalTask struct {
	cfg    GlobalConfig
	nodes  []graph.Node
	byName map[string]graph.Node
	// topics maps a global topic to its sub-topology's source.
	topics  map[string]*globalSource
	queues  map[TopicPartition]graph.Queue
	offsets map[TopicPartition]int64

	storeNames []string
	stores     map[string]state.Store
	views      map[string]state.Store

	current    processor.RecordMetadata
	hasCurrent bool
	now        time.Time
	opened     bool // stores opened
	nodesInit  bool
	closed     bool
}

type globalSource struct {
	def   *graph.NodeDef
	node  graph.Node
	store string
}

// NewGlobal builds the global stores' nodes, wired, and their stores,
// unopened; nil when the program has no global store. Call Init next.
func NewGlobal(cfg GlobalConfig) (*GlobalTask, error) {
	if len(cfg.Program.Globals) == 0 {
		return nil, nil
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("task", "global")
	g := &GlobalTask{cfg: cfg, byName: map[string]graph.Node{}, topics: map[string]*globalSource{},
		queues: map[TopicPartition]graph.Queue{}, offsets: map[TopicPartition]int64{},
		stores: map[string]state.Store{}, views: map[string]state.Store{}, current: processor.NoRecord}
	for _, st := range cfg.Program.Globals {
		for _, def := range st.Nodes {
			n := def.New(cfg.ApplicationID)
			g.byName[def.Name] = n
			g.nodes = append(g.nodes, n)
		}
		for _, def := range st.Nodes {
			for _, c := range def.Children {
				if err := g.byName[def.Name].AddChild(g.byName[c]); err != nil {
					return nil, fmt.Errorf("global store %q: %w", st.Store, err)
				}
			}
		}
		src := st.Nodes[0]
		g.topics[st.Topic] = &globalSource{def: src, node: g.byName[src.Name], store: st.Store}
		g.storeNames = append(g.storeNames, st.Store)
		g.stores[st.Store] = cfg.Program.Stores[st.Store].Builder.Build()
	}
	slices.Sort(g.storeNames)
	for name, st := range g.stores {
		g.views[name] = readOnlyView(st)
	}
	return g, nil
}

// readOnlyView is what the tasks' processors and the global processors of
// other stores read of st: a read-only committed view where the store has
// one, else its committed view, else the store.
func readOnlyView(st state.Store) state.Store {
	if v, ok := st.(stateproto.ReadOnlyViewer); ok {
		return v.ReadOnlyView()
	}
	if v, ok := st.(stateproto.CommittedViewer); ok {
		return v.CommittedView()
	}
	return st
}

// Topics returns the global topics, sorted.
func (g *GlobalTask) Topics() []string {
	out := make([]string, 0, len(g.topics))
	for t := range g.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// StoreOf returns the global store that topic feeds.
func (g *GlobalTask) StoreOf(topic string) string {
	if s := g.topics[topic]; s != nil {
		return s.store
	}
	return ""
}

// Init opens the stores and initializes the processors, which a restore
// runs.
func (g *GlobalTask) Init() error {
	if g.closed || g.opened {
		return errors.New("global task: Init called twice or after Close")
	}
	g.opened = true
	sc := state.StoreContext{
		ApplicationID: g.cfg.ApplicationID,
		TaskID:        GlobalTaskID.String(),
		Partition:     -1,
		Dir:           g.cfg.StateDir,
		RecordTime:    func() time.Time { return g.now },
		CacheMaxBytes: g.cfg.CacheMaxBytes,
	}
	for _, name := range g.storeNames {
		if err := g.stores[name].Init(sc); err != nil {
			return errors.Join(fmt.Errorf("global store %q: opening it: %w", name, err), g.Close())
		}
	}
	g.nodesInit = true
	for _, n := range g.nodes {
		if err := n.Init(g); err != nil {
			return errors.Join(fmt.Errorf("global store: %w", err), g.Close())
		}
	}
	return nil
}

// Update deserializes raw and runs it through its store's processor at
// once. A record that cannot be deserialized is not processed and a
// *processor.DeserializationError is returned: the caller's handler
// decides, and Skip moves past it. A processor's failure is a
// *processor.ProcessingError.
func (g *GlobalTask) Update(raw *graph.RawRecord) error {
	if !g.nodesInit || g.closed {
		return fmt.Errorf("global task is not running: it takes no record (%s-%d@%d)", raw.Topic, raw.Partition, raw.Offset)
	}
	tp := TopicPartition{Topic: raw.Topic, Partition: raw.Partition}
	q := g.queues[tp]
	if q == nil {
		src := g.topics[raw.Topic]
		if src == nil {
			return fmt.Errorf("global task: no global store reads topic %q", raw.Topic)
		}
		q = src.def.NewQueue(src.node, raw.Topic, raw.Partition)
		g.queues[tp] = q
	}
	if err := q.Add(raw); err != nil {
		if errors.Is(err, processor.ErrSkipRecord) {
			g.cfg.Logger.Warn("skipping a record", "topic", raw.Topic, "partition", raw.Partition, "offset", raw.Offset, "error", err)
			g.DroppedRecord("")
			g.Skip(raw.Topic, raw.Partition, raw.Offset)
			return nil
		}
		return err
	}
	_, ts, md := q.Head()
	g.current, g.hasCurrent, g.now = md, true, ts
	err := q.ProcessHead()
	g.current, g.hasCurrent = processor.NoRecord, false
	if err == nil {
		g.offsets[tp] = raw.Offset + 1
	}
	return err
}

// Skip records that the record at offset was dropped unprocessed.
func (g *GlobalTask) Skip(topic string, partition int32, offset int64) {
	tp := TopicPartition{Topic: topic, Partition: partition}
	g.offsets[tp] = max(g.offsets[tp], offset+1)
}

// SetOffset sets the offset of a partition the caller moved past without
// a record (a transaction marker, a restore's starting point).
func (g *GlobalTask) SetOffset(topic string, partition int32, offset int64) {
	g.offsets[TopicPartition{Topic: topic, Partition: partition}] = offset
}

// Offsets returns, for each partition, the offset after the last record
// processed or skipped (or set with SetOffset).
func (g *GlobalTask) Offsets() map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64, len(g.offsets))
	for tp, o := range g.offsets {
		out[tp] = o
	}
	return out
}

// Flush writes every store's writes down, so that the views (and queries)
// see them, and tells the stores' observers of the changes.
func (g *GlobalTask) Flush() error {
	if !g.opened || g.closed {
		return nil
	}
	var errs []error
	for _, name := range g.storeNames {
		if err := g.stores[name].Flush(); err != nil {
			errs = append(errs, fmt.Errorf("global store %q: flushing it: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, name := range g.storeNames {
		if c, ok := g.stores[name].(stateproto.Committer); ok {
			c.Committed()
		}
	}
	return nil
}

// Stores returns the global stores by name.
func (g *GlobalTask) Stores() map[string]state.Store { return g.stores }

// Views returns the read-only views of the global stores by name, for
// the tasks (Config.Globals).
func (g *GlobalTask) Views() map[string]state.Store { return g.views }

// Close closes the processors, then the stores. It is idempotent.
func (g *GlobalTask) Close() error {
	if g.closed {
		return nil
	}
	g.closed = true
	var errs []error
	if g.nodesInit {
		for _, n := range g.nodes {
			if err := n.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, name := range g.storeNames {
		if err := g.stores[name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("global store %q: closing it: %w", name, err))
		}
	}
	for _, q := range g.queues {
		q.Clear()
	}
	return errors.Join(errs...)
}

// graph.Env

func (g *GlobalTask) TaskID() processor.TaskID { return GlobalTaskID }
func (g *GlobalTask) ApplicationID() string    { return g.cfg.ApplicationID }
func (g *GlobalTask) StateDir() string         { return g.cfg.StateDir }

// StreamTime is the zero Time: a global store has no stream time.
func (g *GlobalTask) StreamTime() time.Time    { return time.Time{} }
func (g *GlobalTask) WallClockTime() time.Time { return g.cfg.Clock() }
func (g *GlobalTask) Logger() *slog.Logger     { return g.cfg.Logger }
func (g *GlobalTask) RequestCommit()           {}

func (g *GlobalTask) RecordMetadata() (processor.RecordMetadata, bool) {
	return g.current, g.hasCurrent
}

func (g *GlobalTask) Schedule(node string, _ time.Duration, _ processor.PunctuationType, _ processor.Punctuator) (processor.Cancellable, error) {
	return nil, fmt.Errorf("processor %q: Schedule: %w", node, ErrGlobalContext)
}

func (g *GlobalTask) DroppedRecord(node string) {
	if g.cfg.Dropped != nil {
		g.cfg.Dropped(node)
	}
}

func (g *GlobalTask) Store(name string) (state.Store, bool) {
	s, ok := g.stores[name]
	return s, ok
}

// GlobalStore returns the view of another global store.
func (g *GlobalTask) GlobalStore(name string) (state.Store, bool) {
	s, ok := g.views[name]
	return s, ok
}

func (g *GlobalTask) KnowsStore(name string) bool {
	_, ok := g.cfg.Program.Stores[name]
	return ok
}

func (g *GlobalTask) Send(out *graph.Output) error {
	return fmt.Errorf("sink %q: %w", out.Sink, ErrGlobalContext)
}

func (g *GlobalTask) NumPartitions(string) (int, error) {
	return 0, fmt.Errorf("partition count: %w", ErrGlobalContext)
}

// GlobalStore implements graph.Env for a task: the view of a global store.
func (t *Task) GlobalStore(name string) (state.Store, bool) {
	s, ok := t.cfg.Globals[name]
	return s, ok
}

var _ graph.Env = (*GlobalTask)(nil)
