package kstream

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// capture adds a processor below t that appends every Change t forwards
// to *got, as Kafka Streams' tests do with MockApiProcessorSupplier.
func capture[K, V any](t KTable[K, V], name string, got *[]changeAt[K, V]) {
	topology.AddProcessor(t.sb.b, name, processor.Func(func(_ processor.Context[K, V], rec processor.Record[K, Change[V]]) error {
		*got = append(*got, changeAt[K, V]{Key: rec.Key, Change: rec.Value, Millis: rec.Timestamp.UnixMilli()})
		return nil
	}), t.node)
}

// changeAt is a forwarded Change with its key and timestamp (Kafka
// Streams' KeyValueTimestamp of a Change).
type changeAt[K, V any] struct {
	Key    K
	Change Change[V]
	Millis int64
}

// ch is Kafka Streams' new Change<>(newValue, oldValue), "" being null.
func ch(key int32, newV, oldV string, millis int64) changeAt[int32, string] {
	return changeAt[int32, string]{Key: key, Change: Change[string]{New: newV, HasNew: newV != "", Old: oldV, HasOld: oldV != ""}, Millis: millis}
}

// toStringJoiner is Kafka Streams' MockValueJoiner.TOSTRING_JOINER, a
// missing side printed as null.
func toStringJoiner(_ int32, a string, hasA bool, b string, hasB bool) string {
	if !hasA {
		a = "null"
	}
	if !hasB {
		b = "null"
	}
	return a + "+" + b
}

