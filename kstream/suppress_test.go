package kstream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// Each window's count comes out once, when stream time reaches the
// window's end plus grace, and nothing before.
func TestSuppressUntilWindowCloses(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		kstream.WindowedBy(s.GroupByKey(), window.Tumbling(time.Minute).WithGrace(10*time.Second)).Count().
			Suppress(kstream.UntilWindowCloses(kstream.BufferConfig{})).
			ToStream().To("finals")
	})
	in := input(d, "in")
	out := testdriver.CreateOutputTopic(d, "finals", window.TimeWindowedSerde(serde.String(), time.Minute), serde.Int64())
	require.NoError(t, in.Pipe("a", "1", t0))
	require.NoError(t, in.Pipe("a", "2", t0.Add(30*time.Second)))
	require.NoError(t, in.Pipe("b", "3", t0.Add(50*time.Second)))
	require.NoError(t, in.Pipe("a", "4", t0.Add(69*time.Second)))
	require.True(t, out.IsEmpty(), "the first window closes at 1m10s")
	require.NoError(t, in.Pipe("a", "5", t0.Add(65*time.Second))) // late for nothing: the second window
	require.NoError(t, in.Pipe("c", "6", t0.Add(70*time.Second)))
	got := kvs(t, out)
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].Key.Key)
	require.Equal(t, int64(2), got[0].Value)
	require.Equal(t, "b", got[1].Key.Key)
	require.Equal(t, int64(1), got[1].Value)
	require.NoError(t, in.Pipe("c", "7", t0.Add(130*time.Second)))
	got = kvs(t, out)
	require.Len(t, got, 2)
	require.Equal(t, []string{"a", "c"}, []string{got[0].Key.Key, got[1].Key.Key})
	require.Equal(t, []int64{2, 1}, []int64{got[0].Value, got[1].Value}, "a's second window: 69 s and 65 s; c's: 70 s")
}

// A session merged into another is never emitted: only the merged one,
// once it closes.
func TestSuppressSessionsUntilTheyClose(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		kstream.WindowedBySession(s.GroupByKey(), window.Session(10*time.Second).WithGrace(30*time.Second)).Count().
			Suppress(kstream.UntilWindowCloses(kstream.BufferConfig{})).ToStream().To("finals")
	})
	in := input(d, "in")
	out := testdriver.CreateOutputTopic(d, "finals", window.SessionWindowedSerde(serde.String()), serde.Int64())
	require.NoError(t, in.Pipe("a", "1", t0))
	require.NoError(t, in.Pipe("a", "2", t0.Add(20*time.Second)))
	require.NoError(t, in.Pipe("a", "3", t0.Add(10*time.Second))) // bridges the two
	require.NoError(t, in.Pipe("x", "4", t0.Add(60*time.Second)))
	require.True(t, out.IsEmpty(), "[0,20] is open until stream time passes 20 s + gap + grace = 60 s: %v", kvs(t, out))
	require.NoError(t, in.Pipe("x", "5", t0.Add(61*time.Second)))
	got := kvs(t, out)
	require.Len(t, got, 1, "the merged session only, not the two it replaced")
	require.Equal(t, int64(3), got[0].Value)
	require.Equal(t, t0, got[0].Key.Start)
	require.Equal(t, t0.Add(20*time.Second), got[0].Key.End)
}

