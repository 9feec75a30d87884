package kstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/describetest"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/window"
)

// The descriptions Kafka Streams prints for stream-stream joins, copied
// from its tests (apache/kafka trunk of 2024-10, default configuration):
// streams/src/test/java/org/apache/kafka/streams/kstream/internals/
// KStreamKStreamJoinTest.java and …/kstream/RepartitionTopicNamingTest.java.
// Each Go program is the Java one of the test it names.
func TestStreamJoinDescribeMatchesKafkaStreams(t *testing.T) {
	repartitionNaming, err := describetest.RepartitionTopicNaming()
	require.NoError(t, err)
	concat := func(_ string, v1, v2 string) string { return v1 + v2 }
	within100ms := window.JoinTimeDifferenceWithNoGrace(100 * time.Millisecond)
	swapped := func(sb *kstream.StreamsBuilder) (kstream.KStream[string, string], kstream.KStream[string, string], kstream.KStream[string, string]) {
		s1 := kstream.Stream(sb, []string{"topic"}, strs)
		s2 := kstream.Stream(sb, []string{"topic2"}, strs)
		s3 := kstream.Stream(sb, []string{"topic3"}, strs)
		return kstream.Map(s1, func(k, v string) (string, string) { return v, k }), s2, s3
	}
	for _, tc := range []struct {
		name  string
		build func(sb *kstream.StreamsBuilder)
		want  string
		// anyOrder compares the sub-topologies as a set: topology numbers
		// them by their first source's name, Kafka Streams by the order of
		// their first node (InternalTopologyBuilder.makeNodeGroups), which
		// differ for this program's sub-topologies 1 and 2.
		anyOrder bool
	}{
		{
			// Two joins of one re-keyed stream without names share its
			// repartition topic, though each draws its three names.
			name: "KStreamKStreamJoinTest.shouldReuseRepartitionTopicWithGeneratedName",
			build: func(sb *kstream.StreamsBuilder) {
				s, s2, s3 := swapped(sb)
				kstream.Join(s, s2, concat, within100ms).To("out-one")
				kstream.Join(s, s3, concat, within100ms).To("out-to")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n" +
				"      --> KSTREAM-MAP-0000000003\n" +
				"    Processor: KSTREAM-MAP-0000000003 (stores: [])\n" +
				"      --> KSTREAM-FILTER-0000000005\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KSTREAM-FILTER-0000000005 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000004\n" +
				"      <-- KSTREAM-MAP-0000000003\n" +
				"    Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-MAP-0000000003-repartition)\n" +
				"      <-- KSTREAM-FILTER-0000000005\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-MAP-0000000003-repartition])\n" +
				"      --> KSTREAM-WINDOWED-0000000007, KSTREAM-WINDOWED-0000000016\n" +
				"    Source: KSTREAM-SOURCE-0000000001 (topics: [topic2])\n" +
				"      --> KSTREAM-WINDOWED-0000000008\n" +
				"    Source: KSTREAM-SOURCE-0000000002 (topics: [topic3])\n" +
				"      --> KSTREAM-WINDOWED-0000000017\n" +
				"    Processor: KSTREAM-WINDOWED-0000000007 (stores: [KSTREAM-JOINTHIS-0000000009-store])\n" +
				"      --> KSTREAM-JOINTHIS-0000000009\n" +
				"      <-- KSTREAM-SOURCE-0000000006\n" +
				"    Processor: KSTREAM-WINDOWED-0000000008 (stores: [KSTREAM-JOINOTHER-0000000010-store])\n" +
				"      --> KSTREAM-JOINOTHER-0000000010\n" +
				"      <-- KSTREAM-SOURCE-0000000001\n" +
				"    Processor: KSTREAM-WINDOWED-0000000016 (stores: [KSTREAM-JOINTHIS-0000000018-store])\n" +
				"      --> KSTREAM-JOINTHIS-0000000018\n" +
				"      <-- KSTREAM-SOURCE-0000000006\n" +
				"    Processor: KSTREAM-WINDOWED-0000000017 (stores: [KSTREAM-JOINOTHER-0000000019-store])\n" +
				"      --> KSTREAM-JOINOTHER-0000000019\n" +
				"      <-- KSTREAM-SOURCE-0000000002\n" +
				"    Processor: KSTREAM-JOINOTHER-0000000010 (stores: [KSTREAM-JOINTHIS-0000000009-store])\n" +
				"      --> KSTREAM-MERGE-0000000011\n" +
				"      <-- KSTREAM-WINDOWED-0000000008\n" +
				"    Processor: KSTREAM-JOINOTHER-0000000019 (stores: [KSTREAM-JOINTHIS-0000000018-store])\n" +
				"      --> KSTREAM-MERGE-0000000020\n" +
				"      <-- KSTREAM-WINDOWED-0000000017\n" +
				"    Processor: KSTREAM-JOINTHIS-0000000009 (stores: [KSTREAM-JOINOTHER-0000000010-store])\n" +
				"      --> KSTREAM-MERGE-0000000011\n" +
				"      <-- KSTREAM-WINDOWED-0000000007\n" +
				"    Processor: KSTREAM-JOINTHIS-0000000018 (stores: [KSTREAM-JOINOTHER-0000000019-store])\n" +
				"      --> KSTREAM-MERGE-0000000020\n" +
				"      <-- KSTREAM-WINDOWED-0000000016\n" +
				"    Processor: KSTREAM-MERGE-0000000011 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000012\n" +
				"      <-- KSTREAM-JOINTHIS-0000000009, KSTREAM-JOINOTHER-0000000010\n" +
				"    Processor: KSTREAM-MERGE-0000000020 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000021\n" +
				"      <-- KSTREAM-JOINTHIS-0000000018, KSTREAM-JOINOTHER-0000000019\n" +
				"    Sink: KSTREAM-SINK-0000000012 (topic: out-one)\n" +
				"      <-- KSTREAM-MERGE-0000000011\n" +
				"    Sink: KSTREAM-SINK-0000000021 (topic: out-to)\n" +
				"      <-- KSTREAM-MERGE-0000000020\n\n",
		},
		{
			name: "KStreamKStreamJoinTest.shouldCreateRepartitionTopicsWithUserProvidedName",
			build: func(sb *kstream.StreamsBuilder) {
				s, s2, s3 := swapped(sb)
				kstream.Join(s, s2, concat, within100ms, kstream.StreamJoined[string, string, string]{Name: "first-join"}).To("out-one")
				kstream.Join(s, s3, concat, within100ms, kstream.StreamJoined[string, string, string]{Name: "second-join"}).To("out-two")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n" +
				"      --> KSTREAM-MAP-0000000003\n" +
				"    Processor: KSTREAM-MAP-0000000003 (stores: [])\n" +
				"      --> second-join-left-repartition-filter, first-join-left-repartition-filter\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: first-join-left-repartition-filter (stores: [])\n" +
				"      --> first-join-left-repartition-sink\n" +
				"      <-- KSTREAM-MAP-0000000003\n" +
				"    Processor: second-join-left-repartition-filter (stores: [])\n" +
				"      --> second-join-left-repartition-sink\n" +
				"      <-- KSTREAM-MAP-0000000003\n" +
				"    Sink: first-join-left-repartition-sink (topic: first-join-left-repartition)\n" +
				"      <-- first-join-left-repartition-filter\n" +
				"    Sink: second-join-left-repartition-sink (topic: second-join-left-repartition)\n" +
				"      <-- second-join-left-repartition-filter\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000001 (topics: [topic2])\n" +
				"      --> first-join-other-windowed\n" +
				"    Source: first-join-left-repartition-source (topics: [first-join-left-repartition])\n" +
				"      --> first-join-this-windowed\n" +
				"    Processor: first-join-other-windowed (stores: [KSTREAM-JOINOTHER-0000000010-store])\n" +
				"      --> first-join-other-join\n" +
				"      <-- KSTREAM-SOURCE-0000000001\n" +
				"    Processor: first-join-this-windowed (stores: [KSTREAM-JOINTHIS-0000000009-store])\n" +
				"      --> first-join-this-join\n" +
				"      <-- first-join-left-repartition-source\n" +
				"    Processor: first-join-other-join (stores: [KSTREAM-JOINTHIS-0000000009-store])\n" +
				"      --> first-join-merge\n" +
				"      <-- first-join-other-windowed\n" +
				"    Processor: first-join-this-join (stores: [KSTREAM-JOINOTHER-0000000010-store])\n" +
				"      --> first-join-merge\n" +
				"      <-- first-join-this-windowed\n" +
				"    Processor: first-join-merge (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000012\n" +
				"      <-- first-join-this-join, first-join-other-join\n" +
				"    Sink: KSTREAM-SINK-0000000012 (topic: out-one)\n" +
				"      <-- first-join-merge\n" +
				"\n" +
				"  Sub-topology: 2\n" +
				"    Source: KSTREAM-SOURCE-0000000002 (topics: [topic3])\n" +
				"      --> second-join-other-windowed\n" +
				"    Source: second-join-left-repartition-source (topics: [second-join-left-repartition])\n" +
				"      --> second-join-this-windowed\n" +
				"    Processor: second-join-other-windowed (stores: [KSTREAM-JOINOTHER-0000000019-store])\n" +
				"      --> second-join-other-join\n" +
				"      <-- KSTREAM-SOURCE-0000000002\n" +
				"    Processor: second-join-this-windowed (stores: [KSTREAM-JOINTHIS-0000000018-store])\n" +
				"      --> second-join-this-join\n" +
				"      <-- second-join-left-repartition-source\n" +
				"    Processor: second-join-other-join (stores: [KSTREAM-JOINTHIS-0000000018-store])\n" +
				"      --> second-join-merge\n" +
				"      <-- second-join-other-windowed\n" +
				"    Processor: second-join-this-join (stores: [KSTREAM-JOINOTHER-0000000019-store])\n" +
				"      --> second-join-merge\n" +
				"      <-- second-join-this-windowed\n" +
				"    Processor: second-join-merge (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000021\n" +
				"      <-- second-join-this-join, second-join-other-join\n" +
				"    Sink: KSTREAM-SINK-0000000021 (topic: out-two)\n" +
				"      <-- second-join-merge\n\n",
		},
		{
			name: "RepartitionTopicNamingTest.shouldReuseFirstRepartitionTopicNameWhenOptimizing (EXPECTED_UNOPTIMIZED_TOPOLOGY)",
			build: func(sb *kstream.StreamsBuilder) {
				mapped := kstream.Map(kstream.Stream(sb, []string{"input"}, strs), func(k, v string) (string, string) { return strings.ToUpper(k), v })
				kstream.Process(kstream.MapValues(mapped.Filter(func(k, _ string) bool { return k == "B" }), strings.ToUpper),
					processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }), nil)
				counts := mapped.GroupByKey(kstream.Grouped[string, string]{Name: "count-stream"}).
					Count(kstream.Materialized[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()}).ToStream()
				counts.To("outputTopic_0")
				kstream.Aggregate(mapped.GroupByKey(kstream.Grouped[string, string]{Name: "aggregate-stream"}),
					func() int32 { return 0 }, func(_, v string, agg int32) int32 { return agg + int32(len(v)) },
					kstream.Materialized[string, int32]{KeySerde: serde.String(), ValueSerde: serde.Int32()}).ToStream().To("outputTopic_1")
				mapped.Filter(func(string, string) bool { return true }).Peek(func(string, string) {}).
					GroupByKey(kstream.Grouped[string, string]{Name: "reduced-stream"}).
					Reduce(func(a, b string) string { return a + ":" + b }).ToStream().To("outputTopic_2")
				kstream.Join(mapped.Filter(func(k, _ string) bool { return k == "A" }), counts,
					func(_ string, v string, n int64) string { return v },
					window.JoinTimeDifferenceWithNoGrace(5*time.Second),
					kstream.StreamJoined[string, string, int64]{StoreName: "joined-stream", Name: "joined-stream"}).To("outputTopicForJoin")
			},
			anyOrder: true,
			want:     repartitionNaming,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := kstream.NewStreamsBuilder()
			tc.build(sb)
			topo, err := sb.Build()
			require.NoError(t, err)
			got := topo.Describe().String()
			if tc.anyOrder {
				require.Equal(t, describetest.Bodies(tc.want), describetest.Bodies(got))
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}
