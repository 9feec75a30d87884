package topology_test

import (
	"fmt"
	"strings"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Word count: split lines into words, repartition by word, count in a
// store, and write the counts out. The repartition topic splits the graph
// into two sub-topologies.
func Example() {
	b := topology.NewBuilder()
	lines := topology.AddSource(b, "Lines", topology.Source[string, string]{
		Topics: []string{"lines"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	words := topology.AddProcessor(b, "Split", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		for _, w := range strings.Fields(rec.Value) {
			if err := ctx.Forward(processor.Derive(rec, w, w)); err != nil {
				return err
			}
		}
		return nil
	}), lines)
	byWord := topology.AddRepartition(b, "words", topology.Repartition[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String()}, words)
	counts := topology.AddProcessor(b, "Count", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, string]) error {
		st, err := processor.GetStore[state.KeyValueStore[string, int64]](ctx, "Counts")
		if err != nil {
			return err
		}
		n, _, err := st.Get(rec.Key)
		if err == nil {
			err = st.Put(rec.Key, n+1)
		}
		if err != nil {
			return err
		}
		return ctx.Forward(processor.Derive(rec, rec.Key, n+1))
	}), byWord)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()), "Count")
	topology.AddSink(b, "Counts", topology.Sink[string, int64]{
		Topic: "word-counts", KeySerde: serde.String(), ValueSerde: serde.Int64()}, counts)

	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(topo.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: Lines (topics: [lines])
	//       --> Split
	//     Processor: Split (stores: [])
	//       --> words-repartition-sink
	//       <-- Lines
	//     Sink: words-repartition-sink (topic: words-repartition)
	//       <-- Split
	//
	//   Sub-topology: 1
	//     Source: words-repartition-source (topics: [words-repartition])
	//       --> Count
	//     Processor: Count (stores: [Counts])
	//       --> Counts
	//       <-- words-repartition-source
	//     Sink: Counts (topic: word-counts)
	//       <-- Count
}

// Build lists every mistake at once.
func ExampleBuilder_Build() {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "orders", topology.Source[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "enrich", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec)
	}), src)
	b.ConnectProcessorAndStateStores("enrich", "customers")
	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// topology: 2 problem(s):
	//   - source "orders" has no topics; set Topics or Pattern
	//   - processor "enrich" is connected to store "customers", which was never added; call AddStateStore
}

// Mermaid draws the description: a subgraph per sub-topology holding its
// nodes and stores, topics outside, edges along the records' way. Paste
// it into a Markdown file between ```mermaid fences to see it; DOT gives
// the same picture for Graphviz.
func ExampleDescription_Mermaid() {
	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{
		Topics: []string{"words"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	count := topology.AddProcessor(b, "count", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec)
	}), in)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()), "count")
	topology.AddSink(b, "out", topology.Sink[string, string]{
		Topic: "counts", KeySerde: serde.String(), ValueSerde: serde.String()}, count)
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(topo.Describe().Mermaid())
	// Output:
	// flowchart TB
	//     t0[/"words<br/>topic"/]
	//     t1[/"counts<br/>topic"/]
	//     subgraph sub0["Sub-topology: 0"]
	//         n0(["in<br/>source"])
	//         n1["count<br/>processor"]
	//         n2(["out<br/>sink"])
	//         s0[("Counts<br/>store")]
	//     end
	//     t0 --> n0
	//     n0 --> n1
	//     n1 -.- s0
	//     n1 --> n2
	//     n2 --> t1
}
