package kstream_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
)

func TestStatelessOperations(t *testing.T) {
	var peeked, seen []string
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		s.Filter(func(_, v string) bool { return strings.HasPrefix(v, "a") }).To("filter")
		s.FilterNot(func(_, v string) bool { return strings.HasPrefix(v, "a") }).To("filter-not")
		kstream.MapValues(s, func(v string) int64 { return int64(len(v)) }).To("lengths")
		kstream.Map(s, func(k, v string) (string, string) { return v, k }).To("swapped")
		kstream.FlatMap(s, func(k, v string) []kstream.KeyValue[string, int64] {
			var out []kstream.KeyValue[string, int64]
			for i, w := range strings.Fields(v) {
				out = append(out, kstream.KeyValue[string, int64]{Key: w, Value: int64(i)})
			}
			return out
		}).To("flat")
		kstream.SelectKey(s, func(_, v string) string { return strings.ToUpper(v) }).
			Peek(func(k, _ string) { peeked = append(peeked, k) }).To("rekeyed")
		s.Foreach(func(k, v string) { seen = append(seen, k+"="+v) })
	})
	in := input(d, "in")
	filter := testdriver.CreateOutputTopic(d, "filter", serde.String(), serde.String())
	filterNot := testdriver.CreateOutputTopic(d, "filter-not", serde.String(), serde.String())
	lengths := testdriver.CreateOutputTopic(d, "lengths", serde.String(), serde.Int64())
	swapped := testdriver.CreateOutputTopic(d, "swapped", serde.String(), serde.String())
	flat := testdriver.CreateOutputTopic(d, "flat", serde.String(), serde.Int64())
	rekeyed := testdriver.CreateOutputTopic(d, "rekeyed", serde.String(), serde.String())

	require.NoError(t, in.PipeKeyValues([]testdriver.KeyValue[string, string]{kv("k1", "apple pie"), kv("k2", "banana")}))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k1", "apple pie")}, kvs(t, filter))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("k2", "banana")}, kvs(t, filterNot))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("k1", int64(9)), kv("k2", int64(6))}, kvs(t, lengths))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("apple pie", "k1"), kv("banana", "k2")}, kvs(t, swapped))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("apple", int64(0)), kv("pie", int64(1)), kv("banana", int64(0))}, kvs(t, flat))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("APPLE PIE", "apple pie"), kv("BANANA", "banana")}, kvs(t, rekeyed))
	require.Equal(t, []string{"APPLE PIE", "BANANA"}, peeked)
	require.Equal(t, []string{"k1=apple pie", "k2=banana"}, seen)
}

func TestSplitMergeAndTopicChooser(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		branches := s.Split(kstream.Named("fruit-")).
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "a") }, "a").
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "b") }).
			DefaultBranch("other")
		require.Len(t, branches, 3)
		branches["fruit-a"].To("a")
		branches["fruit-2"].To("b")
		branches["fruit-other"].To("other")
		branches["fruit-a"].Merge(branches["fruit-2"]).To("a-or-b")
		s.ToTopicFunc(func(rec processor.Record[string, string]) (string, error) { return "by-key-" + rec.Key, nil })
	})
	in := input(d, "in")
	outs := map[string]*testdriver.OutputTopic[string, string]{}
	for _, n := range []string{"a", "b", "other", "a-or-b", "by-key-x", "by-key-y"} {
		outs[n] = testdriver.CreateOutputTopic(d, n, serde.String(), serde.String())
	}
	require.NoError(t, in.PipeKeyValues([]testdriver.KeyValue[string, string]{
		kv("x", "apple"), kv("y", "banana"), kv("x", "cherry"), kv("y", "avocado"),
	}))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("x", "apple"), kv("y", "avocado")}, kvs(t, outs["a"]))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("y", "banana")}, kvs(t, outs["b"]))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("x", "cherry")}, kvs(t, outs["other"]))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("x", "apple"), kv("y", "banana"), kv("y", "avocado")}, kvs(t, outs["a-or-b"]))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("x", "apple"), kv("x", "cherry")}, kvs(t, outs["by-key-x"]))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("y", "banana"), kv("y", "avocado")}, kvs(t, outs["by-key-y"]))
}

