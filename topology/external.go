package topology

import (
	"context"
	"fmt"
	"strings"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/processor"
)

// ExternalSink is a sink that writes to a system outside Kafka, such as a
// database, in that system's own transactions. A package such as
// sink/postgres makes one; AddExternalSink adds it to a topology.
type ExternalSink[K, V any] struct {
	// Supplier makes the sink's processor, one per task. The processor
	// must implement processor.ExternalCommitter: its task's commits call
	// CommitExternal. It forwards nothing.
	Supplier processor.Supplier[K, V, struct{}, struct{}]
	// System names the external system in errors and logs ("PostgreSQL").
	System string
	// StoredOffsets, when set, says the sink stores its task's input
	// offsets in the same transaction as its data (exactly once into the
	// sink), and reads them: a task of the sink's sub-topology starts
	// reading its partitions at the offsets it returns, not at the
	// consumer group's, which the runtime still commits afterwards, for
	// lag monitoring only. Such a sink must be the only transactional
	// writer of its sub-topology: Build rejects one whose sub-topology
	// also has state stores or Kafka sinks, or another such sink.
	StoredOffsets func(ctx context.Context, appID string, partitions []processor.TopicPartition) (map[processor.TopicPartition]int64, error)
	// Err, if set, is a mistake in the sink's configuration, which Build
	// reports with the node's name.
	Err error
}

// AddExternalSink adds a node that writes the records of its parents to an
// external system (see ExternalSink). Describe shows it as a processor.
func AddExternalSink[K, V any](b *Builder, name string, sink ExternalSink[K, V], parents ...Node[K, V]) {
	def := &graph.NodeDef{Name: name, Kind: graph.ProcessorKind, External: true, System: sink.System}
	if def.System == "" {
		def.System = "an external system"
	}
	switch {
	case sink.Err != nil:
		b.problem("external sink %q: %v", name, sink.Err)
	case sink.Supplier == nil:
		b.problem("external sink %q has a nil Supplier", name)
	}
	if sink.StoredOffsets != nil {
		def.StoredOffsets = sink.StoredOffsets
	}
	supplier := sink.Supplier
	def.New = func(string) graph.Node {
		return graph.NewProcessorNode(name, supplier(), def.Stores)
	}
	b.add(def, "external sink")
	if b.byName[name] == def {
		link(b, def, "external sink", parents)
	}
}

// checkExternal finds the sub-topologies where an external sink that
// stores its offsets shares a task with another transactional writer: a
// state store or a Kafka sink commits in Kafka, the sink in its own
// system, and with no two-phase commit between the two a crash between
// the commits would lose or repeat one side's writes.
func checkExternal(subs []*graph.Subtopology) []string {
	var problems []string
	for _, st := range subs {
		var owners, kafkaSinks []string
		for _, n := range st.Nodes {
			switch {
			case n.StoredOffsets != nil:
				owners = append(owners, n.Name)
			case n.Kind == graph.SinkKind:
				kafkaSinks = append(kafkaSinks, n.Name)
			}
		}
		if len(owners) == 0 {
			continue
		}
		sys := st.Nodes[0].System
		for _, n := range st.Nodes {
			if n.Name == owners[0] {
				sys = n.System
			}
		}
		if len(owners) > 1 {
			problems = append(problems, fmt.Sprintf("sub-topology %d: external sinks %s each store the task's input offsets; a task can take its offsets from one system only: put each sink in a sub-topology of its own (write the records to a topic first)",
				st.ID, quoteAll(owners)))
			continue
		}
		var others []string
		if len(st.Stores) > 0 {
			others = append(others, "state stores "+quoteAll(st.Stores))
		}
		if len(kafkaSinks) > 0 {
			others = append(others, "Kafka sinks "+quoteAll(kafkaSinks))
		}
		if len(others) == 0 {
			continue
		}
		problems = append(problems, fmt.Sprintf("sub-topology %d: external sink %q commits its records and the task's input offsets in %s, but the sub-topology also has %s, which commit in Kafka: two transactional systems with no two-phase commit between them, so a crash between the two commits would lose or repeat one side's writes. Write the records to a topic first (kstream's Repartition, or To and Stream; topology.AddRepartition) so that the sink is alone in a sub-topology that reads that topic, read_committed under ExactlyOnce",
			st.ID, owners[0], sys, strings.Join(others, " and ")))
	}
	return problems
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
