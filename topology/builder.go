package topology

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Builder assembles a topology. Add nodes with AddSource, AddProcessor,
// AddSink and AddRepartition, stores with AddStateStore, then call Build.
// Mistakes are collected, not returned one at a time: Build reports all of
// them at once. A Builder is not safe for concurrent use.
type Builder struct {
	nodes    []*graph.NodeDef
	byName   map[string]*graph.NodeDef
	stores   map[string]*graph.StoreDef
	storeSeq []string
	internal map[string]graph.InternalTopic
	prog     *graph.Program // set by Build; node factories read it
	problems []string
	conns    [][2]string // (processor, store) pairs, checked at Build
	// fromSource are the (store, topic) pairs of RestoreFromSourceTopic,
	// checked at Build.
	fromSource [][2]string
	// globals are the global stores (AddGlobalStore).
	globals []globalDef
	built   bool
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{
		byName:   map[string]*graph.NodeDef{},
		stores:   map[string]*graph.StoreDef{},
		internal: map[string]graph.InternalTopic{},
	}
}

// Node is a handle on a node that forwards records of type Record[K, V]. A
// processor or sink can only be added below a parent whose types match its
// input types, so a mis-wired topology does not compile.
type Node[K, V any] struct {
	b    *Builder
	name string
}

// Name is the node's name, as used in AddStateStore and in Describe.
func (n Node[K, V]) Name() string { return n.name }

// OffsetReset says where a source starts reading a partition that has no
// committed offset.
type OffsetReset string

const (
	// DefaultReset leaves the choice to the app's configuration.
	DefaultReset OffsetReset = ""
	// Earliest starts at the oldest record.
	Earliest OffsetReset = "earliest"
	// Latest starts after the newest record.
	Latest OffsetReset = "latest"
)

// TimestampExtractor returns a record's event time, the time that stream
// time and windows follow. partitionTime is the largest timestamp extracted
// so far on the record's partition (the zero Time before the first). An
// error is handled like a deserialization error.
type TimestampExtractor[K, V any] = graph.TimestampExtractor[K, V]

// Source configures a source node.
type Source[K, V any] struct {
	// Topics the source reads. Exactly one of Topics and Pattern is set.
	Topics []string
	// Pattern subscribes to every topic whose whole name matches it.
	Pattern *regexp.Regexp
	// KeySerde and ValueSerde decode the records. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// TimestampExtractor gives each record its event time. Default: the
	// record's own timestamp.
	TimestampExtractor TimestampExtractor[K, V]
	// OffsetReset applies to partitions with no committed offset. Default:
	// DefaultReset, the app's setting.
	OffsetReset OffsetReset
}

// Sink configures a sink node.
type Sink[K, V any] struct {
	// Topic the sink writes to. Exactly one of Topic and TopicChooser is set.
	Topic string
	// TopicChooser picks the topic for each record.
	TopicChooser func(rec processor.Record[K, V]) (string, error)
	// KeySerde and ValueSerde encode the records. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks each record's partition. Default: murmur2 of the
	// serialized key, as the Java client does, so other clients agree on
	// where a key lives.
	Partitioner Partitioner[K, V]
}

// Partitioner picks a record's partition among numPartitions. Returning ok
// false falls back to the default partitioner.
type Partitioner[K, V any] = graph.Partitioner[K, V]

// Repartition configures an internal repartition topic.
type Repartition[K, V any] struct {
	// KeySerde and ValueSerde encode the records on the topic. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks each record's partition. Default: murmur2 of the
	// serialized key.
	Partitioner Partitioner[K, V]
	// Partitions of the topic. Default 0: as many as the largest source
	// topic of the sub-topology that writes to it.
	Partitions int
	// SinkName and SourceName name the two nodes. Default
	// "<name>-repartition-sink" and "<name>-repartition-source".
	SinkName, SourceName string
}

