package kstream_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// fkOf is the foreign key of Kafka Streams' tests' left values,
// "value|foreignKey".
func fkOf(v string) string { return strings.Split(v, "|")[1] }

func paren(a, b string) string { return "(" + a + "," + b + ")" }

// Kafka Streams' KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream:
// its description, copied from the test (apache/kafka trunk, 2024-10), and
// its records.
func TestForeignKeyJoinDescribeAndRecords(t *testing.T) {
	build := func(sb *kstream.StreamsBuilder) {
		leftTable := kstream.Stream(sb, []string{"input1"}, strs).ToTable("")
		rightTable := kstream.Stream(sb, []string{"input2"}, strs).ToTable("")
		kstream.ForeignKeyJoin(leftTable, rightTable, fkOf, paren).ToStream().To("output")
	}
	sb := kstream.NewStreamsBuilder()
	build(sb)
	topo, err := sb.Build()
	require.NoError(t, err)
	require.Equal(t, "Topologies:\n"+
		"   Sub-topology: 0\n"+
		"    Source: KTABLE-SOURCE-0000000016 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic])\n"+
		"      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"+
		"    Source: KSTREAM-SOURCE-0000000000 (topics: [input1])\n"+
		"      --> KSTREAM-TOTABLE-0000000001\n"+
		"    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"+
		"      --> KTABLE-FK-JOIN-OUTPUT-0000000018\n"+
		"      <-- KTABLE-SOURCE-0000000016\n"+
		"    Processor: KSTREAM-TOTABLE-0000000001 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"+
		"      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"+
		"      <-- KSTREAM-SOURCE-0000000000\n"+
		"    Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])\n"+
		"      --> KTABLE-TOSTREAM-0000000020\n"+
		"      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"+
		"    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007 (stores: [])\n"+
		"      --> KTABLE-SINK-0000000008\n"+
		"      <-- KSTREAM-TOTABLE-0000000001\n"+
		"    Processor: KTABLE-TOSTREAM-0000000020 (stores: [])\n"+
		"      --> KSTREAM-SINK-0000000021\n"+
		"      <-- KTABLE-FK-JOIN-OUTPUT-0000000018\n"+
		"    Sink: KSTREAM-SINK-0000000021 (topic: output)\n"+
		"      <-- KTABLE-TOSTREAM-0000000020\n"+
		"    Sink: KTABLE-SINK-0000000008 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)\n"+
		"      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"+
		"\n"+
		"  Sub-topology: 1\n"+
		"    Source: KSTREAM-SOURCE-0000000003 (topics: [input2])\n"+
		"      --> KSTREAM-TOTABLE-0000000004\n"+
		"    Source: KTABLE-SOURCE-0000000009 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])\n"+
		"      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"+
		"    Processor: KSTREAM-TOTABLE-0000000004 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"+
		"      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n"+
		"      <-- KSTREAM-SOURCE-0000000003\n"+
		"    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"+
		"      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012\n"+
		"      <-- KTABLE-SOURCE-0000000009\n"+
		"    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"+
		"      --> KTABLE-SINK-0000000015\n"+
		"      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"+
		"    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"+
		"      --> KTABLE-SINK-0000000015\n"+
		"      <-- KSTREAM-TOTABLE-0000000004\n"+
		"    Sink: KTABLE-SINK-0000000015 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)\n"+
		"      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012, KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n\n",
		topo.Describe().String())

	d := drive(t, build)
	left, right := input(d, "input1"), input(d, "input2")
	out := testdriver.CreateOutputTopic(d, "output", serde.String(), serde.Nullable(serde.String()))
	toMap := func() map[string]*string {
		m, err := testdriver.ReadKeyValuesToMap(out)
		require.NoError(t, err)
		return m
	}
	// Pre-populate the RHS records. This test is all about what happens
	// when we add/remove LHS records.
	require.NoError(t, right.PipeKeyValue("rhs1", "rhsValue1"))
	require.NoError(t, right.PipeKeyValue("rhs2", "rhsValue2"))
	require.NoError(t, right.PipeKeyValue("rhs3", "rhsValue3")) // unreferenced: never in a result
	require.Empty(t, toMap())
	require.NoError(t, left.PipeKeyValue("lhs1", "lhsValue1|rhs1"))
	require.NoError(t, left.PipeKeyValue("lhs2", "lhsValue2|rhs2"))
	require.Equal(t, map[string]*string{"lhs1": new("(lhsValue1|rhs1,rhsValue1)"), "lhs2": new("(lhsValue2|rhs2,rhsValue2)")}, toMap())
	require.NoError(t, left.PipeKeyValue("lhs3", "lhsValue3|rhs1")) // another reference to an existing FK
	require.Equal(t, map[string]*string{"lhs3": new("(lhsValue3|rhs1,rhsValue1)")}, toMap())
}

