package kstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/window"
)

// The descriptions Kafka Streams prints for these programs, copied from
// its own tests (apache/kafka, streams/src/test/java/org/apache/kafka/
// streams/…, trunk of 2024-10, default configuration: no optimization):
// our DSL must name every node, store and topic alike. Each case's Go
// program is the Java one of the test it names. Where Java's program uses
// default serdes, ours gives them in Consumed, which changes no name.
func TestDescribeMatchesKafkaStreams(t *testing.T) {
	for _, tc := range []struct {
		name  string // the Kafka Streams test
		build func(sb *kstream.StreamsBuilder)
		want  string
	}{
		{
			// No Kafka Streams test asserts WordCountDemo's description (its
			// tutorial shows a pre-2.0 format); this string is derived from
			// Kafka Streams' naming code: store 3, aggregate 4, the
			// repartition's sink 5, filter 6 and source 7.
			name: "WordCountDemo, unnamed store (derived)",
			build: func(sb *kstream.StreamsBuilder) {
				words := kstream.FlatMapValues(kstream.Stream(sb, []string{"input"}, strs), strings.Fields)
				kstream.GroupBy(words, func(_, w string) string { return w }).Count().ToStream().To("output")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n" +
				"      --> KSTREAM-FLATMAPVALUES-0000000001\n" +
				"    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])\n" +
				"      --> KSTREAM-KEY-SELECT-0000000002\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])\n" +
				"      --> KSTREAM-FILTER-0000000006\n" +
				"      <-- KSTREAM-FLATMAPVALUES-0000000001\n" +
				"    Processor: KSTREAM-FILTER-0000000006 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000005\n" +
				"      <-- KSTREAM-KEY-SELECT-0000000002\n" +
				"    Sink: KSTREAM-SINK-0000000005 (topic: KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition)\n" +
				"      <-- KSTREAM-FILTER-0000000006\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000007 (topics: [KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition])\n" +
				"      --> KSTREAM-AGGREGATE-0000000004\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000004 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000003])\n" +
				"      --> KTABLE-TOSTREAM-0000000008\n" +
				"      <-- KSTREAM-SOURCE-0000000007\n" +
				"    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000009\n" +
				"      <-- KSTREAM-AGGREGATE-0000000004\n" +
				"    Sink: KSTREAM-SINK-0000000009 (topic: output)\n" +
				"      <-- KTABLE-TOSTREAM-0000000008\n\n",
		},
		{
			name: "TopologyTest.kGroupedStreamZeroArgCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.Stream(sb, []string{"input-topic"}, strs).GroupByKey().Count()
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n" +
				"      --> KSTREAM-AGGREGATE-0000000002\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n\n",
		},
		{
			name: "TopologyTest.kGroupedStreamNamedMaterializedCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.Stream(sb, []string{"input-topic"}, strs).GroupByKey().Count(kstream.Materialized[string, int64]{Name: "count-store"})
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n" +
				"      --> KSTREAM-AGGREGATE-0000000001\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n\n",
		},
		{
			name: "TopologyTest.kGroupedStreamAnonymousMaterializedCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.Stream(sb, []string{"input-topic"}, strs).GroupByKey().Count(kstream.Materialized[string, int64]{ValueSerde: serde.Int64()})
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n" +
				"      --> KSTREAM-AGGREGATE-0000000003\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n\n",
		},
		{
			name: "TopologyTest.timeWindowZeroArgCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.WindowedBy(kstream.Stream(sb, []string{"input-topic"}, strs).GroupByKey(), window.Tumbling(time.Millisecond)).Count()
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n" +
				"      --> KSTREAM-AGGREGATE-0000000002\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n\n",
		},
		{
			name: "TopologyTest.sessionWindowZeroArgCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.WindowedBySession(kstream.Stream(sb, []string{"input-topic"}, strs).GroupByKey(), window.Session(time.Millisecond)).Count()
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n" +
				"      --> KSTREAM-AGGREGATE-0000000002\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n\n",
		},
		{
			name: "TopologyTest.tableZeroArgCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				table := kstream.Table(sb, "input-topic", strs)
				kstream.GroupByTable(table, func(_, v string) (string, string) { return "", v }).Count()
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n" +
				"      --> KTABLE-SOURCE-0000000002\n" +
				"    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])\n" +
				"      --> KTABLE-SELECT-0000000003\n" +
				"      <-- KSTREAM-SOURCE-0000000001\n" +
				"    Processor: KTABLE-SELECT-0000000003 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000005\n" +
				"      <-- KTABLE-SOURCE-0000000002\n" +
				"    Sink: KSTREAM-SINK-0000000005 (topic: KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)\n" +
				"      <-- KTABLE-SELECT-0000000003\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000006 (topics: [KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition])\n" +
				"      --> KTABLE-AGGREGATE-0000000007\n" +
				"    Processor: KTABLE-AGGREGATE-0000000007 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000004])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000006\n" +
				"\n",
		},
		{
			name: "TopologyTest.tableNamedMaterializedCountShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				table := kstream.Table(sb, "input-topic", strs)
				kstream.GroupByTable(table, func(_, v string) (string, string) { return "", v }).Count(kstream.Materialized[string, int64]{Name: "count-store"})
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n" +
				"      --> KTABLE-SOURCE-0000000002\n" +
				"    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])\n" +
				"      --> KTABLE-SELECT-0000000003\n" +
				"      <-- KSTREAM-SOURCE-0000000001\n" +
				"    Processor: KTABLE-SELECT-0000000003 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000004\n" +
				"      <-- KTABLE-SOURCE-0000000002\n" +
				"    Sink: KSTREAM-SINK-0000000004 (topic: count-store-repartition)\n" +
				"      <-- KTABLE-SELECT-0000000003\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000005 (topics: [count-store-repartition])\n" +
				"      --> KTABLE-AGGREGATE-0000000006\n" +
				"    Processor: KTABLE-AGGREGATE-0000000006 (stores: [count-store])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000005\n" +
				"\n",
		},
		{
			name: "TopologyTest.kTableNonMaterializedMapValuesShouldPreserveTopologyStructure",
			build: func(sb *kstream.StreamsBuilder) {
				table := kstream.Table(sb, "input-topic", strs)
				kstream.MapValuesTable(table, func(_, v string) string { return v })
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n" +
				"      --> KTABLE-SOURCE-0000000002\n" +
				"    Processor: KTABLE-SOURCE-0000000002 (stores: [])\n" +
				"      --> KTABLE-MAPVALUES-0000000003\n" +
				"      <-- KSTREAM-SOURCE-0000000001\n" +
				"    Processor: KTABLE-MAPVALUES-0000000003 (stores: [])\n" +
				"      --> none\n" +
				"      <-- KTABLE-SOURCE-0000000002\n\n",
		},
		{
			name: "KStreamImplTest.shouldSupportKeyChangeKTableFromKStream",
			build: func(sb *kstream.StreamsBuilder) {
				s := kstream.Stream(sb, []string{"input"}, strs)
				byLetter := kstream.Map(s, func(k, v string) (int32, string) { return int32(k[0] - 'A'), v })
				byLetter.ToTable("", kstream.Materialized[int32, string]{KeySerde: serde.Int32()}).ToStream().To("output")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n" +
				"      --> KSTREAM-MAP-0000000001\n" +
				"    Processor: KSTREAM-MAP-0000000001 (stores: [])\n" +
				"      --> KSTREAM-FILTER-0000000005\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KSTREAM-FILTER-0000000005 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000004\n" +
				"      <-- KSTREAM-MAP-0000000001\n" +
				"    Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-TOTABLE-0000000002-repartition)\n" +
				"      <-- KSTREAM-FILTER-0000000005\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-TOTABLE-0000000002-repartition])\n" +
				"      --> KSTREAM-TOTABLE-0000000002\n" +
				"    Processor: KSTREAM-TOTABLE-0000000002 (stores: [])\n" +
				"      --> KTABLE-TOSTREAM-0000000007\n" +
				"      <-- KSTREAM-SOURCE-0000000006\n" +
				"    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000008\n" +
				"      <-- KSTREAM-TOTABLE-0000000002\n" +
				"    Sink: KSTREAM-SINK-0000000008 (topic: output)\n" +
				"      <-- KTABLE-TOSTREAM-0000000007\n\n",
		},
		{
			name: "KStreamImplTest.shouldNotMaterializedKTableFromKStream",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.Stream(sb, []string{"input"}, strs).ToTable("").ToStream().To("output")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n" +
				"      --> KSTREAM-TOTABLE-0000000001\n" +
				"    Processor: KSTREAM-TOTABLE-0000000001 (stores: [])\n" +
				"      --> KTABLE-TOSTREAM-0000000003\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000004\n" +
				"      <-- KSTREAM-TOTABLE-0000000001\n" +
				"    Sink: KSTREAM-SINK-0000000004 (topic: output)\n" +
				"      <-- KTABLE-TOSTREAM-0000000003\n\n",
		},
		{
			name: "SuppressTopologyTest.shouldApplyNameToFinalSuppressionNode",
			build: func(sb *kstream.StreamsBuilder) {
				suppressedSessions(sb, kstream.UntilWindowCloses(kstream.BufferConfig{}).WithName("myname"))
			},
			want: namedFinalTopology,
		},
		{
			name: "SuppressTopologyTest.shouldUseNumberingForAnonymousFinalSuppressionNode",
			build: func(sb *kstream.StreamsBuilder) {
				suppressedSessions(sb, kstream.UntilWindowCloses(kstream.BufferConfig{}))
			},
			want: strings.NewReplacer(
				"      --> myname\n", "      --> KTABLE-SUPPRESS-0000000006\n",
				"    Processor: myname (stores: [myname-store])\n      --> KTABLE-TOSTREAM-0000000006\n",
				"    Processor: KTABLE-SUPPRESS-0000000006 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000007])\n      --> KTABLE-TOSTREAM-0000000008\n",
				"    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])\n      --> KSTREAM-MAP-0000000007\n      <-- myname\n",
				"    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])\n      --> KSTREAM-MAP-0000000009\n      <-- KTABLE-SUPPRESS-0000000006\n",
				"    Processor: KSTREAM-MAP-0000000007 (stores: [])\n      --> KSTREAM-SINK-0000000008\n      <-- KTABLE-TOSTREAM-0000000006\n",
				"    Processor: KSTREAM-MAP-0000000009 (stores: [])\n      --> KSTREAM-SINK-0000000010\n      <-- KTABLE-TOSTREAM-0000000008\n",
				"    Sink: KSTREAM-SINK-0000000008 (topic: output-suppressed)\n      <-- KSTREAM-MAP-0000000007\n",
				"    Sink: KSTREAM-SINK-0000000010 (topic: output-suppressed)\n      <-- KSTREAM-MAP-0000000009\n",
			).Replace(namedFinalTopology),
		},
		{
			name: "SuppressTopologyTest.shouldUseNumberingForAnonymousSuppressionNode",
			build: func(sb *kstream.StreamsBuilder) {
				kstream.Stream(sb, []string{"input"}, strs).GroupByKey().Count().
					Suppress(kstream.UntilTimeLimit(time.Second, kstream.BufferConfig{})).ToStream().To("output")
			},
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n" +
				"      --> KSTREAM-AGGREGATE-0000000002\n" +
				"    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n" +
				"      --> KTABLE-SUPPRESS-0000000003\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KTABLE-SUPPRESS-0000000003 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000004])\n" +
				"      --> KTABLE-TOSTREAM-0000000005\n" +
				"      <-- KSTREAM-AGGREGATE-0000000002\n" +
				"    Processor: KTABLE-TOSTREAM-0000000005 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000006\n" +
				"      <-- KTABLE-SUPPRESS-0000000003\n" +
				"    Sink: KSTREAM-SINK-0000000006 (topic: output)\n" +
				"      <-- KTABLE-TOSTREAM-0000000005\n\n",
		},
		{
			name:  "KStreamKTableJoinTest.shouldReuseRepartitionTopicWithGeneratedName",
			build: func(sb *kstream.StreamsBuilder) { rekeyedJoins(sb, "", "") },
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n" +
				"      --> KSTREAM-MAP-0000000007\n" +
				"    Processor: KSTREAM-MAP-0000000007 (stores: [])\n" +
				"      --> KSTREAM-FILTER-0000000009\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: KSTREAM-FILTER-0000000009 (stores: [])\n" +
				"      --> KSTREAM-SINK-0000000008\n" +
				"      <-- KSTREAM-MAP-0000000007\n" +
				"    Sink: KSTREAM-SINK-0000000008 (topic: KSTREAM-MAP-0000000007-repartition)\n" +
				"      <-- KSTREAM-FILTER-0000000009\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: KSTREAM-SOURCE-0000000010 (topics: [KSTREAM-MAP-0000000007-repartition])\n" +
				"      --> KSTREAM-JOIN-0000000011, KSTREAM-JOIN-0000000016\n" +
				"    Processor: KSTREAM-JOIN-0000000011 (stores: [topic2-STATE-STORE-0000000001])\n" +
				"      --> KSTREAM-SINK-0000000012\n" +
				"      <-- KSTREAM-SOURCE-0000000010\n" +
				"    Processor: KSTREAM-JOIN-0000000016 (stores: [topic3-STATE-STORE-0000000004])\n" +
				"      --> KSTREAM-SINK-0000000017\n" +
				"      <-- KSTREAM-SOURCE-0000000010\n" +
				"    Source: KSTREAM-SOURCE-0000000002 (topics: [topic2])\n" +
				"      --> KTABLE-SOURCE-0000000003\n" +
				"    Source: KSTREAM-SOURCE-0000000005 (topics: [topic3])\n" +
				"      --> KTABLE-SOURCE-0000000006\n" +
				"    Sink: KSTREAM-SINK-0000000012 (topic: out-one)\n" +
				"      <-- KSTREAM-JOIN-0000000011\n" +
				"    Sink: KSTREAM-SINK-0000000017 (topic: out-two)\n" +
				"      <-- KSTREAM-JOIN-0000000016\n" +
				"    Processor: KTABLE-SOURCE-0000000003 (stores: [topic2-STATE-STORE-0000000001])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000002\n" +
				"    Processor: KTABLE-SOURCE-0000000006 (stores: [topic3-STATE-STORE-0000000004])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000005\n\n",
		},
		{
			name:  "KStreamKTableJoinTest.shouldCreateRepartitionTopicsWithUserProvidedName",
			build: func(sb *kstream.StreamsBuilder) { rekeyedJoins(sb, "first-join", "second-join") },
			want: "Topologies:\n" +
				"   Sub-topology: 0\n" +
				"    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n" +
				"      --> KSTREAM-MAP-0000000007\n" +
				"    Processor: KSTREAM-MAP-0000000007 (stores: [])\n" +
				"      --> first-join-repartition-filter, second-join-repartition-filter\n" +
				"      <-- KSTREAM-SOURCE-0000000000\n" +
				"    Processor: first-join-repartition-filter (stores: [])\n" +
				"      --> first-join-repartition-sink\n" +
				"      <-- KSTREAM-MAP-0000000007\n" +
				"    Processor: second-join-repartition-filter (stores: [])\n" +
				"      --> second-join-repartition-sink\n" +
				"      <-- KSTREAM-MAP-0000000007\n" +
				"    Sink: first-join-repartition-sink (topic: first-join-repartition)\n" +
				"      <-- first-join-repartition-filter\n" +
				"    Sink: second-join-repartition-sink (topic: second-join-repartition)\n" +
				"      <-- second-join-repartition-filter\n" +
				"\n" +
				"  Sub-topology: 1\n" +
				"    Source: first-join-repartition-source (topics: [first-join-repartition])\n" +
				"      --> first-join\n" +
				"    Source: KSTREAM-SOURCE-0000000002 (topics: [topic2])\n" +
				"      --> KTABLE-SOURCE-0000000003\n" +
				"    Processor: first-join (stores: [topic2-STATE-STORE-0000000001])\n" +
				"      --> KSTREAM-SINK-0000000012\n" +
				"      <-- first-join-repartition-source\n" +
				"    Sink: KSTREAM-SINK-0000000012 (topic: out-one)\n" +
				"      <-- first-join\n" +
				"    Processor: KTABLE-SOURCE-0000000003 (stores: [topic2-STATE-STORE-0000000001])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000002\n" +
				"\n" +
				"  Sub-topology: 2\n" +
				"    Source: second-join-repartition-source (topics: [second-join-repartition])\n" +
				"      --> second-join\n" +
				"    Source: KSTREAM-SOURCE-0000000005 (topics: [topic3])\n" +
				"      --> KTABLE-SOURCE-0000000006\n" +
				"    Processor: second-join (stores: [topic3-STATE-STORE-0000000004])\n" +
				"      --> KSTREAM-SINK-0000000017\n" +
				"      <-- second-join-repartition-source\n" +
				"    Sink: KSTREAM-SINK-0000000017 (topic: out-two)\n" +
				"      <-- second-join\n" +
				"    Processor: KTABLE-SOURCE-0000000006 (stores: [topic3-STATE-STORE-0000000004])\n" +
				"      --> none\n" +
				"      <-- KSTREAM-SOURCE-0000000005\n\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := kstream.NewStreamsBuilder()
			tc.build(sb)
			topo, err := sb.Build()
			require.NoError(t, err)
			require.Equal(t, tc.want, topo.Describe().String())
		})
	}
}

// suppressedSessions is SuppressTopologyTest's program: a session count
// of a re-grouped stream, suppressed, mapped to strings.
func suppressedSessions(sb *kstream.StreamsBuilder, s kstream.Suppressed) {
	in := kstream.Stream(sb, []string{"input"}, strs)
	counts := kstream.WindowedBySession(kstream.GroupBy(in, func(k, _ string) string { return k }), window.Session(5*time.Millisecond).WithGrace(5*time.Millisecond)).
		Count(kstream.Materialized[string, int64]{Name: "counts"})
	kstream.Map(counts.Suppress(s).ToStream(), func(k state.Windowed[string], v int64) (string, int64) { return k.Key, v }).
		To("output-suppressed", kstream.Produced[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()})
}

// namedFinalTopology is SuppressTopologyTest.NAMED_FINAL_TOPOLOGY.
const namedFinalTopology = "Topologies:\n" +
	"   Sub-topology: 0\n" +
	"    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n" +
	"      --> KSTREAM-KEY-SELECT-0000000001\n" +
	"    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n" +
	"      --> counts-repartition-filter\n" +
	"      <-- KSTREAM-SOURCE-0000000000\n" +
	"    Processor: counts-repartition-filter (stores: [])\n" +
	"      --> counts-repartition-sink\n" +
	"      <-- KSTREAM-KEY-SELECT-0000000001\n" +
	"    Sink: counts-repartition-sink (topic: counts-repartition)\n" +
	"      <-- counts-repartition-filter\n" +
	"\n" +
	"  Sub-topology: 1\n" +
	"    Source: counts-repartition-source (topics: [counts-repartition])\n" +
	"      --> KSTREAM-AGGREGATE-0000000002\n" +
	"    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts])\n" +
	"      --> myname\n" +
	"      <-- counts-repartition-source\n" +
	"    Processor: myname (stores: [myname-store])\n" +
	"      --> KTABLE-TOSTREAM-0000000006\n" +
	"      <-- KSTREAM-AGGREGATE-0000000002\n" +
	"    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])\n" +
	"      --> KSTREAM-MAP-0000000007\n" +
	"      <-- myname\n" +
	"    Processor: KSTREAM-MAP-0000000007 (stores: [])\n" +
	"      --> KSTREAM-SINK-0000000008\n" +
	"      <-- KTABLE-TOSTREAM-0000000006\n" +
	"    Sink: KSTREAM-SINK-0000000008 (topic: output-suppressed)\n" +
	"      <-- KSTREAM-MAP-0000000007\n" +
	"\n"

// Named names an operation but, as in Kafka Streams
// (NamedInternal.orElseGenerateWithPrefix), still draws its index, so the
// generated names after it are Kafka Streams'; Process and ProcessValues
// draw none when named. Split's branches are the split's name followed by
// each branch's (StreamsBuilderTest.shouldUseSpecifiedNameForSplitOperation).
func TestNamedStillDrawsItsIndex(t *testing.T) {
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String(), Name: "src"})
	f := s.Filter(func(string, string) bool { return true }, kstream.Named("keep"))
	m := kstream.MapValues(f, func(v string) string { return v })
	p := kstream.ProcessValues(m, func() processor.Processor[string, string, string, string] { return &passThrough{} }, nil, kstream.Named("proc"))
	p.Split(kstream.Named("branch-processor")).
		Branch(func(string, string) bool { return true }, "-1").
		Branch(func(string, string) bool { return true }, "-2").
		NoDefaultBranch()["branch-processor-2"].To("out")
	topo, err := sb.Build()
	require.NoError(t, err)
	d := topo.Describe().String()
	for _, want := range []string{
		"Source: src (topics: [in])", "Processor: keep (stores: [])", "Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])",
		"Processor: proc (stores: [])", "Processor: branch-processor (stores: [])",
		"Processor: branch-processor-1 (stores: [])", "Processor: branch-processor-2 (stores: [])",
		"Sink: KSTREAM-SINK-0000000006 (topic: out)",
	} {
		require.Contains(t, d, want)
	}
}

type passThrough struct {
	ctx processor.Context[string, string]
}

func (p *passThrough) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *passThrough) Process(rec processor.Record[string, string]) error {
	return p.ctx.Forward(rec)
}
func (p *passThrough) Close() error { return nil }

// rekeyedJoins is KStreamKTableJoinTest's program: a stream re-keyed by a
// map, joined to two tables, with the joins named first and second (or
// not, when empty).
func rekeyedJoins(sb *kstream.StreamsBuilder, first, second string) {
	streamA := kstream.Stream(sb, []string{"topic"}, strs)
	tableB := kstream.Table(sb, "topic2", strs)
	tableC := kstream.Table(sb, "topic3", strs)
	rekeyed := kstream.Map(streamA, func(k, v string) (string, string) { return v, k })
	join := func(_, v1, v2 string) string { return v1 + v2 }
	out := kstream.Produced[string, string]{ValueSerde: serde.String()}
	kstream.JoinTable(rekeyed, tableB, join, kstream.Joined[string, string, string]{Name: first}).To("out-one", out)
	kstream.JoinTable(rekeyed, tableC, join, kstream.Joined[string, string, string]{Name: second}).To("out-two", out)
}
