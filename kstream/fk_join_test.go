package kstream_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
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

// parenJoiner is paren as a foreign-key joiner.
func parenJoiner(_, v, o string) string { return paren(v, o) }

// fkJoin is ForeignKeyLeftJoin when leftJoin, else ForeignKeyJoin, with
// one joiner for both (hasForeign always true in the inner join).
func fkJoin[KO, VR any](leftJoin bool, l kstream.KTable[string, string], r kstream.KTable[KO, string], fk func(string) KO, joiner func(v, o string, hasForeign bool) VR, m ...kstream.Materialized[string, VR]) kstream.KTable[string, VR] {
	if leftJoin {
		return kstream.ForeignKeyLeftJoin(l, r, fk, func(_, v, o string, has bool) VR { return joiner(v, o, has) }, m...)
	}
	return kstream.ForeignKeyJoin(l, r, fk, func(_, v, o string) VR { return joiner(v, o, true) }, m...)
}

// Kafka Streams' KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream:
// its description, copied from the test (apache/kafka trunk, 2024-10), and
// its records.
func TestForeignKeyJoinDescribeAndRecords(t *testing.T) {
	build := func(sb *kstream.StreamsBuilder) {
		leftTable := kstream.Stream(sb, []string{"input1"}, strs).ToTable("")
		rightTable := kstream.Stream(sb, []string{"input2"}, strs).ToTable("")
		kstream.ForeignKeyJoin(leftTable, rightTable, fkOf, parenJoiner).ToStream().To("output")
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
					joiner := func(v, o string, hasForeign bool) *string {
						if !hasForeign {
							o = "null"
						}
						return new(paren(v, o))
					}
					fkJoin(leftJoin, l, r, fkOf, joiner, m...).ToStream().To("output", kstream.Produced[string, *string]{ValueSerde: ns})
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
				fkJoin(leftJoin, l, r, fk, func(v, o string, _ bool) *string { return new(paren(v, o)) }).ToStream().
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

// Thousands of random updates and deletes on both sides: after every
// update, the table the output topic describes (each emitted result
// applied in order) and the join's store equal a plain recomputation of
// the join from the two tables' current rows.
func TestForeignKeyJoinRandomUpdates(t *testing.T) {
	for _, leftJoin := range []bool{false, true} {
		t.Run(fmt.Sprint("leftJoin=", leftJoin), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(fmt.Sprint(leftJoin)))))
			ns := serde.Nullable(serde.String())
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				l, r := kstream.Table(sb, "left", strs), kstream.Table(sb, "right", strs)
				fkJoin(leftJoin, l, r, fkOf, func(v, o string, _ bool) *string { return new(paren(v, o)) },
					kstream.Materialized[string, *string]{Name: "joined", ValueSerde: ns}).
					ToStream().To("output", kstream.Produced[string, *string]{ValueSerde: ns})
			})
			left := testdriver.CreateInputTopic(d, "left", serde.String(), ns, testdriver.WithStartTime(t0), testdriver.WithAutoAdvance(time.Millisecond))
			right := testdriver.CreateInputTopic(d, "right", serde.String(), ns, testdriver.WithStartTime(t0), testdriver.WithAutoAdvance(time.Millisecond))
			out := testdriver.CreateOutputTopic(d, "output", serde.String(), ns)
			store, err := testdriver.TimestampedKeyValueStore[string, *string](d, "joined")
			require.NoError(t, err)
			lrows, rrows := map[string]string{}, map[string]string{}
			seen := map[string]string{} // the output topic's table
			for i := range 3000 {
				if rng.IntN(2) == 0 {
					k := fmt.Sprint("l", rng.IntN(20))
					if rng.IntN(5) == 0 {
						delete(lrows, k)
						require.NoError(t, left.PipeKeyValue(k, nil))
					} else {
						v := fmt.Sprintf("v%d|r%d", i, rng.IntN(8))
						lrows[k] = v
						require.NoError(t, left.PipeKeyValue(k, &v))
					}
				} else {
					k := fmt.Sprint("r", rng.IntN(8))
					if rng.IntN(4) == 0 {
						delete(rrows, k)
						require.NoError(t, right.PipeKeyValue(k, nil))
					} else {
						v := fmt.Sprint("w", i)
						rrows[k] = v
						require.NoError(t, right.PipeKeyValue(k, &v))
					}
				}
				want := map[string]string{}
				for k, v := range lrows {
					o, ok := rrows[fkOf(v)]
					if !ok && !leftJoin {
						continue
					}
					want[k] = paren(v, o)
				}
				got, err := out.ReadKeyValues()
				require.NoError(t, err)
				for _, e := range got {
					if e.Value == nil {
						delete(seen, e.Key)
					} else {
						seen[e.Key] = *e.Value
					}
				}
				require.Equal(t, want, seen, "update %d: the output", i)
				inStore := map[string]string{}
				for e, err := range store.All() {
					require.NoError(t, err)
					inStore[e.Key] = *e.Value.Value
				}
				require.Equal(t, want, inStore, "update %d: the store", i)
			}
		})
	}
}

