// Package graph holds the runtime form of a topology: typed nodes that a
// task instantiates and wires, and the Program that describes which nodes,
// stores and topics each sub-topology has. topology builds a Program; the
// task runtime (internal/task) runs it. Records are never boxed on their way
// through the graph: a node checks its children's types once, when a task is
// wired, and calls them directly afterwards.
package graph

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// Env is what a node needs from the task that runs it.
type Env interface {
	TaskID() processor.TaskID
	ApplicationID() string
	StateDir() string
	StreamTime() time.Time
	WallClockTime() time.Time
	RecordMetadata() (processor.RecordMetadata, bool)
	Schedule(node string, interval time.Duration, typ processor.PunctuationType, p processor.Punctuator) (processor.Cancellable, error)
	RequestCommit()
	// DroppedRecord counts a record the processor node dropped.
	DroppedRecord(node string)
	// Logger is the task's logger.
	Logger() *slog.Logger
	// Store returns the task's instance of the named store.
	Store(name string) (state.Store, bool)
	// GlobalStore returns a read-only view of the named global store
	// (topology.AddGlobalStore), which every processor may read without
	// being connected to it; false if the topology has no such global
	// store.
	GlobalStore(name string) (state.Store, bool)
	// KnowsStore reports whether the topology has a store of that name,
	// in this task or another.
	KnowsStore(name string) bool
	// Send hands a serialized record to the task's record collector. out
	// and the memory of its Key and Value are borrowed for the call: the
	// caller reuses them after Send returns, so the collector copies what
	// it keeps.
	Send(out *Output) error
	// NumPartitions reports how many partitions topic has, for sinks with a
	// custom partitioner.
	NumPartitions(topic string) (int, error)
}

// Node is a node of a running task's graph.
type Node interface {
	Name() string
	// AddChild wires child below this node. It fails when the child does
	// not accept what this node forwards, which the typed builder rules out.
	AddChild(child Node) error
	Init(env Env) error
	Close() error
}

// Receiver is a node that accepts records of type Record[K, V].
type Receiver[K, V any] interface {
	Node
	Receive(rec processor.Record[K, V]) error
}

// RawRecord is a consumed record before deserialization.
type RawRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []processor.Header
	Timestamp time.Time
}

// Output is a serialized record on its way to a topic. Partition is -1 when
// the sink leaves the choice to the collector's default partitioner.
type Output struct {
	Topic     string
	Partition int32
	Key       []byte
	Value     []byte
	Headers   []processor.Header
	Timestamp time.Time
	// Sink is the name of the sink node that produced it, or of the store
	// whose change it is.
	Sink string
	// Changelog marks a store's change on its way to its changelog topic.
	Changelog bool
}

func addChild[K, V any](parent string, children *[]Receiver[K, V], byName map[string]Receiver[K, V], child Node) error {
	r, ok := child.(Receiver[K, V])
	if !ok {
		return fmt.Errorf("graph: node %q cannot be a child of %q: it does not accept Record[%s]",
			child.Name(), parent, typeName[K]()+", "+typeName[V]())
	}
	*children = append(*children, r)
	byName[child.Name()] = r
	return nil
}

func typeName[T any]() string { return fmt.Sprintf("%T", *new(T)) }

// Kind is the kind of a node.
type Kind int

const (
	SourceKind Kind = iota
	ProcessorKind
	SinkKind
)

// NodeDef describes one node of a topology and makes its runtime instances.
type NodeDef struct {
	Name     string
	Kind     Kind
	Parents  []string
	Children []string
	// Stores connected to a processor.
	Stores []string
	// Topics and Pattern of a source.
	Topics  []string
	Pattern *regexp.Regexp
	// OffsetReset of a source: "" (app default), "earliest" or "latest".
	OffsetReset string
	// Topic of a sink with a fixed topic; empty when it has a chooser.
	Topic string
	// New makes a fresh runtime node for one task of the app appID.
	New func(appID string) Node
	// NewQueue, for sources, makes a record queue for one input partition.
	NewQueue func(src Node, topic string, partition int32) Queue
	// External marks a processor that writes to a system outside Kafka
	// (topology.AddExternalSink) and implements
	// processor.ExternalCommitter; System names that system.
	External bool
	System   string
	// StoredOffsets, for an external sink that keeps its task's input
	// offsets with its data, reads them.
	StoredOffsets OffsetReader
}

