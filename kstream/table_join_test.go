package kstream_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// plus joins two rows as "a+b", a missing side as "".
func plus(_, a, b string) string { return a + "+" + b }

func plusLeft(_, a, b string, _ bool) string { return a + "+" + b }

func plusOuter(_, a string, _ bool, b string, _ bool) string { return a + "+" + b }

// joinTables is TableJoin, TableLeftJoin or TableOuterJoin by kind, with
// one joiner for all three (a has flag is always true where the join
// needs that side's row).
func joinTables(kind string, a, b kstream.KTable[string, string], joiner func(l string, hasL bool, r string, hasR bool) string, m ...kstream.Materialized[string, string]) kstream.KTable[string, string] {
	switch kind {
	case "inner":
		return kstream.TableJoin(a, b, func(_, l, r string) string { return joiner(l, true, r, true) }, m...)
	case "left":
		return kstream.TableLeftJoin(a, b, func(_, l, r string, hasR bool) string { return joiner(l, true, r, hasR) }, m...)
	}
	return kstream.TableOuterJoin(a, b, func(_, l string, hasL bool, r string, hasR bool) string { return joiner(l, hasL, r, hasR) }, m...)
}

// Kafka Streams' KStreamImplTest.shouldSupportTableTableJoinWithKStreamToKTable:
// its description, copied from the test (apache/kafka trunk, 2024-10), and
// its records.
func TestTableJoinDescribeAndRecords(t *testing.T) {
	build := func(sb *kstream.StreamsBuilder) {
		table1 := kstream.Stream(sb, []string{"left"}, strs).ToTable("")
		table2 := kstream.Stream(sb, []string{"right"}, strs).ToTable("")
		kstream.TableJoin(table1, table2, plus).ToStream().To("output")
	}
	sb := kstream.NewStreamsBuilder()
	build(sb)
	topo, err := sb.Build()
	require.NoError(t, err)
	require.Equal(t, "Topologies:\n"+
		"   Sub-topology: 0\n"+
		"    Source: KSTREAM-SOURCE-0000000000 (topics: [left])\n"+
		"      --> KSTREAM-TOTABLE-0000000001\n"+
		"    Source: KSTREAM-SOURCE-0000000003 (topics: [right])\n"+
		"      --> KSTREAM-TOTABLE-0000000004\n"+
		"    Processor: KSTREAM-TOTABLE-0000000001 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"+
		"      --> KTABLE-JOINTHIS-0000000007\n"+
		"      <-- KSTREAM-SOURCE-0000000000\n"+
		"    Processor: KSTREAM-TOTABLE-0000000004 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"+
		"      --> KTABLE-JOINOTHER-0000000008\n"+
		"      <-- KSTREAM-SOURCE-0000000003\n"+
		"    Processor: KTABLE-JOINOTHER-0000000008 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"+
		"      --> KTABLE-MERGE-0000000006\n"+
		"      <-- KSTREAM-TOTABLE-0000000004\n"+
		"    Processor: KTABLE-JOINTHIS-0000000007 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"+
		"      --> KTABLE-MERGE-0000000006\n"+
		"      <-- KSTREAM-TOTABLE-0000000001\n"+
		"    Processor: KTABLE-MERGE-0000000006 (stores: [])\n"+
		"      --> KTABLE-TOSTREAM-0000000009\n"+
		"      <-- KTABLE-JOINTHIS-0000000007, KTABLE-JOINOTHER-0000000008\n"+
		"    Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n"+
		"      --> KSTREAM-SINK-0000000010\n"+
		"      <-- KTABLE-MERGE-0000000006\n"+
		"    Sink: KSTREAM-SINK-0000000010 (topic: output)\n"+
		"      <-- KTABLE-TOSTREAM-0000000009\n\n", topo.Describe().String())

	d := drive(t, build)
	left, right := input(d, "left"), input(d, "right")
	out := testdriver.CreateOutputTopic(d, "output", serde.String(), serde.String())
	require.NoError(t, right.PipeKeyValue("lhs1", "rhsValue1"))
	require.NoError(t, right.PipeKeyValue("rhs2", "rhsValue2"))
	require.NoError(t, right.PipeKeyValue("lhs3", "rhsValue3"))
	require.Empty(t, kvs(t, out))
	require.NoError(t, left.PipeKeyValue("lhs1", "lhsValue1"))
	require.NoError(t, left.PipeKeyValue("lhs2", "lhsValue2"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("lhs1", "lhsValue1+rhsValue1")}, kvs(t, out))
	require.NoError(t, left.PipeKeyValue("lhs3", "lhsValue3"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("lhs3", "lhsValue3+rhsValue3")}, kvs(t, out))
	require.NoError(t, left.PipeKeyValue("lhs1", "lhsValue4"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("lhs1", "lhsValue4+rhsValue1")}, kvs(t, out))
}