// The scripts of Kafka Streams' KTableKTableInnerJoinTest.testSendingOldValues,
// KTableKTableLeftJoinTest.testSendingOldValue and
// KTableKTableOuterJoinTest.testSendingOldValues, with their inputs and
// the Changes they expect, step by step (the null-key records Java pipes
// have no Go counterpart with a string-free int32 key and are left out).
func TestTableJoinChangesAsKafkaStreams(t *testing.T) {
	keys := []int32{0, 1, 2, 3}
	type step struct {
		left  bool
		keys  []int32
		value string // "%d" replaced by the key; "" deletes
		ts    func(key int32) int64
		want  map[joinKind][]changeAt[int32, string]
	}
	at := func(ms int64) func(int32) int64 { return func(int32) int64 { return ms } }
	steps := []step{
		{left: true, keys: keys[:2], value: "X%d", ts: func(k int32) int64 { return 5 + int64(k) }, want: map[joinKind][]changeAt[int32, string]{
			innerJoin: nil,
			leftJoin:  {ch(0, "X0+null", "", 5), ch(1, "X1+null", "", 6)},
			outerJoin: {ch(0, "X0+null", "", 5), ch(1, "X1+null", "", 6)},
		}},
		{keys: keys[:2], value: "Y%d", ts: func(k int32) int64 { return 10 * int64(k) }, want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(0, "X0+Y0", "", 5), ch(1, "X1+Y1", "", 10)},
			leftJoin:  {ch(0, "X0+Y0", "X0+null", 5), ch(1, "X1+Y1", "X1+null", 10)},
			outerJoin: {ch(0, "X0+Y0", "X0+null", 5), ch(1, "X1+Y1", "X1+null", 10)},
		}},
		{left: true, keys: keys, value: "XX%d", ts: at(7), want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(0, "XX0+Y0", "X0+Y0", 7), ch(1, "XX1+Y1", "X1+Y1", 10)},
			leftJoin:  {ch(0, "XX0+Y0", "X0+Y0", 7), ch(1, "XX1+Y1", "X1+Y1", 10), ch(2, "XX2+null", "", 7), ch(3, "XX3+null", "", 7)},
			outerJoin: {ch(0, "XX0+Y0", "X0+Y0", 7), ch(1, "XX1+Y1", "X1+Y1", 10), ch(2, "XX2+null", "", 7), ch(3, "XX3+null", "", 7)},
		}},
		{keys: keys, value: "YY%d", ts: func(k int32) int64 { return 5 * int64(k) }, want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(0, "XX0+YY0", "XX0+Y0", 7), ch(1, "XX1+YY1", "XX1+Y1", 7), ch(2, "XX2+YY2", "", 10), ch(3, "XX3+YY3", "", 15)},
			leftJoin:  {ch(0, "XX0+YY0", "XX0+Y0", 7), ch(1, "XX1+YY1", "XX1+Y1", 7), ch(2, "XX2+YY2", "XX2+null", 10), ch(3, "XX3+YY3", "XX3+null", 15)},
			outerJoin: {ch(0, "XX0+YY0", "XX0+Y0", 7), ch(1, "XX1+YY1", "XX1+Y1", 7), ch(2, "XX2+YY2", "XX2+null", 10), ch(3, "XX3+YY3", "XX3+null", 15)},
		}},
		{left: true, keys: keys, value: "XXX%d", ts: at(6), want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(0, "XXX0+YY0", "XX0+YY0", 6), ch(1, "XXX1+YY1", "XX1+YY1", 6), ch(2, "XXX2+YY2", "XX2+YY2", 10), ch(3, "XXX3+YY3", "XX3+YY3", 15)},
			leftJoin:  {ch(0, "XXX0+YY0", "XX0+YY0", 6), ch(1, "XXX1+YY1", "XX1+YY1", 6), ch(2, "XXX2+YY2", "XX2+YY2", 10), ch(3, "XXX3+YY3", "XX3+YY3", 15)},
			outerJoin: {ch(0, "XXX0+YY0", "XX0+YY0", 6), ch(1, "XXX1+YY1", "XX1+YY1", 6), ch(2, "XXX2+YY2", "XX2+YY2", 10), ch(3, "XXX3+YY3", "XX3+YY3", 15)},
		}},
		{keys: keys[:1], ts: at(5)}, // right 0 deleted at 5, 1 at 7: two steps, checked together below
		{keys: keys[1:2], ts: at(7), want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(0, "", "XXX0+YY0", 6), ch(1, "", "XXX1+YY1", 7)},
			leftJoin:  {ch(0, "XXX0+null", "XXX0+YY0", 6), ch(1, "XXX1+null", "XXX1+YY1", 7)},
			outerJoin: {ch(0, "XXX0+null", "XXX0+YY0", 6), ch(1, "XXX1+null", "XXX1+YY1", 7)},
		}},
		{left: true, keys: keys, value: "XXXX%d", ts: at(13), want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(2, "XXXX2+YY2", "XXX2+YY2", 13), ch(3, "XXXX3+YY3", "XXX3+YY3", 15)},
			leftJoin:  {ch(0, "XXXX0+null", "XXX0+null", 13), ch(1, "XXXX1+null", "XXX1+null", 13), ch(2, "XXXX2+YY2", "XXX2+YY2", 13), ch(3, "XXXX3+YY3", "XXX3+YY3", 15)},
			outerJoin: {ch(0, "XXXX0+null", "XXX0+null", 13), ch(1, "XXXX1+null", "XXX1+null", 13), ch(2, "XXXX2+YY2", "XXX2+YY2", 13), ch(3, "XXXX3+YY3", "XXX3+YY3", 15)},
		}},
		{left: true, keys: keys, ts: func(k int32) int64 { return []int64{0, 42, 5, 20}[k] }, want: map[joinKind][]changeAt[int32, string]{
			innerJoin: {ch(2, "", "XXXX2+YY2", 10), ch(3, "", "XXXX3+YY3", 20)},
			leftJoin:  {ch(0, "", "XXXX0+null", 0), ch(1, "", "XXXX1+null", 42), ch(2, "", "XXXX2+YY2", 10), ch(3, "", "XXXX3+YY3", 20)},
			outerJoin: {ch(0, "", "XXXX0+null", 0), ch(1, "", "XXXX1+null", 42), ch(2, "null+YY2", "XXXX2+YY2", 10), ch(3, "null+YY3", "XXXX3+YY3", 20)},
		}},
	}
	for _, kind := range []joinKind{innerJoin, leftJoin, outerJoin} {
		for _, materialized := range []bool{false, true} {
			t.Run(fmt.Sprintf("kind=%d,materialized=%v", kind, materialized), func(t *testing.T) {
				var got []changeAt[int32, string]
				sb := NewStreamsBuilder()
				c := Consumed[int32, string]{KeySerde: serde.Int32(), ValueSerde: serde.String()}
				t1, t2 := Table(sb, "topic1", c), Table(sb, "topic2", c)
				var ms []Materialized[int32, string]
				if materialized {
					ms = append(ms, Materialized[int32, string]{Name: "joined"})
				}
				capture(tableJoin(kind, t1, t2, toStringJoiner, ms), "capture", &got)
				topo, err := sb.Build()
				require.NoError(t, err)
				d, err := testdriver.New(topo, testdriver.Options{})
				require.NoError(t, err)
				defer d.Close()
				ns := serde.Nullable(serde.String())
				in1 := testdriver.CreateInputTopic(d, "topic1", serde.Int32(), ns)
				in2 := testdriver.CreateInputTopic(d, "topic2", serde.Int32(), ns)
				for i, s := range steps {
					for _, k := range s.keys {
						var v *string
						if s.value != "" {
							v = new(fmt.Sprintf(s.value, k))
						}
						in := in2
						if s.left {
							in = in1
						}
						require.NoError(t, in.Pipe(k, v, time.UnixMilli(s.ts(k))))
					}
					if s.want == nil {
						continue
					}
					require.Equal(t, s.want[kind], got, "step %d", i)
					got = nil
				}
				if materialized {
					store, err := testdriver.TimestampedKeyValueStore[int32, string](d, "joined")
					require.NoError(t, err)
					v, ok, err := store.Get(2)
					require.NoError(t, err)
					require.Equal(t, kind == outerJoin, ok, "the store holds the last result")
					if ok {
						require.Equal(t, "null+YY2", v.Value)
						require.Equal(t, int64(10), v.Timestamp.UnixMilli())
					}
				}
			})
		}
	}
}
