package kstream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// The cases of Kafka Streams' KStreamKTableJoinTest and
// KStreamKTableLeftJoinTest, with their inputs and expected outputs: int
// keys 0-3, the stream's values "X<key>", the table's "Y<key>", joined as
// "X0+Y0"; each stream record i at timestamp i ms.

// kvt is a key, a value and a timestamp in ms, as Kafka's
// KeyValueTimestamp.
type kvt struct {
	k  int32
	v  string
	ts int64
}

type joinCase struct {
	t      *testing.T
	stream *testdriver.InputTopic[int32, string]
	table  *testdriver.InputTopic[int32, *string]
	out    *testdriver.OutputTopic[int32, string]
}

// newJoinCase builds stream "streamTopic" joined (or left joined) to the
// table of "tableTopic", with m for the table and j for the join.
func newJoinCase(t *testing.T, left bool, m kstream.Materialized[int32, string], j ...kstream.Joined[int32, string, string]) *joinCase {
	t.Helper()
	joiner := func(_ int32, v, row string) string { return v + "+" + row }
	leftJoiner := func(_ int32, v string, row *string, found bool) string {
		if !found {
			return v + "+null"
		}
		return v + "+" + *row
	}
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"streamTopic"}, ints)
		if left {
			mp := kstream.Materialized[int32, *string]{Name: m.Name, Versioned: m.Versioned, HistoryRetention: m.HistoryRetention}
			tbl := kstream.Table(sb, "tableTopic", kstream.Consumed[int32, *string]{KeySerde: serde.Int32(), ValueSerde: serde.Nullable(serde.String())}, mp)
			var jp []kstream.Joined[int32, string, *string]
			for _, x := range j {
				jp = append(jp, kstream.Joined[int32, string, *string]{Name: x.Name, GracePeriod: x.GracePeriod})
			}
			kstream.LeftJoinTable(s, tbl, leftJoiner, jp...).To("out", kstream.Produced[int32, string]{ValueSerde: serde.String()})
			return
		}
		tbl := kstream.Table(sb, "tableTopic", ints, m)
		kstream.JoinTable(s, tbl, joiner, j...).To("out", kstream.Produced[int32, string]{ValueSerde: serde.String()})
	})
	return &joinCase{
		t:      t,
		stream: testdriver.CreateInputTopic(d, "streamTopic", serde.Int32(), serde.String()),
		table:  testdriver.CreateInputTopic(d, "tableTopic", serde.Int32(), serde.Nullable(serde.String())),
		out:    testdriver.CreateOutputTopic(d, "out", serde.Int32(), serde.String()),
	}
}

func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// pushToStream pipes keys 0..n-1 with values prefix+key at i ms.
func (c *joinCase) pushToStream(n int, prefix string) {
	c.t.Helper()
	for i := range n {
		require.NoError(c.t, c.stream.Pipe(int32(i), fmt.Sprint(prefix, i), at(int64(i))))
	}
}

// pushToTable pipes keys 0..n-1 with values prefix+key at ts(i).
func (c *joinCase) pushToTable(n int, prefix string, ts func(i int) int64) {
	c.t.Helper()
	for i := range n {
		v := fmt.Sprint(prefix, i)
		require.NoError(c.t, c.table.Pipe(int32(i), &v, at(ts(i))))
	}
}

func (c *joinCase) pushNullsToTable(n int) {
	c.t.Helper()
	for i := range n {
		require.NoError(c.t, c.table.Pipe(int32(i), nil, at(0)))
	}
}

func (c *joinCase) expect(want ...kvt) {
	c.t.Helper()
	var got []kvt
	if !c.out.IsEmpty() {
		recs, err := c.out.ReadRecords()
		require.NoError(c.t, err)
		for _, r := range recs {
			got = append(got, kvt{r.Key, r.Value, r.Timestamp.UnixMilli()})
		}
	}
	require.Equal(c.t, want, got)
}

// Kafka's tests pipe table records at random timestamps; a plain table
// ignores them.
func randomTime(i int) int64 { return int64(1000*i + 17) }
func timeZero(int) int64     { return 0 }