// The names a join draws, derived from Kafka Streams' KTableImpl.doJoin
// (no test string of Kafka Streams covers them): the merge's, then
// JOINTHIS and JOINOTHER, each drawn even when Named; an unnamed
// Materialized draws the store's name first (KTABLE-MERGE-STATE-STORE-…),
// as Kafka Streams' MaterializedInternal does; left and outer joins are
// named as the inner join.
func TestTableJoinNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		join func(a, b kstream.KTable[string, string]) kstream.KTable[string, string]
		want []string
	}{
		{"inner", func(a, b kstream.KTable[string, string]) kstream.KTable[string, string] {
			return kstream.TableJoin(a, b, plus)
		}, []string{"Processor: KTABLE-MERGE-0000000006 (stores: [])", "Processor: KTABLE-JOINTHIS-0000000007 (stores: [b-store])",
			"Processor: KTABLE-JOINOTHER-0000000008 (stores: [a-store])", "Processor: KTABLE-TOSTREAM-0000000009"}},
		{"left, named", func(a, b kstream.KTable[string, string]) kstream.KTable[string, string] {
			return kstream.TableLeftJoin(a, b, plusLeft, kstream.Materialized[string, string]{Named: "j"})
		}, []string{"Processor: j (stores: [])", "Processor: j-join-this (stores: [b-store])",
			"Processor: j-join-other (stores: [a-store])", "Processor: KTABLE-TOSTREAM-0000000009"}},
		{"outer, unnamed store", func(a, b kstream.KTable[string, string]) kstream.KTable[string, string] {
			return kstream.TableOuterJoin(a, b, plusOuter, kstream.Materialized[string, string]{ValueSerde: serde.String()})
		}, []string{"Processor: KTABLE-MERGE-0000000007 (stores: [KTABLE-MERGE-STATE-STORE-0000000006])",
			"Processor: KTABLE-JOINTHIS-0000000008 (stores: [b-store])", "Processor: KTABLE-JOINOTHER-0000000009 (stores: [a-store])",
			"Processor: KTABLE-TOSTREAM-0000000010"}},
		{"inner, named store", func(a, b kstream.KTable[string, string]) kstream.KTable[string, string] {
			return kstream.TableJoin(a, b, plus, kstream.Materialized[string, string]{Name: "joined", Named: "j"})
		}, []string{"Processor: j (stores: [joined])", "Processor: KTABLE-TOSTREAM-0000000009"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := kstream.NewStreamsBuilder()
			a := kstream.Table(sb, "a", strs, kstream.Materialized[string, string]{Name: "a-store"})
			b := kstream.Table(sb, "b", strs, kstream.Materialized[string, string]{Name: "b-store"})
			// Each table draws two names (its source and its table source).
			sb2 := kstream.Stream(sb, []string{"pad"}, strs)      // 4
			sb2.Filter(func(string, string) bool { return true }) // 5
			tc.join(a, b).ToStream().To("out")
			topo, err := sb.Build()
			require.NoError(t, err)
			d := topo.Describe().String()
			for _, w := range tc.want {
				require.Contains(t, d, w)
			}
		})
	}
}