func (b *Builder) problem(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// add registers def unless its name is empty or taken.
func (b *Builder) add(def *graph.NodeDef, what string) {
	if b.built {
		b.problem("%s %q was added after Build; build a new topology instead", what, def.Name)
		return
	}
	if def.Name == "" {
		b.problem("a %s has an empty name; every node needs a unique name", what)
		return
	}
	if _, dup := b.byName[def.Name]; dup {
		b.problem("node name %q is used twice; node names must be unique", def.Name)
		return
	}
	b.nodes = append(b.nodes, def)
	b.byName[def.Name] = def
}

// link makes def a child of parents, checking that each parent exists in
// this builder.
func link[K, V any](b *Builder, def *graph.NodeDef, what string, parents []Node[K, V]) {
	if len(parents) == 0 {
		b.problem("%s %q has no parent; pass the node(s) it reads from", what, def.Name)
	}
	for _, p := range parents {
		switch {
		case p.b != b && p.b != nil:
			b.problem("%s %q has parent %q from another Builder", what, def.Name, p.name)
		case p.name == "" || b.byName[p.name] == nil:
			b.problem("%s %q has unknown parent %q; add the parent first", what, def.Name, p.name)
		case slices.Contains(def.Parents, p.name):
			b.problem("%s %q lists parent %q twice", what, def.Name, p.name)
		default:
			def.Parents = append(def.Parents, p.name)
			parent := b.byName[p.name]
			parent.Children = append(parent.Children, def.Name)
		}
	}
}

// AddSource adds a node that reads src's topics and forwards their records.
func AddSource[K, V any](b *Builder, name string, src Source[K, V]) Node[K, V] {
	def := &graph.NodeDef{
		Name:        name,
		Kind:        graph.SourceKind,
		Topics:      slices.Clone(src.Topics),
		Pattern:     src.Pattern,
		OffsetReset: string(src.OffsetReset),
	}
	switch {
	case len(src.Topics) == 0 && src.Pattern == nil:
		b.problem("source %q has no topics; set Topics or Pattern", name)
	case len(src.Topics) > 0 && src.Pattern != nil:
		b.problem("source %q has both Topics and Pattern; set one of them", name)
	}
	for i, t := range src.Topics {
		if t == "" {
			b.problem("source %q: topic %d is an empty name", name, i)
		}
	}
	if src.KeySerde == nil || src.ValueSerde == nil {
		b.problem("source %q needs both KeySerde and ValueSerde", name)
	}
	switch src.OffsetReset {
	case DefaultReset, Earliest, Latest:
	default:
		b.problem("source %q: OffsetReset %q is not one of \"earliest\", \"latest\" or \"\"", name, src.OffsetReset)
	}
	ks, vs, ex := src.KeySerde, src.ValueSerde, src.TimestampExtractor
	def.New = func(string) graph.Node { return graph.NewSourceNode(name, ks, vs, ex) }
	def.NewQueue = func(n graph.Node, topic string, partition int32) graph.Queue {
		return n.(*graph.SourceNode[K, V]).NewQueue(topic, partition)
	}
	b.add(def, "source")
	return Node[K, V]{b: b, name: name}
}

// AddProcessor adds a node that runs a processor from supplier (one instance
// per task) on the records of its parents, which all forward Record[KIn,
// VIn].
func AddProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, supplier processor.Supplier[KIn, VIn, KOut, VOut], parents ...Node[KIn, VIn]) Node[KOut, VOut] {
	def := &graph.NodeDef{Name: name, Kind: graph.ProcessorKind}
	if supplier == nil {
		b.problem("processor %q has a nil supplier", name)
	}
	def.New = func(string) graph.Node {
		return graph.NewProcessorNode(name, supplier(), def.Stores)
	}
	b.add(def, "processor")
	if b.byName[name] == def {
		link(b, def, "processor", parents)
	}
	return Node[KOut, VOut]{b: b, name: name}
}

// AddSink adds a node that writes the records of its parents to a topic.
func AddSink[K, V any](b *Builder, name string, sink Sink[K, V], parents ...Node[K, V]) {
	def := &graph.NodeDef{Name: name, Kind: graph.SinkKind, Topic: sink.Topic}
	switch {
	case sink.Topic == "" && sink.TopicChooser == nil:
		b.problem("sink %q has no topic; set Topic or TopicChooser", name)
	case sink.Topic != "" && sink.TopicChooser != nil:
		b.problem("sink %q has both Topic and TopicChooser; set one of them", name)
	}
	if sink.KeySerde == nil || sink.ValueSerde == nil {
		b.problem("sink %q needs both KeySerde and ValueSerde", name)
	}
	ks, vs, p, choose := sink.KeySerde, sink.ValueSerde, sink.Partitioner, sink.TopicChooser
	def.New = func(appID string) graph.Node {
		topic := sink.Topic
		if topic != "" {
			topic = b.prog.TopicName(appID, topic)
		}
		var c graph.TopicChooser[K, V]
		if choose != nil {
			c = choose
		}
		return graph.NewSinkNode(name, topic, c, ks, vs, p)
	}
	b.add(def, "sink")
	if b.byName[name] == def {
		link(b, def, "sink", parents)
	}
}