func TestStreamTableJoin(t *testing.T) {
	t.Run("shouldNotJoinWithEmptyTableOnStreamUpdates", func(t *testing.T) {
		c := newJoinCase(t, false, kstream.Materialized[int32, string]{})
		c.pushToStream(2, "X")
		c.expect()
	})
	t.Run("shouldNotJoinOnTableUpdates", func(t *testing.T) {
		c := newJoinCase(t, false, kstream.Materialized[int32, string]{})
		c.pushToStream(2, "X")
		c.expect()
		c.pushToTable(2, "Y", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1})
		c.pushToTable(4, "YY", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+YY0", 0}, kvt{1, "X1+YY1", 1}, kvt{2, "X2+YY2", 2}, kvt{3, "X3+YY3", 3})
		c.pushToTable(4, "YYY", randomTime)
		c.expect()
	})
	t.Run("shouldJoinOnlyIfMatchFoundOnStreamUpdates", func(t *testing.T) {
		c := newJoinCase(t, false, kstream.Materialized[int32, string]{})
		c.pushToTable(2, "Y", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1})
	})
	t.Run("shouldClearTableEntryOnNullValueUpdates", func(t *testing.T) {
		c := newJoinCase(t, false, kstream.Materialized[int32, string]{})
		c.pushToTable(4, "Y", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1}, kvt{2, "X2+Y2", 2}, kvt{3, "X3+Y3", 3})
		c.pushNullsToTable(2)
		c.expect()
		c.pushToStream(4, "XX")
		c.expect(kvt{2, "XX2+Y2", 2}, kvt{3, "XX3+Y3", 3})
	})
	// KStreamKTableJoinTest's makeJoin: a versioned table (history 5
	// minutes) and a grace period of 2 ms.
	grace := func(t *testing.T) *joinCase {
		return newJoinCase(t, false, kstream.Materialized[int32, string]{Name: "V-grace", Versioned: true, HistoryRetention: 5 * time.Minute},
			kstream.Joined[int32, string, string]{Name: "Grace", GracePeriod: 2 * time.Millisecond})
	}
	t.Run("shouldDelayJoinByGracePeriod", func(t *testing.T) {
		c := grace(t)
		c.pushToTable(4, "Y", timeZero)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1})
		c.pushToTable(4, "YY", timeZero)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+YY0", 0}, kvt{1, "X1+YY1", 1})
		require.NoError(t, c.stream.Pipe(5, "test", at(7)))
		c.expect(kvt{2, "X2+YY2", 2}, kvt{2, "X2+YY2", 2}, kvt{3, "X3+YY3", 3}, kvt{3, "X3+YY3", 3})
		c.pushToTable(4, "YYY", timeZero)
		c.expect()
	})
	t.Run("shouldHandleLateJoinsWithGracePeriod", func(t *testing.T) {
		c := grace(t)
		c.pushToTable(4, "Y", timeZero)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1})
		c.pushToStream(1, "X") // late: joined at once, evicts nothing
		c.expect(kvt{0, "X0+Y0", 0})
	})
}

func TestStreamTableLeftJoin(t *testing.T) {
	t.Run("shouldJoinWithEmptyTableOnStreamUpdates", func(t *testing.T) {
		c := newJoinCase(t, true, kstream.Materialized[int32, string]{})
		c.pushToStream(2, "X")
		c.expect(kvt{0, "X0+null", 0}, kvt{1, "X1+null", 1})
	})
	t.Run("shouldNotJoinOnTableUpdates", func(t *testing.T) {
		c := newJoinCase(t, true, kstream.Materialized[int32, string]{})
		c.pushToStream(2, "X")
		c.expect(kvt{0, "X0+null", 0}, kvt{1, "X1+null", 1})
		c.pushToTable(2, "Y", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1}, kvt{2, "X2+null", 2}, kvt{3, "X3+null", 3})
		c.pushToTable(4, "YY", randomTime)
		c.expect()
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+YY0", 0}, kvt{1, "X1+YY1", 1}, kvt{2, "X2+YY2", 2}, kvt{3, "X3+YY3", 3})
	})
	t.Run("shouldClearTableEntryOnNullValueUpdates", func(t *testing.T) {
		c := newJoinCase(t, true, kstream.Materialized[int32, string]{})
		c.pushToTable(4, "Y", randomTime)
		c.pushToStream(4, "X")
		c.expect(kvt{0, "X0+Y0", 0}, kvt{1, "X1+Y1", 1}, kvt{2, "X2+Y2", 2}, kvt{3, "X3+Y3", 3})
		c.pushNullsToTable(2)
		c.expect()
		c.pushToStream(4, "XX")
		c.expect(kvt{0, "XX0+null", 0}, kvt{1, "XX1+null", 1}, kvt{2, "XX2+Y2", 2}, kvt{3, "XX3+Y3", 3})
	})
}