// A join of derived tables looks rows up through what they derive from: a
// filtered table through the filter, a mapped one through the mapper, an
// unmaterialized join through both its sides, so that no store is added
// for them and a lookup still sees what the derived table holds.
func TestTableJoinOfDerivedTables(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		a := kstream.Table(sb, "a", strs)
		b := kstream.Table(sb, "b", strs)
		c := kstream.Table(sb, "c", strs)
		long := a.Filter(func(_, v string) bool { return len(v) > 1 })
		upper := kstream.MapValuesTable(b, func(_, v string) string { return "<" + v + ">" })
		ab := kstream.TableJoin(long, upper, plus)
		kstream.TableLeftJoin(c, ab, plusLeft).ToStream().To("out")
	})
	a, b, c := input(d, "a"), input(d, "b"), input(d, "c")
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
	require.NoError(t, c.PipeKeyValue("k", "c1"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "c1+")}, kvs(t, out))
	require.NoError(t, a.PipeKeyValue("k", "x")) // filtered out: no ab row
	require.NoError(t, b.PipeKeyValue("k", "b1"))
	require.Empty(t, kvs(t, out))
	require.NoError(t, a.PipeKeyValue("k", "aa"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "c1+aa+<b1>")}, kvs(t, out))
	require.NoError(t, c.PipeKeyValue("k", "c2")) // looks ab up: through the filter, the mapper and both stores
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "c2+aa+<b1>")}, kvs(t, out))
	require.NoError(t, a.PipeKeyValue("k", "y")) // stops passing the filter: ab's row is deleted
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "c2+")}, kvs(t, out))
	require.NoError(t, c.PipeKeyValue("k", "c3"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "c3+")}, kvs(t, out))
}

// An aggregation over a join's result stays right while rows change
// groups: the join forwards old values, which GroupByTable subtracts from
// the group a row leaves. Checked against a recount after every update of
// a random sequence, on both sides, deletes included.
func TestTableJoinAggregatedDownstream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []string{"inner", "left", "outer"} {
		t.Run(kind, func(t *testing.T) {
			// The group of a result is its first letter's: "a1+b2" is in
			// group "a"; a missing left side puts it in group "-".
			joiner := func(l string, hasL bool, r string, hasR bool) string {
				if !hasL {
					l = "-"
				}
				if !hasR {
					r = "-"
				}
				return l + "+" + r
			}
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				j := joinTables(kind, kstream.Table(sb, "l", strs), kstream.Table(sb, "r", strs), joiner)
				kstream.GroupByTable(j, func(_, v string) (string, string) { return v[:1], v }).
					Count(kstream.Materialized[string, int64]{Name: "counts"})
			})
			ns := serde.Nullable(serde.String())
			l := testdriver.CreateInputTopic(d, "l", serde.String(), ns)
			r := testdriver.CreateInputTopic(d, "r", serde.String(), ns)
			counts, err := testdriver.TimestampedKeyValueStore[string, int64](d, "counts")
			require.NoError(t, err)
			left, right := map[string]string{}, map[string]string{}
			for i := range 600 {
				k := fmt.Sprint("k", rng.IntN(8))
				side, in := left, l
				if rng.IntN(2) == 0 {
					side, in = right, r
				}
				if rng.IntN(4) == 0 {
					delete(side, k)
					require.NoError(t, in.PipeKeyValue(k, nil))
				} else {
					v := fmt.Sprint(string(rune('a'+rng.IntN(3))), i)
					side[k] = v
					require.NoError(t, in.PipeKeyValue(k, &v))
				}
				want := map[string]int64{}
				for _, k := range keysOf(left, right) {
					lv, lok := left[k]
					rv, rok := right[k]
					if (kind == "inner" && (!lok || !rok)) || (kind == "left" && !lok) || (!lok && !rok) {
						continue
					}
					want[joiner(lv, lok, rv, rok)[:1]]++
				}
				for g := range maps.Keys(map[string]bool{"a": true, "b": true, "c": true, "-": true}) {
					got, _, err := counts.Get(g)
					require.NoError(t, err)
					require.Equal(t, want[g], got.Value, "update %d, group %q", i, g)
				}
			}
		})
	}
}

