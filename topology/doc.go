// Package topology builds the graph a streams app runs: sources that read
// topics, processors that transform records and use state stores, and sinks
// that write topics.
//
// The core types:
//
//   - Builder: collects nodes and stores. Nodes are added with the generic
//     functions AddSource, AddProcessor, AddSink and AddRepartition, stores
//     with Builder.AddStateStore, global stores (a store and the source
//     and processor that feed it) with AddGlobalStore; Build validates
//     everything at once.
//   - Node[K, V]: a handle on a node that forwards Record[K, V]. A processor
//     or sink takes its parents as Node values of its input types, so wiring
//     a processor below a parent of other types does not compile, where
//     Kafka Streams' Processor API finds out at run time.
//   - Topology: the validated result, run by the App or the test driver.
//     Describe returns its Description, which prints in Kafka Streams'
//     format and draws as a Mermaid flowchart or a Graphviz DOT graph.
//
// Build reports every problem it finds, each with what to do about it:
// duplicate names, unknown parents, stores that were never added or are
// connected to nothing, sources and sinks without topics, missing serdes.
//
// # Sub-topologies and tasks
//
// Nodes that are connected, directly or by sharing a store, form a
// sub-topology. Each runs as one task per partition of its source topics;
// task "1_3" runs sub-topology 1 on partition 3. Sub-topologies are numbered
// as Kafka Streams numbers them: in the order of their source nodes' names.
// AddRepartition splits a graph in two through an internal topic,
// "<application.id>-<name>-repartition", so records re-keyed upstream reach
// the task that owns their key downstream.
//
// A global store's source and processor form a sub-topology too, numbered
// with the others, but it generates no task: every instance of the app
// keeps the whole store, from every partition of its topic, on a global
// thread, and every processor may read it.
//
// # Describing a topology
//
// Topology.Describe returns a Description: the sub-topologies, global
// stores included, and their nodes with their topics, stores and
// successors. Description.String prints it in Kafka Streams' text format,
// so the tools that read Kafka Streams' Topology.describe() read it too.
// Description.Mermaid and Description.DOT draw the same information: a
// Mermaid flowchart (GitHub renders one in Markdown between ```mermaid
// fences) and a Graphviz digraph ("dot -Tsvg"). Both draw a box per
// sub-topology holding its nodes (labelled with their name and kind) and
// its stores, and the topics as shapes of their own outside the boxes, so
// that a topic one sub-topology writes and another reads, a repartition
// topic say, shows how records go from one to the other. Ids are
// generated and names quoted and escaped, so any name draws, and the same
// topology always gives the same text.
package topology