// AddRepartition routes the records of parents through an internal topic,
// "<application.id>-<name>-repartition", so that records with the same key
// reach the same task downstream. It adds a sink "<name>-repartition-sink"
// below parents and a source "<name>-repartition-source", which it returns
// (r.SinkName and r.SourceName name them otherwise).
// The two ends land in different sub-topologies.
func AddRepartition[K, V any](b *Builder, name string, r Repartition[K, V], parents ...Node[K, V]) Node[K, V] {
	topic := name + "-repartition"
	if r.Partitions < 0 {
		b.problem("repartition %q: Partitions is %d; use 0 for the default or a positive count", name, r.Partitions)
	}
	if _, dup := b.internal[topic]; dup {
		b.problem("repartition topic %q is declared twice", topic)
	}
	b.internal[topic] = graph.InternalTopic{Partitions: r.Partitions}
	sink, source := r.SinkName, r.SourceName
	if sink == "" {
		sink = topic + "-sink"
	}
	if source == "" {
		source = topic + "-source"
	}
	AddSink(b, sink, Sink[K, V]{Topic: topic, KeySerde: r.KeySerde, ValueSerde: r.ValueSerde, Partitioner: r.Partitioner}, parents...)
	return AddSource(b, source, Source[K, V]{Topics: []string{topic}, KeySerde: r.KeySerde, ValueSerde: r.ValueSerde})
}

// AddStateStore adds a store and connects it to the named processors, which
// may be added before or after it. More processors can be connected later
// with ConnectProcessorAndStateStores.
func (b *Builder) AddStateStore(sb state.StoreBuilder, processors ...string) {
	if sb == nil {
		b.problem("AddStateStore was given a nil store builder")
		return
	}
	name := sb.Name()
	if name == "" {
		b.problem("a state store has an empty name")
		return
	}
	if _, dup := b.stores[name]; dup {
		b.problem("state store %q is added twice", name)
		return
	}
	b.stores[name] = &graph.StoreDef{Builder: sb}
	b.storeSeq = append(b.storeSeq, name)
	for _, p := range processors {
		b.connect(p, name)
	}
}

// ConnectProcessorAndStateStores gives processor access to stores, which
// must be added with AddStateStore (before or after this call). A global
// store needs no connection; connecting one changes nothing.
func (b *Builder) ConnectProcessorAndStateStores(processor string, stores ...string) {
	if len(stores) == 0 {
		b.problem("ConnectProcessorAndStateStores(%q) names no store", processor)
	}
	for _, s := range stores {
		b.connect(processor, s)
	}
}

// RestoreFromSourceTopic makes topic, which a source of the store's
// sub-topology reads, the changelog of the key-value store named store, as
// Kafka Streams does for a table read from a topic (its source-topic
// optimisation) and for Topology.addReadOnlyStateStore: no
// "<application.id>-<store>-changelog" is created or written, since the
// topic already holds every record the store was built from. The store must
// be built with logging disabled (its builder's WithLoggingDisabled), and
// its bytes must be the topic's records as they are (for a timestamped
// store, state.NewTimestampedKeyValueStoreBuilder, the runtime adds each
// record's timestamp). A task restores it from the topic's partition up to
// the offset the application has committed there, and processes the rest,
// so nothing is processed twice.
func (b *Builder) RestoreFromSourceTopic(store, topic string) {
	b.fromSource = append(b.fromSource, [2]string{store, topic})
}

// pendingConnections are checked at Build, since a store or processor may be
// added after the call that names it.
func (b *Builder) connect(proc, store string) {
	b.conns = append(b.conns, [2]string{proc, store})
}