// UntilTimeLimit: a key's latest value once the limit has passed since its
// first held update; a full buffer emits early or fails.
func TestSuppressUntilTimeLimit(t *testing.T) {
	build := func(buffer kstream.BufferConfig) func(sb *kstream.StreamsBuilder) {
		return func(sb *kstream.StreamsBuilder) {
			s := kstream.Stream(sb, []string{"in"}, strs)
			s.GroupByKey().Count().Suppress(kstream.UntilTimeLimit(time.Minute, buffer).WithName("hold")).ToStream().To("out")
		}
	}
	d := drive(t, build(kstream.BufferConfig{}))
	in := input(d, "in")
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	require.NoError(t, in.Pipe("a", "", t0))
	require.NoError(t, in.Pipe("a", "", t0.Add(50*time.Second)))
	require.NoError(t, in.Pipe("b", "", t0.Add(55*time.Second)))
	require.True(t, out.IsEmpty())
	require.NoError(t, in.Pipe("a", "", t0.Add(60*time.Second))) // a's first held update was at 0: out it goes
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("a", int64(3))}, kvs(t, out))
	require.NoError(t, in.Pipe("c", "", t0.Add(115*time.Second)))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("b", int64(1))}, kvs(t, out))

	early := drive(t, build(kstream.BufferConfig{MaxRecords: 1, WhenFull: kstream.EmitEarlyWhenFull}))
	in = input(early, "in")
	out = testdriver.CreateOutputTopic(early, "out", serde.String(), serde.Int64())
	require.NoError(t, in.Pipe("a", "", t0))
	require.NoError(t, in.Pipe("b", "", t0.Add(time.Second)))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("a", int64(1))}, kvs(t, out), "two keys in a buffer of one: the oldest goes early")

	strict := drive(t, build(kstream.BufferConfig{MaxRecords: 1}))
	in = input(strict, "in")
	require.NoError(t, in.Pipe("a", "", t0))
	err := in.Pipe("b", "", t0.Add(time.Second))
	require.ErrorIs(t, err, kstream.ErrBufferFull)
	require.ErrorContains(t, err, "hold holds 2 keys (at most 1)")
}

func TestSuppressBuildErrors(t *testing.T) {
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, strs)
	s.GroupByKey().Count().Suppress(kstream.UntilWindowCloses(kstream.BufferConfig{}))
	kstream.WindowedBy(s.GroupByKey(), window.Tumbling(time.Minute)).Count().
		Suppress(kstream.UntilWindowCloses(kstream.BufferConfig{MaxRecords: 10, WhenFull: kstream.EmitEarlyWhenFull}))
	_, err := sb.Build()
	require.ErrorContains(t, err, "KTABLE-SUPPRESS-0000000003: UntilWindowCloses suppresses a windowed table's updates; this table is not windowed")
	require.ErrorContains(t, err, "needs a buffer that does not emit early")
}

// EmitStrategy(EmitOnWindowClose) has the aggregation itself emit each
// window once, when it closes, in window order; Materialized.Named names
// the aggregation's processor.
func TestEmitStrategyOnWindowClose(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		kstream.WindowedBy(s.GroupByKey(), window.Tumbling(time.Minute)).EmitStrategy(window.EmitOnWindowClose).
			Count(kstream.Materialized[string, int64]{Name: "per-minute", Named: "PerMinute"}).ToStream().To("finals")
	})
	in := input(d, "in")
	out := testdriver.CreateOutputTopic(d, "finals", window.TimeWindowedSerde(serde.String(), time.Minute), serde.Int64())
	require.NoError(t, in.Pipe("b", "", t0))
	require.NoError(t, in.Pipe("a", "", t0.Add(time.Second)))
	require.NoError(t, in.Pipe("a", "", t0.Add(2*time.Second)))
	require.True(t, out.IsEmpty())
	require.NoError(t, in.Pipe("c", "", t0.Add(time.Minute)))
	got := kvs(t, out)
	require.Len(t, got, 2)
	require.Equal(t, []string{"a", "b"}, []string{got[0].Key.Key, got[1].Key.Key}, "window order: by key within a window")
	require.Equal(t, []int64{2, 1}, []int64{got[0].Value, got[1].Value})

	sb := kstream.NewStreamsBuilder()
	kstream.WindowedBy(kstream.Stream(sb, []string{"in"}, strs).GroupByKey(), window.Tumbling(time.Minute)).
		Count(kstream.Materialized[string, int64]{Named: "PerMinute"})
	topo, err := sb.Build()
	require.NoError(t, err)
	require.Contains(t, topo.Describe().String(), "Processor: PerMinute (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])",
		"the anonymous store burns one index and draws one; Named draws one too")
}
