package kstream_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
)

// Kafka Streams' StreamsGraphTest.shouldOptimizeSeveralMergeNodesWithCommonKeyChangingParent
// (expectedMergeOptimizedTopology; no optimization rule applies to this
// program, so it is also what the default configuration prints).
//
// Bug: Describe sorted each node's predecessors by their final sub-tree
// size and printed "<-- KSTREAM-MAPVALUES-0000000004, KSTREAM-MERGE-0000000005"
// under the second merge. Kafka Streams orders them by the sizes they had
// when they were linked, in the order its HashMap visits the nodes.
func TestDescribeOrdersMergeParentsLikeKafkaStreams(t *testing.T) {
	t.Parallel()
	sb := kstream.NewStreamsBuilder()
	ints := kstream.Consumed[int32, int32]{KeySerde: serde.Int32(), ValueSerde: serde.Int32()}
	parent := kstream.SelectKey(kstream.Stream(sb, []string{"input_topic"}, ints), func(k, v int32) int32 { return k + v })
	child1 := kstream.MapValues(parent, func(v int32) int32 { return v + 1 })
	child2 := kstream.MapValues(parent, func(v int32) int32 { return v + 2 })
	child3 := kstream.MapValues(parent, func(v int32) int32 { return v + 3 })
	child1.Merge(child2).Merge(child3).To("output_topic")
	topo, err := sb.Build()
	require.NoError(t, err)

	require.Equal(t, "Topologies:\n"+
		"   Sub-topology: 0\n"+
		"    Source: KSTREAM-SOURCE-0000000000 (topics: [input_topic])\n"+
		"      --> KSTREAM-KEY-SELECT-0000000001\n"+
		"    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"+
		"      --> KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003, KSTREAM-MAPVALUES-0000000004\n"+
		"      <-- KSTREAM-SOURCE-0000000000\n"+
		"    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])\n"+
		"      --> KSTREAM-MERGE-0000000005\n"+
		"      <-- KSTREAM-KEY-SELECT-0000000001\n"+
		"    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])\n"+
		"      --> KSTREAM-MERGE-0000000005\n"+
		"      <-- KSTREAM-KEY-SELECT-0000000001\n"+
		"    Processor: KSTREAM-MAPVALUES-0000000004 (stores: [])\n"+
		"      --> KSTREAM-MERGE-0000000006\n"+
		"      <-- KSTREAM-KEY-SELECT-0000000001\n"+
		"    Processor: KSTREAM-MERGE-0000000005 (stores: [])\n"+
		"      --> KSTREAM-MERGE-0000000006\n"+
		"      <-- KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003\n"+
		"    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"+
		"      --> KSTREAM-SINK-0000000007\n"+
		"      <-- KSTREAM-MERGE-0000000005, KSTREAM-MAPVALUES-0000000004\n"+
		"    Sink: KSTREAM-SINK-0000000007 (topic: output_topic)\n"+
		"      <-- KSTREAM-MERGE-0000000006\n\n",
		topo.Describe().String())
}
