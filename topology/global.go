package topology

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// GlobalSource says what a global store reads: one topic, all of its
// partitions, on every instance of the app.
type GlobalSource[K, V any] struct {
	// Topic the store is fed from. Required. It is the store's changelog:
	// no "<application.id>-<store>-changelog" is made, and no other source
	// may read it.
	Topic string
	// KeySerde and ValueSerde decode the records. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// TimestampExtractor gives each record its timestamp. Default: the
	// record's own.
	TimestampExtractor TimestampExtractor[K, V]
}

// AddGlobalStore adds a global store, as Kafka Streams'
// Topology.addGlobalStore: store is kept whole on every instance of the
// app, fed by a source named sourceName that reads every partition of
// src.Topic, through the state-update processor named processorName (one
// instance per app instance, from stateUpdate), which writes the records
// into the store. A global store is in no task: the app restores it to the
// topic's end before any task processes, then a global thread keeps it up
// to date. store must be built WithLoggingDisabled: the topic is its
// changelog.
//
// Every processor of the topology may read the store, without being
// connected to it (connecting it is allowed and changes nothing): its
// Context.StateStore returns a read-only view, safe to read while the
// global thread writes. What a processor reads there depends on how far
// the global thread got, not on the record being processed: a global store
// is not co-partitioned or time-synchronized with the tasks' inputs.
//
// The state-update processor forwards nowhere, has no stream time and
// cannot schedule punctuations. Its source and processor form a
// sub-topology of their own, numbered with the others, that Describe
// prints as Kafka Streams does ("for global store (will not generate
// tasks)").
func AddGlobalStore[K, V any](b *Builder, store state.StoreBuilder, sourceName string, src GlobalSource[K, V], processorName string, stateUpdate processor.Supplier[K, V, struct{}, struct{}]) {
	if store == nil {
		b.problem("AddGlobalStore(%q): the store builder is nil", sourceName)
		return
	}
	name := store.Name()
	if stateUpdate == nil {
		b.problem("global store %q has a nil state-update supplier; pass the processor that writes the topic's records to the store", name)
	}
	if src.Topic == "" {
		b.problem("global store %q has no topic; set GlobalSource.Topic", name)
	}
	if src.KeySerde == nil || src.ValueSerde == nil {
		b.problem("global store %q: its source %q needs both KeySerde and ValueSerde", name, sourceName)
	}
	if store.LoggingEnabled() {
		b.problem("global store %q logs to a changelog; build it WithLoggingDisabled: its topic %q is its changelog", name, src.Topic)
	}
	if sourceName == processorName && sourceName != "" {
		b.problem("global store %q: its source and its processor are both named %q; give them different names", name, sourceName)
		return
	}

	ks, vs, ex := src.KeySerde, src.ValueSerde, src.TimestampExtractor
	sdef := &graph.NodeDef{Name: sourceName, Kind: graph.SourceKind, Topics: []string{src.Topic}}
	sdef.New = func(string) graph.Node { return graph.NewSourceNode(sourceName, ks, vs, ex) }
	sdef.NewQueue = func(n graph.Node, topic string, partition int32) graph.Queue {
		return n.(*graph.SourceNode[K, V]).NewQueue(topic, partition)
	}
	pdef := &graph.NodeDef{Name: processorName, Kind: graph.ProcessorKind}
	pdef.New = func(string) graph.Node {
		return graph.NewProcessorNode(processorName, stateUpdate(), pdef.Stores)
	}
	b.add(sdef, "global store's source")
	b.add(pdef, "global store's processor")
	if b.byName[sourceName] != sdef || b.byName[processorName] != pdef {
		return // a name problem is reported
	}
	pdef.Parents = []string{sourceName}
	sdef.Children = []string{processorName}

	if _, dup := b.stores[name]; dup {
		b.problem("state store %q is added twice", name)
		return
	}
	if name == "" {
		b.problem("a global store has an empty name")
		return
	}
	pdef.Stores = []string{name}
	b.stores[name] = &graph.StoreDef{Builder: store, Processors: []string{processorName}, Global: true}
	b.storeSeq = append(b.storeSeq, name)
	b.globals = append(b.globals, globalDef{store: name, source: sourceName, processor: processorName, topic: src.Topic})
}

// globalDef is a global store added with AddGlobalStore.
type globalDef struct {
	store, source, processor, topic string
}