// fkStep pipes one record to the left or right table (a nil value
// deletes) and expects what the output topic gets, as a map (Kafka
// Streams' readKeyValuesToMap), in an inner and in a left join.
type fkStep struct {
	right           bool
	key             string
	value           *string
	inner, leftJoin map[string]*string
}

// runFKScenario runs steps on the join of Kafka Streams'
// KTableKTableForeignKeyJoinIntegrationTest.getTopology (tables "left"
// and "right", values "value|fk", joiner "(left,right)"), and checks each
// step's output; a materialized result's store must hold what the output
// says, step by step.
func runFKScenario(t *testing.T, steps []fkStep) {
	t.Helper()
	for _, leftJoin := range []bool{false, true} {
		for _, materialized := range []bool{false, true} {
			t.Run(fmt.Sprintf("leftJoin=%v,materialized=%v", leftJoin, materialized), func(t *testing.T) {
				ns := serde.Nullable(serde.String())
				d := drive(t, func(sb *kstream.StreamsBuilder) {
					l, r := kstream.Table(sb, "left", strs), kstream.Table(sb, "right", strs)
					var m []kstream.Materialized[string, *string]
					if materialized {
						m = append(m, kstream.Materialized[string, *string]{Name: "store", ValueSerde: ns})
					}
					joiner := func(v, o string) *string {
						if o == "" {
							o = "null"
						}
						return new(paren(v, o))
					}
					join := kstream.ForeignKeyJoin[string, string, string, string, *string]
					if leftJoin {
						join = kstream.ForeignKeyLeftJoin[string, string, string, string, *string]
					}
					join(l, r, fkOf, joiner, m...).ToStream().To("output", kstream.Produced[string, *string]{ValueSerde: ns})
				})
				left := testdriver.CreateInputTopic(d, "left", serde.String(), ns, testdriver.WithStartTime(t0), testdriver.WithAutoAdvance(time.Millisecond))
				right := testdriver.CreateInputTopic(d, "right", serde.String(), ns, testdriver.WithStartTime(t0), testdriver.WithAutoAdvance(time.Millisecond))
				out := testdriver.CreateOutputTopic(d, "output", serde.String(), ns)
				all := map[string]string{}
				for i, s := range steps {
					in := left
					if s.right {
						in = right
					}
					require.NoError(t, in.PipeKeyValue(s.key, s.value))
					got, err := testdriver.ReadKeyValuesToMap(out)
					require.NoError(t, err)
					want := s.inner
					if leftJoin {
						want = s.leftJoin
					}
					want = maps.Clone(want)
					if want == nil {
						want = map[string]*string{}
					}
					if materialized {
						// Where Kafka Streams sends a tombstone for a row that
						// had no result ("unnecessary", its test says: an inner
						// join cannot know), a materialized result knows it
						// had none and sends nothing, as our tables do.
						for k, v := range want {
							if _, had := all[k]; v == nil && !had {
								delete(want, k)
							}
						}
					}
					require.Equal(t, want, got, "step %d", i)
					for k, v := range got {
						if v == nil {
							delete(all, k)
						} else {
							all[k] = *v
						}
					}
					if materialized {
						store, err := testdriver.TimestampedKeyValueStore[string, *string](d, "store")
						require.NoError(t, err)
						inStore := map[string]string{}
						for e, err := range store.All() {
							require.NoError(t, err)
							inStore[e.Key] = *e.Value.Value
						}
						require.Equal(t, all, inStore, "step %d: the store", i)
					}
				}
			})
		}
	}
}

type res = map[string]*string

