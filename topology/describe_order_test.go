package topology

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/describetest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// The expected values in this file were printed by a JDK (OpenJDK 17):
// String.hashCode, String.compareTo, new ArrayList<>(new HashSet<>(keys))
// and a TreeSet iterated after its elements' weights changed.

func TestJavaStringHash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		{"Aa", 2112},
		{"BB", 2112},
		{"polygenelubricants", -2147483648}, // overflows to Integer.MIN_VALUE
		{"KSTREAM-SOURCE-0000000000", 1861603632},
		{"KSTREAM-MERGE-0000000006", 673377501},
		{"count-stream-repartition-filter", -1026127843},
		{"\U0001D11E", 1772394}, // a surrogate pair: hashed as two UTF-16 units
		{"ü€", 16176},
	} {
		require.Equal(t, tc.want, javaStringHash(tc.s), "%q", tc.s)
	}
}

func TestJavaCompare(t *testing.T) {
	t.Parallel()
	require.Negative(t, javaCompare("KSTREAM-SINK-0000000012", "joined-stream-merge"), "uppercase sorts first")
	require.Negative(t, javaCompare("KSTREAM-FILTER-0000000002", "KSTREAM-FILTER-00000000020"), "a prefix sorts first")
	require.Zero(t, javaCompare("x", "x"))
	// Java compares UTF-16 units: U+FFFF is above the surrogate 0xD834 that
	// starts U+1D11E ("\uFFFF".compareTo("𝄞") == 10187), though its UTF-8
	// bytes sort below.
	require.Equal(t, 10187, javaCompare("\uFFFF", "\U0001D11E"))
	require.Negative(t, strings.Compare("\uFFFF", "\U0001D11E"))
}

func TestJavaHashOrder(t *testing.T) {
	t.Parallel()
	aa := []string{ // every one hashes to 2031744616: one bucket
		"BBBBBBBB", "BBBBBBAa", "BBBBAaBB", "BBBBAaAa", "BBAaBBBB", "BBAaBBAa", "BBAaAaBB", "BBAaAaAa",
		"AaBBBBBB", "AaBBBBAa", "AaBBAaBB", "AaBBAaAa", "AaAaBBBB", "AaAaBBAa", "AaAaAaBB", "AaAaAaAa",
	}
	for _, tc := range []struct {
		name string
		keys []string
		want []string
	}{
		{
			name: "merge topology",
			keys: []string{
				"KSTREAM-SOURCE-0000000000", "KSTREAM-KEY-SELECT-0000000001", "KSTREAM-MAPVALUES-0000000002", "KSTREAM-MAPVALUES-0000000003",
				"KSTREAM-MAPVALUES-0000000004", "KSTREAM-MERGE-0000000005", "KSTREAM-MERGE-0000000006", "KSTREAM-SINK-0000000007",
			},
			want: []string{
				"KSTREAM-MAPVALUES-0000000002", "KSTREAM-KEY-SELECT-0000000001", "KSTREAM-SINK-0000000007", "KSTREAM-SOURCE-0000000000",
				"KSTREAM-MAPVALUES-0000000004", "KSTREAM-MAPVALUES-0000000003", "KSTREAM-MERGE-0000000005", "KSTREAM-MERGE-0000000006",
			},
		},
		{
			// The 13th key grows the table from 16 to 32 buckets: n11 and
			// n12 shared a bucket of 16 and do not share one of 32.
			name: "resize",
			keys: []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11", "n12", "n13"},
			want: []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n12", "n11", "n13"},
		},
		{
			// The 9th and 10th keys of one bucket grow the table (to 32,
			// then 64 buckets); the 11th turns the bucket into a tree bin,
			// whose root iterates first.
			name: "tree bin",
			keys: aa,
			want: append([]string{"BBBBAaAa"}, slices.DeleteFunc(slices.Clone(aa), func(s string) bool { return s == "BBBBAaAa" })...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, javaHashOrder(tc.keys))
		})
	}
}

// A TreeSet whose comparator reads values that change after insertion is
// no longer sorted, and where a new element lands depends on the tree's
// shape. Java prints "w0 w5 w6 w7 w1 w2 w3 w4" for this program.
func TestRBTreeMatchesTreeMapWithLiveComparator(t *testing.T) {
	t.Parallel()
	type w struct {
		name   string
		weight int
	}
	byWeight := func(a, b *w) int {
		if a == b {
			return 0
		}
		if a.weight != b.weight {
			return b.weight - a.weight
		}
		return javaCompare(a.name, b.name)
	}
	var tree rbTree[*w]
	ws := make([]*w, 8)
	for i := range 5 {
		ws[i] = &w{fmt.Sprintf("w%d", i), 1}
		require.True(t, tree.insert(ws[i], byWeight))
	}
	ws[0].weight, ws[3].weight = 5, 0
	for i := 5; i < 8; i++ {
		ws[i] = &w{fmt.Sprintf("w%d", i), 2}
		require.True(t, tree.insert(ws[i], byWeight))
	}
	require.False(t, tree.insert(ws[1], byWeight), "an element equal to one in the tree is not added")
	var got []string
	for _, x := range tree.values() {
		got = append(got, x.name)
	}
	require.Equal(t, []string{"w0", "w5", "w6", "w7", "w1", "w2", "w3", "w4"}, got)
}