// OffsetReader reads the input offsets an external sink stored for
// partitions of the application appID: per partition, the offset of the
// next record to read. A partition the sink has no offset for is left out.
type OffsetReader func(ctx context.Context, appID string, partitions []processor.TopicPartition) (map[processor.TopicPartition]int64, error)

// StoreDef is a state store of a topology.
type StoreDef struct {
	Builder    state.StoreBuilder
	Processors []string
	// SourceTopic, when set, is the store's changelog: a topic a source of
	// its sub-topology reads (a table read from it). The store writes no
	// changelog of its own; it is restored from the topic, up to what the
	// application has committed on it.
	SourceTopic string
	// Timestamped says the store's bytes are a timestamp and the value,
	// which a restore from SourceTopic, whose records hold the value alone,
	// must add.
	Timestamped bool
	// Global marks a global store: one instance per app instance, fed from
	// every partition of its topic by the global thread, in no task.
	Global bool
}

// Subtopology is a connected component of the node graph (two processors
// sharing a store are connected). It runs as one task per partition.
type Subtopology struct {
	ID int
	// Nodes in topological order: every node comes after its parents.
	Nodes []*NodeDef
	// SourceTopics are the topics the sub-topology reads, sorted.
	SourceTopics []string
	// Patterns of its pattern sources.
	Patterns []*regexp.Regexp
	// Stores used by its processors, sorted.
	Stores []string
	// StoredOffsets is set when the sub-topology ends in an external sink
	// that stores its input offsets (one at most): its tasks start from
	// the offsets it read, not from the group's.
	StoredOffsets OffsetReader
	// External is set when some processor of the sub-topology writes to
	// a system outside Kafka.
	External bool
	// Global marks the place of a global store's sub-topology, which takes
	// an id from the same numbering, as in Kafka Streams, but generates no
	// task: it has no nodes, topics or stores here. Its nodes are in
	// Program.Globals.
	Global bool
}

// GlobalSubtopology is a global store's sub-topology: a source that reads
// every partition of Topic and the processor that updates Store from it.
// The global thread runs it (GlobalTask), not a task.
type GlobalSubtopology struct {
	ID    int
	Topic string
	Store string
	// Nodes are the source, then the processor.
	Nodes []*NodeDef
}

// Program is a validated topology in runtime form.
type Program struct {
	// Subtopologies by id; a global store's id holds a placeholder (Global
	// set, no nodes).
	Subtopologies []*Subtopology
	// Globals are the global stores' sub-topologies, by id.
	Globals []*GlobalSubtopology
	Stores  map[string]*StoreDef
	// InternalTopics are the repartition topics of the topology (and
	// other internal topics, topology.AddInternalTopic's), by their
	// undecorated name (without the application id prefix).
	InternalTopics map[string]InternalTopic
}

// ChangelogTopic is the changelog topic of store: "<appID>-<store>-changelog".
func ChangelogTopic(appID, store string) string { return appID + "-" + store + "-changelog" }

// InternalTopic is a repartition topic the runtime creates.
type InternalTopic struct {
	// Partitions is the partition count; 0 means the largest partition
	// count among the source topics of the sub-topology that writes it.
	Partitions int
	// PartitionedLikeReader, with Partitions 0, takes the count of the
	// sub-topology that reads the topic instead, from its other source
	// topics (a foreign-key join's subscription and response topics).
	PartitionedLikeReader bool
}

// TopicName returns the name of topic in the cluster: internal topics are
// prefixed with the application id, "<appID>-<name>".
func (p *Program) TopicName(appID, topic string) string {
	if _, ok := p.InternalTopics[topic]; ok {
		return appID + "-" + topic
	}
	return topic
}

// ProgramOf returns the Program of a *topology.Topology. Package topology
// sets it at init, so that the runtimes can run a topology without the
// topology package exporting its internals.
var ProgramOf func(topology any) *Program