// Build validates the topology and returns it, or an error that lists every
// problem found, each with what to do about it.
func (b *Builder) Build() (*Topology, error) {
	if b.built {
		return nil, errors.New("topology: Build was already called on this Builder")
	}
	problems := slices.Clone(b.problems)
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(b.nodes) == 0 {
		add("the topology has no nodes; add a source with AddSource")
	}
	hasSource := false
	for _, n := range b.nodes {
		if n.Kind == graph.SourceKind {
			hasSource = true
		}
	}
	if len(b.nodes) > 0 && !hasSource {
		add("the topology has no source; add one with AddSource")
	}

	// A topic is read by one source at most.
	readers := map[string]string{}
	for _, n := range b.nodes {
		if b.isGlobalSource(n.Name) {
			continue // checkGlobals says more
		}
		for _, t := range n.Topics {
			if other, ok := readers[t]; ok && other != n.Name {
				add("topic %q is read by both source %q and source %q; one source may list several topics instead", t, other, n.Name)
			} else {
				readers[t] = n.Name
			}
		}
	}

	// Store connections.
	connected := map[string]bool{}
	for _, c := range b.conns {
		proc, store := c[0], c[1]
		def, ok := b.byName[proc]
		sd, sok := b.stores[store]
		switch {
		case !ok:
			add("store %q is connected to processor %q, which was never added; add it with AddProcessor", store, proc)
		case def.Kind != graph.ProcessorKind:
			add("store %q is connected to %q, which is a %s; only processors use stores", store, proc, kindName(def.Kind))
		case !sok:
			add("processor %q is connected to store %q, which was never added; call AddStateStore", proc, store)
		case sd.Global:
			// A global store needs no connection: every processor may
			// read it. It joins no sub-topology.
		case slices.Contains(def.Stores, store):
			// connecting twice is harmless
		default:
			def.Stores = append(def.Stores, store)
			sd.Processors = append(sd.Processors, proc)
		}
		if sok {
			connected[store] = true
		}
	}
	for _, fs := range b.fromSource {
		store, topic := fs[0], fs[1]
		sd, ok := b.stores[store]
		switch {
		case !ok:
			add("RestoreFromSourceTopic(%q, %q): there is no store %q; add it with AddStateStore", store, topic, store)
			continue
		case readers[topic] == "":
			add("RestoreFromSourceTopic(%q, %q): no source reads topic %q; a store can only be restored from a topic its sub-topology reads", store, topic, topic)
			continue
		case sd.Builder.LoggingEnabled():
			add("RestoreFromSourceTopic(%q, %q): store %q logs to a changelog of its own; build it WithLoggingDisabled", store, topic, store)
			continue
		case sd.SourceTopic != "" && sd.SourceTopic != topic:
			add("RestoreFromSourceTopic(%q, %q): store %q is already restored from %q", store, topic, store, sd.SourceTopic)
			continue
		}
		if _, windowed := sd.Builder.(state.WindowedStoreBuilder); windowed {
			add("RestoreFromSourceTopic(%q, %q): store %q is a window or session store; only a key-value store holds a topic's records as they are", store, topic, store)
			continue
		}
		sd.SourceTopic = topic
		if ts, ok := sd.Builder.(interface{ Timestamped() bool }); ok {
			sd.Timestamped = ts.Timestamped()
		}
	}
	problems = append(problems, b.checkGlobals()...)
	for _, s := range b.storeSeq {
		if b.isGlobalStore(s) {
			continue // connected to its state-update processor
		}
		if !connected[s] || len(b.stores[s].Processors) == 0 {
			add("state store %q is connected to no processor; name the processors in AddStateStore or call ConnectProcessorAndStateStores", s)
		}
	}

	if len(problems) > 0 {
		return nil, newError(problems)
	}

	subs := b.group()
	globals := b.splitGlobals(subs)
	problems = append(problems, checkExternal(subs)...)
	for _, st := range subs {
		for _, name := range st.Stores {
			if t := b.stores[name].SourceTopic; t != "" && !slices.Contains(st.SourceTopics, t) {
				problems = append(problems, fmt.Sprintf("RestoreFromSourceTopic(%q, %q): the store's processors are in sub-topology %d, which does not read %q", name, t, st.ID, t))
			}
		}
	}
	if len(problems) > 0 {
		return nil, newError(problems)
	}

	b.built = true
	b.prog = &graph.Program{
		Subtopologies:  subs,
		Globals:        globals,
		Stores:         b.stores,
		InternalTopics: b.internal,
	}
	return &Topology{prog: b.prog}, nil
}

func newError(problems []string) *Error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "topology: %d problem(s):", len(problems))
	for _, p := range problems {
		sb.WriteString("\n  - ")
		sb.WriteString(p)
	}
	return &Error{Problems: problems, msg: sb.String()}
}

// Error lists every problem Build found.
type Error struct {
	Problems []string
	msg      string
}

func (e *Error) Error() string { return e.msg }

func kindName(k graph.Kind) string {
	switch k {
	case graph.SourceKind:
		return "source"
	case graph.SinkKind:
		return "sink"
	}
	return "processor"
}