// Kafka Streams' RepartitionTopicNamingTest.shouldReuseFirstRepartitionTopicNameWhenOptimizing
// (EXPECTED_UNOPTIMIZED_TOPOLOGY), built node by node with the Processor
// API in the order Kafka Streams' DSL adds them to its topology. Its
// KSTREAM-MAP-0000000001 line is not sorted by final size: this is the bug
// that sorting by final size had.
func TestDescribeOrdersLikeKafkaStreamsRepartitionTopicNaming(t *testing.T) {
	t.Parallel()
	ss := func(topic string) Sink[string, string] {
		return Sink[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
	}
	pass := processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec)
	})
	proc := func(b *Builder, name string, parents ...Node[string, string]) Node[string, string] {
		return AddProcessor(b, name, pass, parents...)
	}
	repartition := func(b *Builder, name string, parent Node[string, string]) Node[string, string] {
		filter := proc(b, name+"-repartition-filter", parent)
		return AddRepartition(b, name, Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, filter)
	}
	store := func(name string) state.StoreBuilder {
		return state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(name), serde.String(), serde.String())
	}

	b := NewBuilder()
	source := AddSource(b, "KSTREAM-SOURCE-0000000000", Source[string, string]{Topics: []string{"input"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	mapped := proc(b, "KSTREAM-MAP-0000000001", source)
	proc(b, "KSTREAM-PROCESSOR-0000000004", proc(b, "KSTREAM-MAPVALUES-0000000003", proc(b, "KSTREAM-FILTER-0000000002", mapped)))

	count := proc(b, "KSTREAM-AGGREGATE-0000000007", repartition(b, "count-stream", mapped))
	b.AddStateStore(store("KSTREAM-AGGREGATE-STATE-STORE-0000000006"), count.Name())
	countStream := proc(b, "KTABLE-TOSTREAM-0000000011", count)
	AddSink(b, "KSTREAM-SINK-0000000012", ss("outputTopic_0"), countStream)

	agg := proc(b, "KSTREAM-AGGREGATE-0000000014", repartition(b, "aggregate-stream", mapped))
	b.AddStateStore(store("KSTREAM-AGGREGATE-STATE-STORE-0000000013"), agg.Name())
	AddSink(b, "KSTREAM-SINK-0000000019", ss("outputTopic_1"), proc(b, "KTABLE-TOSTREAM-0000000018", agg))

	peeked := proc(b, "KSTREAM-PEEK-0000000021", proc(b, "KSTREAM-FILTER-0000000020", mapped))
	reduce := proc(b, "KSTREAM-REDUCE-0000000023", repartition(b, "reduced-stream", peeked))
	b.AddStateStore(store("KSTREAM-REDUCE-STATE-STORE-0000000022"), reduce.Name())
	AddSink(b, "KSTREAM-SINK-0000000028", ss("outputTopic_2"), proc(b, "KTABLE-TOSTREAM-0000000027", reduce))

	left := repartition(b, "joined-stream-left", proc(b, "KSTREAM-FILTER-0000000029", mapped))
	thisWindowed := proc(b, "joined-stream-this-windowed", left)
	otherWindowed := proc(b, "joined-stream-other-windowed", countStream)
	thisJoin := proc(b, "joined-stream-this-join", thisWindowed)
	otherJoin := proc(b, "joined-stream-other-join", otherWindowed)
	merged := proc(b, "joined-stream-merge", thisJoin, otherJoin)
	b.AddStateStore(store("joined-stream-this-join-store"), thisWindowed.Name(), otherJoin.Name())
	b.AddStateStore(store("joined-stream-other-join-store"), otherWindowed.Name(), thisJoin.Name())
	AddSink(b, "KSTREAM-SINK-0000000038", ss("outputTopicForJoin"), merged)

	topo, err := b.Build()
	require.NoError(t, err)

	want, err := describetest.RepartitionTopicNaming()
	require.NoError(t, err)

	// Compared sub-topology by sub-topology, leaving out the ids: Kafka
	// Streams numbers sub-topologies in the order their first node was
	// added, which this test does not check.
	require.Equal(t, describetest.Bodies(want), describetest.Bodies(topo.Describe().String()))
}