// Against a versioned table each stream record meets the row as it was
// at the record's time, whatever order the table's updates came in; a
// plain table gives the row as it is now.
func TestStreamJoinsVersionedTableAsOfRecordTime(t *testing.T) {
	for _, versioned := range []bool{true, false} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			c := newJoinCase(t, true, kstream.Materialized[int32, string]{Name: "rows", Versioned: versioned, HistoryRetention: time.Hour})
			v := func(s string) *string { return &s }
			require.NoError(t, c.table.Pipe(1, v("a@10"), at(10)))
			require.NoError(t, c.table.Pipe(1, v("c@30"), at(30)))
			require.NoError(t, c.table.Pipe(1, v("b@20"), at(20))) // out of order
			require.NoError(t, c.table.Pipe(1, nil, at(40)))       // deleted at 40
			for _, ts := range []int64{5, 10, 25, 35, 45} {
				require.NoError(t, c.stream.Pipe(1, fmt.Sprint("s@", ts), at(ts)))
			}
			if versioned {
				c.expect(kvt{1, "s@5+null", 5}, kvt{1, "s@10+a@10", 10}, kvt{1, "s@25+b@20", 25}, kvt{1, "s@35+c@30", 35}, kvt{1, "s@45+null", 45})
			} else {
				// The out-of-order b@20 replaced c@30; the deletion removed it.
				c.expect(kvt{1, "s@5+null", 5}, kvt{1, "s@10+null", 10}, kvt{1, "s@25+null", 25}, kvt{1, "s@35+null", 35}, kvt{1, "s@45+null", 45})
			}
		})
	}
}

// A versioned table forwards only updates that become a row's latest
// version: an out-of-order update joins the history silently.
func TestVersionedTableForwardsLatestOnly(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		kstream.Table(sb, "tableTopic", kstream.Consumed[int32, *string]{KeySerde: serde.Int32(), ValueSerde: serde.Nullable(serde.String())},
			kstream.Materialized[int32, *string]{Name: "rows", Versioned: true, HistoryRetention: 15 * time.Millisecond}).
			ToStream().To("changes")
	})
	in := testdriver.CreateInputTopic(d, "tableTopic", serde.Int32(), serde.Nullable(serde.String()))
	out := testdriver.CreateOutputTopic(d, "changes", serde.Int32(), serde.Nullable(serde.String()))
	v := func(s string) *string { return &s }
	require.NoError(t, in.Pipe(1, v("a"), at(10)))
	require.NoError(t, in.Pipe(1, v("c"), at(30)))
	require.NoError(t, in.Pipe(1, v("b"), at(20))) // older than c: history only
	require.NoError(t, in.Pipe(1, nil, at(25)))    // a deletion older than c: history only
	require.NoError(t, in.Pipe(1, v("x"), at(5)))  // older than the history: dropped
	require.NoError(t, in.Pipe(2, nil, at(31)))    // deleting nothing: nothing
	require.NoError(t, in.Pipe(1, nil, at(35)))    // the latest: a deletion downstream
	require.NoError(t, in.Pipe(1, v("d"), at(33))) // older than the deletion: history only
	require.NoError(t, in.Pipe(3, v("p"), at(40)))
	require.NoError(t, in.Pipe(3, nil, at(40))) // the same time replaces the latest: a deletion downstream
	require.NoError(t, in.Pipe(3, nil, at(38))) // deleted already: nothing
	got := kvs(t, out)
	require.Equal(t, []testdriver.KeyValue[int32, *string]{kv(int32(1), v("a")), kv(int32(1), v("c")), kv[int32, *string](1, nil),
		kv(int32(3), v("p")), kv[int32, *string](3, nil)}, got)
	require.Equal(t, int64(1), d.DroppedRecords(), "the update older than the history")
}