// A Processor API processor with a store, in the middle of a DSL chain:
// ProcessValues keeps the key, whatever the processor sets.
func TestProcessAndProcessValues(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		sb.Builder().AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("seen"), serde.String(), serde.Int64()))
		s := kstream.Stream(sb, []string{"in"}, strs)
		numbered := kstream.ProcessValues(s, func() processor.Processor[string, string, string, int64] { return &numberer{} }, []string{"seen"})
		numbered.To("numbered")
		kstream.Process(s, processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
			return ctx.Forward(rec.WithKey(rec.Value))
		}), nil).To("by-value")
	})
	in := input(d, "in")
	numbered := testdriver.CreateOutputTopic(d, "numbered", serde.String(), serde.Int64())
	byValue := testdriver.CreateOutputTopic(d, "by-value", serde.String(), serde.String())
	require.NoError(t, in.PipeKeyValues([]testdriver.KeyValue[string, string]{kv("a", "x"), kv("b", "y"), kv("a", "z")}))
	require.Equal(t, []testdriver.KeyValue[string, int64]{kv("a", int64(1)), kv("b", int64(1)), kv("a", int64(2))}, kvs(t, numbered),
		"the key is the input's, not the one the processor set")
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("x", "x"), kv("y", "y"), kv("z", "z")}, kvs(t, byValue))
}

// numberer numbers each key's records in the store "seen", and forwards
// with a key of its own, which ProcessValues replaces.
type numberer struct {
	ctx  processor.Context[string, int64]
	seen state.KeyValueStore[string, int64]
}

func (n *numberer) Init(ctx processor.Context[string, int64]) (err error) {
	n.ctx = ctx
	n.seen, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "seen")
	return err
}

func (n *numberer) Process(rec processor.Record[string, string]) error {
	c, _, err := n.seen.Get(rec.Key)
	if err != nil {
		return err
	}
	c++
	if err := n.seen.Put(rec.Key, c); err != nil {
		return err
	}
	return n.ctx.Forward(processor.Derive(rec, "not-"+rec.Key, c))
}

func (n *numberer) Close() error { return nil }

func TestRepartition(t *testing.T) {
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, strs)
	kstream.SelectKey(s, func(_, v string) string { return v }).
		Repartition(kstream.Repartitioned[string, string]{Name: "by-value", Partitions: 3}).
		To("out")
	topo, err := sb.Build()
	require.NoError(t, err)
	require.Contains(t, topo.Describe().String(), "Sink: by-value-repartition-sink (topic: by-value-repartition)")
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	defer d.Close()
	in := input(d, "in")
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
	require.NoError(t, in.PipeKeyValue("k", "v"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("v", "v")}, kvs(t, out))
}

// A function the user gave that panics fails the task with an error that
// names the operation, the function and the record; nothing crashes.
func TestPanickingFunctionIsAnError(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"in"}, strs)
		kstream.GroupBy(s, func(_, v string) string {
			if v == "bad" {
				panic("no key for bad")
			}
			return v
		}).Count().ToStream().To("out")
	})
	in := input(d, "in")
	require.NoError(t, in.PipeKeyValue("k", "good"))
	err := in.PipeKeyValue("k", "bad")
	var fe *kstream.FunctionPanicError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "KSTREAM-KEY-SELECT-0000000001", fe.Processor)
	require.Equal(t, "GroupBy's key selector", fe.Function)
	require.Equal(t, "in", fe.Record.Topic)
	require.Equal(t, int64(1), fe.Record.Offset)
	require.ErrorContains(t, err, "no key for bad")
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe, "the runtime's error names the task too")
}