// isGlobalStore reports whether name is a global store's.
func (b *Builder) isGlobalStore(name string) bool {
	sd, ok := b.stores[name]
	return ok && sd.Global
}

// checkGlobals reports what is wrong with the global stores: a topic read
// by another source too (by name or by pattern), or a global store
// restored from a topic as if it were a task's.
func (b *Builder) checkGlobals() []string {
	var problems []string
	for _, g := range b.globals {
		for _, n := range b.nodes {
			if n.Kind != graph.SourceKind || n.Name == g.source {
				continue
			}
			switch {
			case slices.Contains(n.Topics, g.topic):
				problems = append(problems, fmt.Sprintf("topic %q feeds global store %q and is also read by source %q; a global store's topic can be read by nothing else (read it as a stream from another topic)", g.topic, g.store, n.Name))
			case n.Pattern != nil && fullMatch(n.Pattern.FindStringIndex(g.topic), g.topic):
				problems = append(problems, fmt.Sprintf("topic %q feeds global store %q and matches the pattern of source %q; a global store's topic can be read by nothing else", g.topic, g.store, n.Name))
			}
		}
		for _, fs := range b.fromSource {
			if fs[0] == g.store {
				problems = append(problems, fmt.Sprintf("RestoreFromSourceTopic(%q, %q): %q is a global store, restored from its own topic already", fs[0], fs[1], g.store))
			}
		}
	}
	return problems
}

func fullMatch(loc []int, s string) bool { return loc != nil && loc[0] == 0 && loc[1] == len(s) }

// splitGlobals takes the global stores' sub-topologies out of subs: each
// leaves a placeholder with its id, so that the ids of the others stay
// Kafka Streams' and subs stays indexed by id.
func (b *Builder) splitGlobals(subs []*graph.Subtopology) []*graph.GlobalSubtopology {
	if len(b.globals) == 0 {
		return nil
	}
	bySource := map[string]globalDef{}
	for _, g := range b.globals {
		bySource[g.source] = g
	}
	var out []*graph.GlobalSubtopology
	for i, st := range subs {
		for _, n := range st.Nodes {
			g, ok := bySource[n.Name]
			if !ok {
				continue
			}
			out = append(out, &graph.GlobalSubtopology{ID: st.ID, Topic: g.topic, Store: g.store, Nodes: st.Nodes})
			subs[i] = &graph.Subtopology{ID: st.ID, Global: true}
			break
		}
	}
	return out
}

// isGlobalSource reports whether name is a global store's source.
func (b *Builder) isGlobalSource(name string) bool {
	for _, g := range b.globals {
		if g.source == name {
			return true
		}
	}
	return false
}

// GlobalStoreDescription is a global store's sub-topology: its source and
// its state-update processor.
type GlobalStoreDescription struct {
	ID        int
	Source    NodeDescription
	Processor NodeDescription
}

// String prints the global store as Kafka Streams' GlobalStore does:
// unlike a sub-topology it ends with no blank line.
func (g GlobalStoreDescription) String() string {
	return "Sub-topology: " + strconv.Itoa(g.ID) + " for global store (will not generate tasks)\n" +
		"    " + g.Source.String() + "\n" +
		"    " + g.Processor.String() + "\n"
}

func describeGlobals(p *graph.Program) []GlobalStoreDescription {
	var out []GlobalStoreDescription
	for _, g := range p.Globals {
		src, proc := g.Nodes[0], g.Nodes[1]
		out = append(out, GlobalStoreDescription{
			ID:        g.ID,
			Source:    NodeDescription{Name: src.Name, Kind: SourceNode, Topics: []string{g.Topic}, Successors: []string{proc.Name}},
			Processor: NodeDescription{Name: proc.Name, Kind: ProcessorNode, Stores: []string{g.Store}, Predecessors: []string{src.Name}},
		})
	}
	return out
}

// writeGlobalsBefore writes the global stores (sorted by id) whose ids
// come before id, or all of them for -1, and returns the rest. Kafka
// Streams merges the two lists by walking the ids 0, 1, 2…, which comes to
// the same, as the ids of both lists together are 0…n-1.
func writeGlobalsBefore(sb *strings.Builder, globals []GlobalStoreDescription, id int) []GlobalStoreDescription {
	for len(globals) > 0 && (id < 0 || globals[0].ID < id) {
		sb.WriteString("  ")
		sb.WriteString(globals[0].String())
		globals = globals[1:]
	}
	return globals
}