// Grace periods need a versioned table, with a history at least as long.
func TestStreamTableJoinBuildErrors(t *testing.T) {
	build := func(m kstream.Materialized[string, string], j kstream.Joined[string, string, string]) error {
		sb := kstream.NewStreamsBuilder()
		s := kstream.Stream(sb, []string{"s"}, strs)
		kstream.JoinTable(s, kstream.Table(sb, "t", strs, m), func(_, a, b string) string { return a + b }, j).To("out", kstream.Produced[string, string]{ValueSerde: serde.String()})
		_, err := sb.Build()
		return err
	}
	err := build(kstream.Materialized[string, string]{}, kstream.Joined[string, string, string]{GracePeriod: time.Second})
	require.ErrorContains(t, err, "KSTREAM-JOIN-0000000004: a grace period needs a versioned table")
	err = build(kstream.Materialized[string, string]{Versioned: true, HistoryRetention: time.Second}, kstream.Joined[string, string, string]{Name: "j", GracePeriod: time.Minute})
	require.ErrorContains(t, err, "j: the grace period (1m0s) is longer than the table's history retention (1s)")
	err = build(kstream.Materialized[string, string]{}, kstream.Joined[string, string, string]{GracePeriod: -time.Second})
	require.ErrorContains(t, err, "negative")
	require.NoError(t, build(kstream.Materialized[string, string]{Versioned: true, HistoryRetention: time.Minute}, kstream.Joined[string, string, string]{GracePeriod: time.Second}))
}

// A joiner that panics fails the task with an error that names the join
// and the record; a record with a nil key or value is dropped and
// counted by the inner join.
func TestStreamTableJoinUnhappyPaths(t *testing.T) {
	nullable := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"s"}, kstream.Consumed[*string, *string]{KeySerde: nullable, ValueSerde: nullable})
		tbl := kstream.Table(sb, "t", kstream.Consumed[*string, string]{KeySerde: nullable, ValueSerde: serde.String()})
		kstream.JoinTable(s, tbl, func(_ *string, v *string, row string) string {
			if *v == "boom" {
				panic("joiner bug")
			}
			return *v + "+" + row
		}).To("out", kstream.Produced[*string, string]{ValueSerde: serde.String()})
	})
	s := testdriver.CreateInputTopic(d, "s", nullable, nullable)
	tb := testdriver.CreateInputTopic(d, "t", nullable, serde.String())
	out := testdriver.CreateOutputTopic(d, "out", nullable, serde.String())
	p := func(x string) *string { return &x }
	require.NoError(t, tb.PipeKeyValue(p("k"), "row"))
	require.NoError(t, s.PipeKeyValue(nil, p("v")))
	require.NoError(t, s.PipeKeyValue(p("k"), nil))
	require.Equal(t, int64(2), d.DroppedRecords())
	require.NoError(t, s.PipeKeyValue(p("k"), p("v")))
	got := kvs(t, out)
	require.Len(t, got, 1)
	require.Equal(t, "v+row", got[0].Value)
	err := s.PipeKeyValue(p("k"), p("boom"))
	var fe *kstream.FunctionPanicError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "KSTREAM-JOIN-0000000004", fe.Processor)
	require.Equal(t, "the joiner", fe.Function)
	require.Equal(t, "s", fe.Record.Topic)
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
}

// A left join of a stream with a nil key joins it to no row (Kafka
// Streams 3.7, KIP-962) instead of dropping it.
func TestStreamTableLeftJoinNilKey(t *testing.T) {
	nullable := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"s"}, kstream.Consumed[*string, string]{KeySerde: nullable, ValueSerde: serde.String()})
		tbl := kstream.Table(sb, "t", kstream.Consumed[*string, string]{KeySerde: nullable, ValueSerde: serde.String()})
		kstream.LeftJoinTable(s, tbl, func(_ *string, v string, row string, found bool) string { return fmt.Sprint(v, "+", row, found) }).
			To("out", kstream.Produced[*string, string]{ValueSerde: serde.String()})
	})
	s := testdriver.CreateInputTopic(d, "s", nullable, serde.String())
	out := testdriver.CreateOutputTopic(d, "out", nullable, serde.String())
	require.NoError(t, s.PipeKeyValue(nil, "v"))
	require.Equal(t, []testdriver.KeyValue[*string, string]{kv[*string](nil, "v+false")}, kvs(t, out))
	require.Zero(t, d.DroppedRecords())
}