func keysOf(ms ...map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// A joiner that panics fails the task with a *FunctionPanicError naming the
// side's join processor; a filter's predicate that panics while a join
// looks a row up through it names the filter.
func TestTableJoinPanics(t *testing.T) {
	for _, tc := range []struct {
		name, processor, function string
		first, second             string // piped to a, then to b
	}{
		{"joiner on the left", "KTABLE-JOINTHIS-0000000006", "the joiner", "", "boom"},
		{"joiner on the right", "KTABLE-JOINOTHER-0000000007", "the joiner", "boom", ""},
		{"filter in a lookup", "KTABLE-FILTER-0000000004", "the predicate", "x", "y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			armed := false
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				a := kstream.Table(sb, "a", strs, kstream.Materialized[string, string]{Name: "a-store"})
				b := kstream.Table(sb, "b", strs, kstream.Materialized[string, string]{Name: "b-store"})
				fa := a.Filter(func(_, v string) bool {
					if armed && v == "x" {
						panic("predicate boom")
					}
					return true
				})
				kstream.TableJoin(fa, b, func(_, l, r string) string {
					if l == "boom" || r == "boom" {
						panic("joiner boom")
					}
					return l + r
				}).ToStream().To("out")
			})
			ai, bi := input(d, "a"), input(d, "b")
			var err error
			switch {
			case tc.first == "": // b's row first, then a's update joins it
				require.NoError(t, bi.PipeKeyValue("k", tc.second))
				err = ai.PipeKeyValue("k", "v")
			case tc.second == "":
				require.NoError(t, ai.PipeKeyValue("k", tc.first))
				err = bi.PipeKeyValue("k", "v")
			default:
				require.NoError(t, ai.PipeKeyValue("k", tc.first))
				armed = true
				err = bi.PipeKeyValue("k", tc.second)
			}
			var fpe *kstream.FunctionPanicError
			require.True(t, errors.As(err, &fpe), "%v", err)
			require.Equal(t, tc.processor, fpe.Processor)
			require.Equal(t, tc.function, fpe.Function)
		})
	}
}

// A table-table join looks up both sides' rows: a windowed aggregation's
// table, which keeps none, cannot be joined, which Build reports.
func TestTableJoinOfWindowedTableFailsBuild(t *testing.T) {
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, strs)
	counts := kstream.WindowedBy(s.GroupByKey(), window.Tumbling(60e9)).Count()
	other := kstream.WindowedBy(s.GroupByKey(), window.Tumbling(60e9)).Count(kstream.Materialized[string, int64]{Name: "other"})
	kstream.TableJoin(counts, other, func(_ state.Windowed[string], a, b int64) int64 { return a + b })
	_, err := sb.Build()
	require.ErrorContains(t, err, "a table-table join looks up both tables' rows")
}

// A joiner that returns nil makes no row, as Kafka Streams' null: the
// store of a materialized join holds nothing for the key, and ToStream
// forwards the deletion as a tombstone, which the user's serde never sees.
func TestTableJoinNilResultDeletes(t *testing.T) {
	ns := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		j := kstream.TableJoin(kstream.Table(sb, "a", strs), kstream.Table(sb, "b", strs), func(_, l, r string) *string {
			if r == "none" {
				return nil
			}
			return new(l + r)
		}, kstream.Materialized[string, *string]{Name: "joined", ValueSerde: ns})
		j.ToStream().To("out", kstream.Produced[string, *string]{ValueSerde: ns})
	})
	a, b := input(d, "a"), input(d, "b")
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), ns)
	require.NoError(t, a.PipeKeyValue("k", "x"))
	require.NoError(t, b.PipeKeyValue("k", "y"))
	require.NoError(t, b.PipeKeyValue("k", "none"))
	require.NoError(t, b.PipeKeyValue("k", "none")) // nil before, nil now: nothing
	require.Equal(t, []testdriver.KeyValue[string, *string]{kv("k", new("xy")), kv[string, *string]("k", nil)}, kvs(t, out))
	store, err := testdriver.TimestampedKeyValueStore[string, *string](d, "joined")
	require.NoError(t, err)
	_, ok, err := store.Get("k")
	require.NoError(t, err)
	require.False(t, ok)
}