// A foreign-key extractor or a joiner that panics fails the task with a
// *FunctionPanicError naming its processor.
func TestForeignKeyJoinPanics(t *testing.T) {
	for _, tc := range []struct{ value, processor, function string }{
		{"no-bar", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007", "the foreign key extractor"},
		{"boom|r1", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017", "the joiner"},
	} {
		t.Run(tc.function, func(t *testing.T) {
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				kstream.ForeignKeyJoin(kstream.Table(sb, "left", strs), kstream.Table(sb, "right", strs), fkOf, func(_, v, o string) string {
					if strings.HasPrefix(v, "boom") {
						panic("joiner boom")
					}
					return paren(v, o)
				}).ToStream().To("output")
			})
			require.NoError(t, input(d, "right").PipeKeyValue("r1", "x"))
			err := input(d, "left").PipeKeyValue("k", tc.value)
			var fpe *kstream.FunctionPanicError
			require.True(t, errors.As(err, &fpe), "%v", err)
			require.Equal(t, tc.processor, fpe.Processor)
			require.Equal(t, tc.function, fpe.Function)
		})
	}
}

// An aggregation over a foreign-key join's result, whose rows change
// groups as either side changes, stays right: GroupByTable materializes
// the result, whose updates then carry old values. Checked against a
// recount after every update.
func TestForeignKeyJoinAggregatedDownstream(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ns := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		j := kstream.ForeignKeyLeftJoin(kstream.Table(sb, "left", strs), kstream.Table(sb, "right", strs), fkOf,
			func(_, _, o string, _ bool) string { return "group-" + o })
		kstream.GroupByTable(j, func(_, g string) (string, string) { return g, g }).
			Count(kstream.Materialized[string, int64]{Name: "counts"})
	})
	left := testdriver.CreateInputTopic(d, "left", serde.String(), ns)
	right := testdriver.CreateInputTopic(d, "right", serde.String(), ns)
	counts, err := testdriver.TimestampedKeyValueStore[string, int64](d, "counts")
	require.NoError(t, err)
	lrows, rrows := map[string]string{}, map[string]string{}
	for i := range 800 {
		if rng.IntN(2) == 0 {
			k := fmt.Sprint("l", rng.IntN(12))
			if rng.IntN(5) == 0 {
				delete(lrows, k)
				require.NoError(t, left.PipeKeyValue(k, nil))
			} else {
				v := fmt.Sprintf("v|r%d", rng.IntN(5))
				lrows[k] = v
				require.NoError(t, left.PipeKeyValue(k, &v))
			}
		} else {
			k := fmt.Sprint("r", rng.IntN(5))
			if rng.IntN(4) == 0 {
				delete(rrows, k)
				require.NoError(t, right.PipeKeyValue(k, nil))
			} else {
				v := fmt.Sprint(rng.IntN(3))
				rrows[k] = v
				require.NoError(t, right.PipeKeyValue(k, &v))
			}
		}
		want := map[string]int64{}
		for _, v := range lrows {
			want["group-"+rrows[fkOf(v)]]++
		}
		for _, g := range []string{"group-", "group-0", "group-1", "group-2"} {
			got, _, err := counts.Get(g)
			require.NoError(t, err)
			require.Equal(t, want[g], got.Value, "update %d, %s", i, g)
		}
	}
}

// A foreign-key join writes both tables' keys and values to its topics:
// a table whose value serde is unknown (mapped to a type with no stock
// serde) makes Build fail, naming the join.
func TestForeignKeyJoinNeedsSerdes(t *testing.T) {
	type order struct{ customer string }
	sb := kstream.NewStreamsBuilder()
	orders := kstream.MapValuesTable(kstream.Table(sb, "orders", strs), func(_, v string) order { return order{v} })
	kstream.ForeignKeyJoin(orders, kstream.Table(sb, "customers", strs), func(o order) string { return o.customer },
		func(_ string, o order, name string) string { return name })
	_, err := sb.Build()
	require.ErrorContains(t, err, "KTABLE-FK-JOIN-OUTPUT-0000000019: a foreign-key join writes both tables' keys and values")
}