// The cases of Kafka Streams' KTableKTableForeignKeyJoinIntegrationTest,
// inputs and expected outputs taken from it (the "rejoin" and versioned
// variants left out: we have neither).
func TestForeignKeyJoinAsKafkaStreams(t *testing.T) {
	s := func(v string) *string { return &v }
	t.Run("doJoinFromLeftThenDeleteLeftEntity", func(t *testing.T) {
		runFKScenario(t, []fkStep{
			{right: true, key: "rhs1", value: s("rhsValue1")},
			{right: true, key: "rhs2", value: s("rhsValue2")},
			{right: true, key: "rhs3", value: s("rhsValue3")}, // unreferenced: never in a result
			{key: "lhs1", value: s("lhsValue1|rhs1"), inner: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}, leftJoin: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}},
			{key: "lhs2", value: s("lhsValue2|rhs2"), inner: res{"lhs2": s("(lhsValue2|rhs2,rhsValue2)")}, leftJoin: res{"lhs2": s("(lhsValue2|rhs2,rhsValue2)")}},
			{key: "lhs3", value: s("lhsValue3|rhs1"), inner: res{"lhs3": s("(lhsValue3|rhs1,rhsValue1)")}, leftJoin: res{"lhs3": s("(lhsValue3|rhs1,rhsValue1)")}},
			{key: "lhs1", inner: res{"lhs1": nil}, leftJoin: res{"lhs1": nil}},
		})
	})
	t.Run("doJoinFromRightThenDeleteRightEntity", func(t *testing.T) {
		runFKScenario(t, []fkStep{
			{key: "lhs1", value: s("lhsValue1|rhs1"), leftJoin: res{"lhs1": s("(lhsValue1|rhs1,null)")}},
			{key: "lhs2", value: s("lhsValue2|rhs2"), leftJoin: res{"lhs2": s("(lhsValue2|rhs2,null)")}},
			{key: "lhs3", value: s("lhsValue3|rhs1"), leftJoin: res{"lhs3": s("(lhsValue3|rhs1,null)")}},
			{right: true, key: "rhs1", value: s("rhsValue1"),
				inner:    res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)"), "lhs3": s("(lhsValue3|rhs1,rhsValue1)")},
				leftJoin: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)"), "lhs3": s("(lhsValue3|rhs1,rhsValue1)")}},
			{right: true, key: "rhs2", value: s("rhsValue2"), inner: res{"lhs2": s("(lhsValue2|rhs2,rhsValue2)")}, leftJoin: res{"lhs2": s("(lhsValue2|rhs2,rhsValue2)")}},
			{right: true, key: "rhs3", value: s("rhsValue3")},
			{right: true, key: "rhs1", inner: res{"lhs1": nil, "lhs3": nil},
				leftJoin: res{"lhs1": s("(lhsValue1|rhs1,null)"), "lhs3": s("(lhsValue3|rhs1,null)")}},
		})
	})
	t.Run("shouldEmitTombstoneWhenDeletingNonJoiningRecords", func(t *testing.T) {
		runFKScenario(t, []fkStep{
			{key: "lhs1", value: s("lhsValue1|rhs1"), leftJoin: res{"lhs1": s("(lhsValue1|rhs1,null)")}},
			{key: "lhs1", inner: res{"lhs1": nil}, leftJoin: res{"lhs1": nil}},
			{key: "lhs1"}, // deleting a row that is not there: nothing
		})
	})
	t.Run("shouldNotEmitTombstonesWhenDeletingNonExistingRecords", func(t *testing.T) {
		runFKScenario(t, []fkStep{{key: "lhs1"}})
	})
	t.Run("joinShouldProduceNullsWhenValueHasNonMatchingForeignKey", func(t *testing.T) {
		runFKScenario(t, []fkStep{
			{key: "lhs1", value: s("lhsValue1|rhs1"), leftJoin: res{"lhs1": s("(lhsValue1|rhs1,null)")}},
			{key: "lhs1", value: s("lhsValue1|rhs2"), inner: res{"lhs1": nil}, leftJoin: res{"lhs1": s("(lhsValue1|rhs2,null)")}},
			{key: "lhs1", value: s("lhsValue1|rhs3"), inner: res{"lhs1": nil}, leftJoin: res{"lhs1": s("(lhsValue1|rhs3,null)")}},
			{right: true, key: "rhs1", value: s("rhsValue1")}, // lhs1 no longer subscribes to rhs1
			{key: "lhs1", value: s("lhsValue1|rhs1"), inner: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}, leftJoin: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}},
			{key: "lhs1", value: s("lhsValue1|rhs2"), inner: res{"lhs1": nil}, leftJoin: res{"lhs1": s("(lhsValue1|rhs2,null)")}},
		})
	})
	t.Run("shouldUnsubscribeOldForeignKeyIfLeftSideIsUpdated", func(t *testing.T) {
		runFKScenario(t, []fkStep{
			{right: true, key: "rhs1", value: s("rhsValue1")},
			{right: true, key: "rhs2", value: s("rhsValue2")},
			{key: "lhs1", value: s("lhsValue1|rhs1"), inner: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}, leftJoin: res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}},
			{key: "lhs1", value: s("lhsValue1|rhs2"), inner: res{"lhs1": s("(lhsValue1|rhs2,rhsValue2)")}, leftJoin: res{"lhs1": s("(lhsValue1|rhs2,rhsValue2)")}},
			{right: true, key: "rhs1", value: s("rhsValue1Delta")}, // lhs1 unsubscribed from rhs1: nothing
		})
	})
}