// Each stateless operation names itself and its function when the
// function panics, and the record it panicked on is not forwarded.
func TestPanickingFunctionNamesItsOperation(t *testing.T) {
	boom := func(v string) { // panics on "bad"
		if v == "bad" {
			panic("boom")
		}
	}
	cases := []struct {
		op, processor, function string
		build                   func(s kstream.KStream[string, string]) kstream.KStream[string, string]
	}{
		{"Filter", "KSTREAM-FILTER-0000000001", "the predicate", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return s.Filter(func(_, v string) bool { boom(v); return true })
		}},
		{"Peek", "KSTREAM-PEEK-0000000001", "the peek action", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return s.Peek(func(_, v string) { boom(v) })
		}},
		{"Map", "KSTREAM-MAP-0000000001", "the mapper", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return kstream.Map(s, func(k, v string) (string, string) { boom(v); return k, v })
		}},
		{"MapValues", "KSTREAM-MAPVALUES-0000000001", "the value mapper", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return kstream.MapValues(s, func(v string) string { boom(v); return v })
		}},
		{"FlatMapValues", "KSTREAM-FLATMAPVALUES-0000000001", "the value mapper", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return kstream.FlatMapValues(s, func(v string) []string { boom(v); return []string{v} })
		}},
		{"SelectKey", "KSTREAM-KEY-SELECT-0000000001", "the key selector", func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
			return kstream.SelectKey(s, func(k, v string) string { boom(v); return k })
		}},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				c.build(kstream.Stream(sb, []string{"in"}, strs)).To("out")
			})
			in := input(d, "in")
			out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
			require.NoError(t, in.PipeKeyValue("k", "good"))
			err := in.PipeKeyValue("k", "bad")
			var fe *kstream.FunctionPanicError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, c.processor, fe.Processor)
			require.Equal(t, c.function, fe.Function)
			require.Equal(t, "boom", fe.Value)
			require.Equal(t, []testdriver.KeyValue[string, string]{kv("k", "good")}, kvs(t, out))
		})
	}
}

// A panic further down the stream, in a Processor API processor, is that
// processor's own: it is not reported as a panic of the DSL function
// that forwarded the record, and it is not turned into an error.
func TestPanicDownstreamIsNotBlamedOnTheOperation(t *testing.T) {
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.MapValues(kstream.Stream(sb, []string{"in"}, strs), strings.ToUpper)
		kstream.Process(s, processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error {
			panic("processor bug")
		}), nil).To("out")
	})
	in := input(d, "in")
	require.PanicsWithValue(t, "processor bug", func() { _ = in.PipeKeyValue("k", "v") })
}

// A record whose value the serde cannot read (a null for JSON) is a
// deserialization error naming topic, partition and offset, as for any
// source.
func TestNullValueTheSerdeCannotTake(t *testing.T) {
	type order struct{ ID string }
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		s := kstream.Stream(sb, []string{"orders"}, kstream.Consumed[string, order]{KeySerde: serde.String(), ValueSerde: serde.JSON[order]()})
		s.GroupByKey().Count().ToStream().To("out", kstream.Produced[string, int64]{})
	})
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.Nullable(serde.JSON[order]()))
	require.NoError(t, in.PipeKeyValue("k", &order{ID: "1"}))
	err := in.PipeKeyValue("k", nil)
	var de *processor.DeserializationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "orders", de.Topic)
	require.Equal(t, int64(1), de.Offset)
	require.Equal(t, "value", de.Part)
	require.True(t, errors.Is(err, serde.ErrMalformed))
}

func TestBuildReportsMissingSerdes(t *testing.T) {
	type point struct{ X, Y int }
	sb := kstream.NewStreamsBuilder()
	s := kstream.Stream(sb, []string{"in"}, strs)
	points := kstream.MapValues(s, func(string) point { return point{} })
	kstream.SelectKey(points, func(string, point) point { return point{} }).GroupByKey().Count()
	points.To("out")
	_, err := sb.Build()
	var be *kstream.BuildError
	require.ErrorAs(t, err, &be)
	msg := err.Error()
	require.Contains(t, msg, "KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition needs a key serde and a value serde")
	require.Contains(t, msg, "KSTREAM-AGGREGATE-STATE-STORE-0000000003 needs a key serde")
	require.Contains(t, msg, "needs a value serde: the stream's value type changed since its serde was known; give ValueSerde in its Produced")
	require.NotContains(t, msg, "needs both KeySerde and ValueSerde", "the topology's vaguer report is left out")
}
