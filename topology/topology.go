package topology

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gostreams/streams/internal/graph"
)

// Topology is a validated graph of sources, processors, sinks and state
// stores, ready to run in an App or a test driver. It is immutable and may
// be run by several apps or drivers at once.
type Topology struct {
	prog *graph.Program
}

func init() {
	graph.ProgramOf = func(t any) *graph.Program { return t.(*Topology).prog }
}

// group splits the nodes into sub-topologies: the connected components of
// the graph, where two processors that share a store are connected.
// Sub-topology ids follow Kafka Streams' rule: components are numbered in
// the order of their first source node by name, so that a Kafka Streams user
// gets the same ids (and task ids) for the same topology.
func (b *Builder) group() []*graph.Subtopology {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		p, ok := parent[x]
		if !ok || p == x {
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	union := func(a, c string) {
		ra, rc := find(a), find(c)
		if ra != rc {
			parent[ra] = rc
		}
	}
	for _, n := range b.nodes {
		for _, p := range n.Parents {
			union(n.Name, p)
		}
	}
	for _, s := range b.stores {
		for _, p := range s.Processors[1:] {
			union(s.Processors[0], p)
		}
	}

	var sources, all []string
	for _, n := range b.nodes {
		all = append(all, n.Name)
		if n.Kind == graph.SourceKind {
			sources = append(sources, n.Name)
		}
	}
	slices.Sort(sources)
	slices.Sort(all)
	ids := map[string]int{}
	for _, name := range append(sources, all...) {
		if _, ok := ids[find(name)]; !ok {
			ids[find(name)] = len(ids)
		}
	}
	subs := make([]*graph.Subtopology, len(ids))
	for i := range subs {
		subs[i] = &graph.Subtopology{ID: i}
	}
	for _, n := range b.nodes { // insertion order is topological: parents come first
		st := subs[ids[find(n.Name)]]
		st.Nodes = append(st.Nodes, n)
		st.SourceTopics = append(st.SourceTopics, n.Topics...)
		if n.Pattern != nil {
			st.Patterns = append(st.Patterns, n.Pattern)
		}
		for _, s := range n.Stores {
			if !slices.Contains(st.Stores, s) {
				st.Stores = append(st.Stores, s)
			}
		}
		if n.External {
			st.External = true
		}
		if n.StoredOffsets != nil {
			st.StoredOffsets = n.StoredOffsets
		}
	}
	for _, st := range subs {
		slices.Sort(st.SourceTopics)
		slices.Sort(st.Stores)
	}
	return subs
}

// NodeKind is the kind of a node in a Description.
type NodeKind int

const (
	SourceNode NodeKind = iota
	ProcessorNode
	SinkNode
)

func (k NodeKind) String() string {
	switch k {
	case SourceNode:
		return "Source"
	case SinkNode:
		return "Sink"
	}
	return "Processor"
}

// Description is the structure of a topology: its sub-topologies and their
// nodes. String prints it in Kafka Streams' format, which existing topology
// visualizers read; Mermaid and DOT draw it as a picture.
type Description struct {
	Subtopologies []SubtopologyDescription
	// GlobalStores are the global stores' sub-topologies, whose ids are
	// numbered with the others.
	GlobalStores []GlobalStoreDescription
}

// SubtopologyDescription is one sub-topology. Nodes are in Kafka Streams'
// order: larger sub-trees first (a node's size counts the paths down from
// it), then by name.
type SubtopologyDescription struct {
	ID    int
	Nodes []NodeDescription
}

// NodeDescription is one node.
type NodeDescription struct {
	Name string
	Kind NodeKind
	// Topics and Pattern of a source.
	Topics  []string
	Pattern string
	// Topic of a sink; empty for a sink with a TopicChooser.
	Topic string
	// Stores of a processor, in the order Kafka Streams prints them: that
	// of a java.util.HashSet they were added to in the order they were
	// connected.
	Stores []string
	// Predecessors and Successors, by name, in the order Kafka Streams
	// prints them. That is not a sort: it depends on the order in which
	// Kafka Streams links the nodes and on the sizes at that time (see
	// describe_order.go).
	Predecessors []string
	Successors   []string
}

// Describe returns the topology's structure.
func (t *Topology) Describe() *Description {
	d := &Description{}
	for _, st := range t.prog.Subtopologies {
		if st.Global {
			continue
		}
		linked := linkLikeKafka(st.Nodes)
		sd := SubtopologyDescription{ID: st.ID}
		// The node list is a TreeSet filled once the sizes are final: a
		// plain sort.
		nodes := make([]*descNode, 0, len(st.Nodes))
		for _, n := range st.Nodes {
			nodes = append(nodes, linked[n.Name])
		}
		slices.SortFunc(nodes, kafkaNodeOrder)
		for _, dn := range nodes {
			n := dn.def
			nd := NodeDescription{
				Name:         n.Name,
				Kind:         NodeKind(n.Kind),
				Topics:       slices.Sorted(slices.Values(n.Topics)),
				Topic:        n.Topic,
				Stores:       javaHashOrder(n.Stores),
				Predecessors: nodeNames(&dn.preds),
				Successors:   nodeNames(&dn.succs),
			}
			if n.Pattern != nil {
				nd.Pattern = n.Pattern.String()
			}
			sd.Nodes = append(sd.Nodes, nd)
		}
		d.Subtopologies = append(d.Subtopologies, sd)
	}
	d.GlobalStores = describeGlobals(t.prog)
	return d
}

// String prints the description in Kafka Streams' TopologyDescription
// format.
func (d *Description) String() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n ")
	globals := d.GlobalStores
	for _, st := range d.Subtopologies {
		globals = writeGlobalsBefore(&sb, globals, st.ID)
		sb.WriteString("  Sub-topology: ")
		sb.WriteString(strconv.Itoa(st.ID))
		sb.WriteString("\n")
		for _, n := range st.Nodes {
			sb.WriteString("    ")
			sb.WriteString(n.String())
			sb.WriteString("\n")
		}
		sb.WriteString("\n")
	}
	writeGlobalsBefore(&sb, globals, -1)
	return sb.String()
}

// String prints the node as Kafka Streams does, without the leading
// indentation.
func (n NodeDescription) String() string {
	var sb strings.Builder
	sb.WriteString(n.Kind.String())
	sb.WriteString(": ")
	sb.WriteString(n.Name)
	switch n.Kind {
	case SourceNode:
		sb.WriteString(" (topics: ")
		if n.Pattern != "" {
			sb.WriteString(n.Pattern)
		} else {
			sb.WriteString("[" + strings.Join(n.Topics, ", ") + "]")
		}
		sb.WriteString(")\n      --> ")
		sb.WriteString(names(n.Successors))
	case ProcessorNode:
		sb.WriteString(" (stores: [" + strings.Join(n.Stores, ", ") + "])\n      --> ")
		sb.WriteString(names(n.Successors))
		sb.WriteString("\n      <-- ")
		sb.WriteString(names(n.Predecessors))
	case SinkNode:
		if n.Topic != "" {
			sb.WriteString(" (topic: " + n.Topic + ")")
		} else {
			sb.WriteString(" (extractor class: TopicChooser)")
		}
		sb.WriteString("\n      <-- ")
		sb.WriteString(names(n.Predecessors))
	}
	return sb.String()
}

func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}