// A left join's row whose foreign key is nil joins nothing and is still a
// result (Kafka Streams' shouldEmitRecordOnNullForeignKeyForLeftJoins and
// shouldEmitRecordWhenOldAndNewFkDiffer): the row unsubscribes from its
// old foreign key, whose later changes no longer reach it. An inner join
// drops such a row, and deletes the result it had.
func TestForeignKeyJoinNilForeignKey(t *testing.T) {
	ns := serde.Nullable(serde.String())
	fk := func(v string) *string {
		if f := fkOf(v); f != "returnNull" {
			return &f
		}
		return nil
	}
	for _, leftJoin := range []bool{false, true} {
		t.Run(fmt.Sprint("leftJoin=", leftJoin), func(t *testing.T) {
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				l := kstream.Table(sb, "left", strs)
				r := kstream.Table(sb, "right", kstream.Consumed[*string, string]{KeySerde: ns, ValueSerde: serde.String()})
				join := kstream.ForeignKeyJoin[string, string, *string, string, *string]
				if leftJoin {
					join = kstream.ForeignKeyLeftJoin[string, string, *string, string, *string]
				}
				join(l, r, fk, func(v, o string) *string { return new(paren(v, o)) }).ToStream().
					To("output", kstream.Produced[string, *string]{ValueSerde: ns})
			})
			left := testdriver.CreateInputTopic(d, "left", serde.String(), ns)
			right := testdriver.CreateInputTopic(d, "right", ns, serde.String())
			out := testdriver.CreateOutputTopic(d, "output", serde.String(), ns)
			s := func(v string) *string { return &v }
			read := func() res {
				m, err := testdriver.ReadKeyValuesToMap(out)
				require.NoError(t, err)
				return m
			}
			require.NoError(t, right.PipeKeyValue(s("rhs1"), "rhsValue1"))
			require.NoError(t, left.PipeKeyValue("lhs1", s("lhsValue1|rhs1")))
			require.Equal(t, res{"lhs1": s("(lhsValue1|rhs1,rhsValue1)")}, read())
			require.NoError(t, left.PipeKeyValue("lhs1", s("lhsValue1|returnNull")))
			if leftJoin {
				require.Equal(t, res{"lhs1": s("(lhsValue1|returnNull,)")}, read())
			} else {
				require.Equal(t, res{"lhs1": nil}, read())
			}
			require.NoError(t, right.PipeKeyValue(s("rhs1"), "rhsValue1Delta")) // unsubscribed: nothing
			require.Equal(t, res{}, read())
			require.NoError(t, left.PipeKeyValue("lhs2", s("lhsValue2|returnNull")))
			if leftJoin {
				require.Equal(t, res{"lhs2": s("(lhsValue2|returnNull,)")}, read())
			} else {
				require.Equal(t, res{}, read())
				require.Equal(t, int64(1), d.DroppedRecords(), "the inner join drops a row with no foreign key")
			}
			require.NoError(t, left.PipeKeyValue("lhs2", nil))
			if leftJoin {
				require.Equal(t, res{"lhs2": nil}, read())
			} else {
				require.Equal(t, res{}, read(), "it had no result to delete")
			}
		})
	}
}
