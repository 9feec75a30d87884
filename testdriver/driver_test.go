package testdriver_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

var strs = topology.Source[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}

func source(topics ...string) topology.Source[string, string] {
	s := strs
	s.Topics = topics
	return s
}

func sink(topic string) topology.Sink[string, string] {
	return topology.Sink[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
}

func newDriver(t *testing.T, b *topology.Builder) *testdriver.Driver {
	t.Helper()
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func upper(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
	return ctx.Forward(rec.WithValue(strings.ToUpper(rec.Value)))
}

func TestPipeAndReadStateless(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	up := topology.AddProcessor(b, "upper", processor.Func(upper), src)
	topology.AddSink(b, "out", sink("out"), up)
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())

	require.True(t, out.IsEmpty())
	_, err := out.ReadValue()
	require.ErrorIs(t, err, testdriver.ErrEmptyTopic, "reading an empty topic is an error, not a zero value")
	require.ErrorContains(t, err, `"out"`)

	hdrs := []processor.Header{{Key: "h", Value: []byte("1")}}
	require.NoError(t, in.PipeRecord(processor.Record[string, string]{Key: "k1", Value: "a", Timestamp: sec(7), Headers: hdrs}))
	require.NoError(t, in.Pipe("k2", "b", sec(8)))
	require.NoError(t, in.PipeKeyValues([]testdriver.KeyValue[string, string]{{Key: "k3", Value: "c"}, {Key: "k1", Value: "d"}}))
	require.Equal(t, 4, out.QueueSize())

	rec, err := out.ReadRecord()
	require.NoError(t, err)
	require.Equal(t, "k1", rec.Key)
	require.Equal(t, "A", rec.Value)
	require.True(t, rec.Timestamp.Equal(sec(7)))
	require.Equal(t, hdrs, rec.Headers, "headers pass through")

	kv, err := out.ReadKeyValue()
	require.NoError(t, err)
	require.Equal(t, testdriver.KeyValue[string, string]{Key: "k2", Value: "B"}, kv)

	m, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k3": "C", "k1": "D"}, m)
	require.True(t, out.IsEmpty())
	vals, err := out.ReadValues()
	require.NoError(t, err)
	require.Empty(t, vals)
}

func TestAutoAdvancingTimestamps(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSink(b, "out", sink("out"), topology.AddSource(b, "src", source("in")))
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String(),
		testdriver.WithStartTime(sec(100)), testdriver.WithAutoAdvance(time.Second))
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())

	require.NoError(t, in.PipeValues([]string{"a", "b"}))
	in.AdvanceTime(time.Minute)
	require.NoError(t, in.PipeKeyValue("k", "c"))
	require.NoError(t, in.Pipe("k", "explicit", sec(5))) // does not move the topic's time
	require.NoError(t, in.PipeValue("d"))
	recs, err := out.ReadRecords()
	require.NoError(t, err)
	var got []int64
	for _, r := range recs {
		got = append(got, r.Timestamp.Unix())
	}
	require.Equal(t, []int64{100, 101, 162, 5, 163}, got)
	require.Equal(t, "", recs[0].Key, "PipeValue sends a null key")
}

func TestProcessorErrorNamesTaskProcessorAndRecord(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	up := topology.AddProcessor(b, "upper", processor.Func(upper), src)
	topology.AddProcessor(b, "fails", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		if rec.Value == "BAD" {
			return boom
		}
		return nil
	}), up)
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, in.Pipe("k", "ok", sec(1)))
	require.NoError(t, in.Pipe("k", "ok", sec(2)))
	err := in.Pipe("k", "bad", sec(3))
	require.ErrorIs(t, err, boom, "the processor's error propagates through Forward")
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "fails", pe.Processor, "the processor that failed, not its parent")
	require.Equal(t, processor.TaskID{Subtopology: 0, Partition: 0}, pe.TaskID)
	require.Equal(t, processor.RecordMetadata{Topic: "in", Partition: 0, Offset: 2}, pe.Record)
	require.EqualError(t, err, `task 0_0: processor "fails": record in-0@2: boom`)
	require.NoError(t, in.Pipe("k", "ok", sec(4)), "the driver goes on after an error")
}

func TestForwardTo(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	route := topology.AddProcessor(b, "route", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.ForwardTo(rec.Key, rec)
	}), src)
	topology.AddSink(b, "a", sink("topic-a"), route)
	topology.AddSink(b, "b", sink("topic-b"), route)
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	outA := testdriver.CreateOutputTopic(d, "topic-a", serde.String(), serde.String())
	outB := testdriver.CreateOutputTopic(d, "topic-b", serde.String(), serde.String())
	require.NoError(t, in.Pipe("a", "1", sec(1)))
	require.NoError(t, in.Pipe("b", "2", sec(1)))
	require.NoError(t, in.Pipe("a", "3", sec(1)))
	va, err := outA.ReadValues()
	require.NoError(t, err)
	vb, err := outB.ReadValues()
	require.NoError(t, err)
	require.Equal(t, []string{"1", "3"}, va)
	require.Equal(t, []string{"2"}, vb)

	err = in.Pipe("c", "4", sec(1))
	require.ErrorContains(t, err, `ForwardTo("c"): no such child; its children are ["a" "b"]`)
}

func TestDeserializationErrorNamesRecordAndSerde(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "numbers", topology.Source[int64, string]{Topics: []string{"in"}, KeySerde: serde.Int64(), ValueSerde: serde.String()})
	topology.AddSink(b, "out", topology.Sink[int64, string]{Topic: "out", KeySerde: serde.Int64(), ValueSerde: serde.String()}, src)
	d := newDriver(t, b)
	raw := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, raw.Pipe(string(mustSer(t, serde.Int64(), 42)), "fine", sec(1)))
	err := raw.Pipe("abc", "v", sec(2))
	var de *processor.DeserializationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "in", de.Topic)
	require.Equal(t, int32(0), de.Partition)
	require.Equal(t, int64(1), de.Offset)
	require.Equal(t, "key", de.Part)
	require.Equal(t, "int64", de.Serde)
	require.ErrorIs(t, err, serde.ErrMalformed)
	require.ErrorContains(t, err, `source "numbers": record in-0@1: deserializing the key with serde int64`)

	out := testdriver.CreateOutputTopic(d, "out", serde.Int64(), serde.String())
	kv, err := out.ReadKeyValue()
	require.NoError(t, err)
	require.Equal(t, int64(42), kv.Key)
	require.True(t, out.IsEmpty(), "the bad record produced nothing")
}

func mustSer[T any](t *testing.T, s serde.Serde[T], v T) []byte {
	t.Helper()
	b, err := s.Serialize(v)
	require.NoError(t, err)
	return b
}

func TestOutputDecodeError(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSink(b, "out", sink("out"), topology.AddSource(b, "src", source("in")))
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, in.Pipe("k", "not a number", sec(1)))
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	_, err := out.ReadValue()
	require.ErrorIs(t, err, serde.ErrMalformed)
	require.ErrorContains(t, err, `output topic "out" offset 0: deserializing the value with int64`)
}

func TestPipeToUnknownTopic(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSink(b, "out", sink("out"), topology.AddSource(b, "src", source("in")))
	d := newDriver(t, b)
	err := testdriver.CreateInputTopic(d, "nope", serde.String(), serde.String()).PipeValue("x")
	require.EqualError(t, err, `testdriver: no source of the topology reads topic "nope"`)
}

func TestRepartitionAndThroughTopicsAreFedBack(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	rekey := topology.AddProcessor(b, "rekey", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithKey(rec.Value))
	}), src)
	re := topology.AddRepartition(b, "byvalue", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, rekey)
	topology.AddSink(b, "to-through", sink("through"), re)
	back := topology.AddSource(b, "from-through", source("through"))
	topology.AddSink(b, "out", sink("out"), topology.AddProcessor(b, "upper", processor.Func(upper), back))
	d := newDriver(t, b)

	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	rep := testdriver.CreateOutputTopic(d, "test-app-byvalue-repartition", serde.String(), serde.String())
	through := testdriver.CreateOutputTopic(d, "through", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
	require.NoError(t, in.Pipe("k", "x", sec(1)))

	for _, o := range []*testdriver.OutputTopic[string, string]{rep, through} {
		kv, err := o.ReadKeyValue()
		require.NoError(t, err)
		require.Equal(t, testdriver.KeyValue[string, string]{Key: "x", Value: "x"}, kv)
	}
	kv, err := out.ReadKeyValue()
	require.NoError(t, err)
	require.Equal(t, testdriver.KeyValue[string, string]{Key: "x", Value: "X"}, kv, "the record went through both feedback topics before Pipe returned")
}

func TestPatternSourceAndTopicChooser(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Pattern: regexp.MustCompile(`orders-.*`), KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddSink(b, "out", topology.Sink[string, string]{
		TopicChooser: func(rec processor.Record[string, string]) (string, error) { return "copy-of-" + rec.Key, nil },
		KeySerde:     serde.String(), ValueSerde: serde.String(),
	}, src)
	d := newDriver(t, b)
	require.NoError(t, testdriver.CreateInputTopic(d, "orders-eu", serde.String(), serde.String()).Pipe("eu", "1", sec(1)))
	require.NoError(t, testdriver.CreateInputTopic(d, "orders-us", serde.String(), serde.String()).Pipe("us", "2", sec(1)))
	require.Error(t, testdriver.CreateInputTopic(d, "xorders-us", serde.String(), serde.String()).PipeValue("3"),
		"a pattern matches whole topic names")
	for k, v := range map[string]string{"eu": "1", "us": "2"} {
		got, err := testdriver.CreateOutputTopic(d, "copy-of-"+k, serde.String(), serde.String()).ReadValue()
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
}

// The processor forwards, as the value, where each record came from and the
// stream time while it was processed.
func TestRecordMetadataDuringProcess(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("a", "b"))
	md := topology.AddProcessor(b, "md", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		m, ok := ctx.RecordMetadata()
		require.True(t, ok)
		return ctx.Forward(rec.WithValue(m.Topic + "/" + itoa(int(m.Partition)) + "/" + itoa(int(m.Offset)) + "@" + itoa(int(ctx.StreamTime().Unix()))))
	}), src)
	topology.AddSink(b, "out", sink("out"), md)
	d := newDriver(t, b)
	a := testdriver.CreateInputTopic(d, "a", serde.String(), serde.String())
	bb := testdriver.CreateInputTopic(d, "b", serde.String(), serde.String())
	require.NoError(t, a.Pipe("k", "", sec(3)))
	require.NoError(t, a.Pipe("k", "", sec(1)))
	require.NoError(t, bb.Pipe("k", "", sec(9)))
	vals, err := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadValues()
	require.NoError(t, err)
	require.Equal(t, []string{"a/0/0@3", "a/0/1@3", "b/0/0@9"}, vals)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestStoresThroughTheDriver(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	topology.AddProcessor(b, "last", func() processor.Processor[string, string, string, string] {
		return &lastValue{}
	}, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("last"), serde.String(), serde.String()), "last")
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("other"), serde.String(), serde.Int64()), "last")
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, in.Pipe("a", "1", sec(1)))
	require.NoError(t, in.Pipe("b", "2", sec(2)))
	require.NoError(t, in.Pipe("a", "3", sec(3)))

	st, err := testdriver.KeyValueStore[string, string](d, "last")
	require.NoError(t, err)
	v, ok, err := st.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "3", v)
	var keys []string
	for kv, err := range st.All() {
		require.NoError(t, err)
		keys = append(keys, kv.Key)
	}
	require.Equal(t, []string{"a", "b"}, keys)

	_, err = testdriver.KeyValueStore[string, int64](d, "last")
	require.ErrorContains(t, err, `store "last" is a`)
	require.ErrorContains(t, err, `which is not a state.KeyValueStore[string,int64]`)
	_, err = testdriver.KeyValueStore[string, string](d, "missing")
	require.ErrorIs(t, err, processor.ErrUnknownStore)
}

type lastValue struct {
	st state.KeyValueStore[string, string]
}

func (p *lastValue) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, "last")
	return err
}
func (p *lastValue) Process(rec processor.Record[string, string]) error {
	return p.st.Put(rec.Key, rec.Value)
}
func (p *lastValue) Close() error { return nil }

func TestStoreAccessIsLimitedToConnectedProcessors(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	asks := func(name string) processor.Supplier[string, string, string, string] {
		return func() processor.Processor[string, string, string, string] {
			return &initFunc{init: func(ctx processor.Context[string, string]) error {
				_, err := ctx.StateStore(name)
				return err
			}}
		}
	}
	topology.AddProcessor(b, "owner", asks("s"), src)
	topology.AddProcessor(b, "stranger", asks("s"), src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("s"), serde.String(), serde.String()), "owner")
	topo, err := b.Build()
	require.NoError(t, err)
	_, err = testdriver.New(topo, testdriver.Options{})
	require.ErrorIs(t, err, processor.ErrStoreNotConnected)
	require.ErrorContains(t, err, `processor "stranger" asked for store "s"; connect them with AddStateStore or ConnectProcessorAndStateStores`)

	b = topology.NewBuilder()
	topology.AddProcessor(b, "p", asks("nope"), topology.AddSource(b, "src", source("in")))
	topo, err = b.Build()
	require.NoError(t, err)
	_, err = testdriver.New(topo, testdriver.Options{})
	require.ErrorIs(t, err, processor.ErrUnknownStore)
}

func TestStateDirAndClose(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	var dir string
	src := topology.AddSource(b, "src", source("in"))
	topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] {
		return &initFunc{init: func(ctx processor.Context[string, string]) error {
			dir = ctx.StateDir()
			require.Equal(t, "my-app", ctx.ApplicationID())
			require.Equal(t, "0_0", ctx.TaskID().String())
			return nil
		}}
	}, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("s"), serde.String(), serde.String()), "p")
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "my-app"})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(d.StateDir(), "my-app", "0_0"), dir)
	require.DirExists(t, dir)
	st, err := testdriver.KeyValueStore[string, string](d, "s")
	require.NoError(t, err)

	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "Close is idempotent")
	_, err = os.Stat(d.StateDir())
	require.True(t, os.IsNotExist(err), "the driver removes the state directory it made")
	require.ErrorIs(t, testdriver.CreateInputTopic(d, "in", serde.String(), serde.String()).PipeValue("x"), testdriver.ErrClosed)
	require.ErrorIs(t, d.AdvanceWallClock(time.Second), testdriver.ErrClosed)
	require.ErrorIs(t, st.Put("k", "v"), state.ErrStoreClosed, "Close closes the stores")
}

// A task with two input partitions processes the buffered record with the
// smaller timestamp first, whatever order the records arrived in. The
// upstream task writes to topic "late" (ts 50) before "early" (ts 20); both
// reach the downstream task before it runs.
func TestTaskProcessesSmallerTimestampFirst(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	fan := topology.AddProcessor(b, "fan", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		if err := ctx.ForwardTo("to-late", rec.WithValue("late").WithTimestamp(sec(50))); err != nil {
			return err
		}
		return ctx.ForwardTo("to-early", rec.WithValue("early").WithTimestamp(sec(20)))
	}), src)
	topology.AddSink(b, "to-late", sink("late"), fan)
	topology.AddSink(b, "to-early", sink("early"), fan)
	both := topology.AddSource(b, "both", source("late", "early"))
	topology.AddSink(b, "out", sink("out"), both)
	d := newDriver(t, b)
	require.NoError(t, testdriver.CreateInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "v", sec(1)))
	vals, err := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadValues()
	require.NoError(t, err)
	require.Equal(t, []string{"early", "late"}, vals)
}

// A user serde that panics on bad bytes is reported as a deserialization
// error of that record; the driver (and the app) survive it.
func TestPanickingSerdeIsADeserializationError(t *testing.T) {
	t.Parallel()
	touchy := serde.New("touchy", func(s string) ([]byte, error) { return []byte(s), nil }, func(b []byte) (string, error) {
		if string(b) == "boom" {
			panic("cannot handle boom")
		}
		return string(b), nil
	})
	b := topology.NewBuilder()
	topology.AddSink(b, "out", sink("out"), topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: touchy}))
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	err := in.Pipe("k", "boom", sec(1))
	require.ErrorIs(t, err, processor.ErrPanicked)
	require.ErrorContains(t, err, `source "src": record in-0@0: deserializing the value with serde touchy: panicked: cannot handle boom`)
	require.NoError(t, in.Pipe("k", "fine", sec(2)))
	v, err := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadValue()
	require.NoError(t, err)
	require.Equal(t, "fine", v)
}

func TestPunctuatorErrorNamesProcessorAndTime(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	topology.AddProcessor(b, "ticks", func() processor.Processor[string, string, string, string] {
		return &initFunc{init: func(ctx processor.Context[string, string]) error {
			_, err := ctx.Schedule(10*time.Second, processor.StreamTime, processor.PunctuatorFunc(func(time.Time) error { return boom }))
			return err
		}}
	}, src)
	d := newDriver(t, b)
	err := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "v", sec(12))
	require.ErrorIs(t, err, boom)
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Punctuation)
	require.Equal(t, "ticks", pe.Processor)
	require.Equal(t, processor.NoRecord, pe.Record)
	require.True(t, pe.PunctuationTime.Equal(sec(12)))
}

func TestSinkSerializationErrorNamesSink(t *testing.T) {
	t.Parallel()
	picky := serde.New("picky", func(s string) ([]byte, error) {
		if s == "" {
			return nil, errors.New("empty values are not allowed")
		}
		return []byte(s), nil
	}, func(b []byte) (string, error) { return string(b), nil })
	b := topology.NewBuilder()
	topology.AddSink(b, "strict-out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: picky},
		topology.AddSource(b, "src", source("in")))
	d := newDriver(t, b)
	err := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "", sec(1))
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "strict-out", pe.Processor)
	require.ErrorContains(t, err, `serializing the value for topic "out": serde picky: serialize: empty values are not allowed`)
}

// A timestamp extractor gives records their event time: here, from the
// value. Stream time, and so punctuation, follow it, not the record's own
// timestamp.
func TestTimestampExtractorDrivesStreamTime(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, int64]{
		Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64(),
		TimestampExtractor: func(rec processor.Record[string, int64], partitionTime time.Time) (time.Time, error) {
			if rec.Value < 0 {
				return time.Time{}, errors.New("negative event time")
			}
			return time.Unix(rec.Value, 0), nil
		},
	})
	var seen []int64
	topology.AddProcessor(b, "p", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, int64]) error {
		seen = append(seen, rec.Timestamp.Unix(), ctx.StreamTime().Unix())
		return nil
	}), src)
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	require.NoError(t, in.Pipe("k", 500, sec(1)))
	require.NoError(t, in.Pipe("k", 300, sec(999)))
	require.Equal(t, []int64{500, 500, 300, 500}, seen, "record time and stream time come from the value")

	err := in.Pipe("k", -1, sec(2))
	var de *processor.DeserializationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "timestamp", de.Part)
	require.ErrorContains(t, err, `source "src": record in-0@2: extracting the timestamp: negative event time`)
}

// Kafka timestamps are milliseconds since the epoch: one before it is
// invalid, as in Kafka Streams, and is reported like a deserialization
// error rather than silently corrupting stream time.
func TestInvalidTimestampIsReported(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSink(b, "out", sink("out"), topology.AddSource(b, "src", source("in")))
	d := newDriver(t, b)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	err := in.Pipe("k", "v", time.Unix(-5, 0))
	require.ErrorIs(t, err, processor.ErrInvalidTimestamp)
	var de *processor.DeserializationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "timestamp", de.Part)
	require.ErrorContains(t, err, "1969-12-31T23:59:55Z is outside 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z")
	require.Error(t, in.Pipe("k", "v", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.NoError(t, in.Pipe("k", "v", time.Unix(0, 0)), "the epoch itself is valid")
}

// A logged store writes every change to "<app>-<store>-changelog", stamped
// with the time of the record that caused it; a delete is a tombstone. A
// test can read the changelog like any output topic.
func TestStoreChangesGoToTheChangelog(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	topology.AddProcessor(b, "last", func() processor.Processor[string, string, string, string] { return &lastOrDelete{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("last"), serde.String(), serde.String()), "last")
	d := newDriver(t, b)
	log := testdriver.CreateOutputTopic(d, "test-app-last-changelog", serde.String(), serde.Nullable(serde.String()))
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, in.Pipe("a", "1", sec(1)))
	require.NoError(t, in.Pipe("b", "2", sec(2)))
	require.NoError(t, in.Pipe("a", "delete", sec(3)))
	recs, err := log.ReadRecords()
	require.NoError(t, err)
	var got []string
	for _, r := range recs {
		v := "<tombstone>"
		if r.Value != nil {
			v = *r.Value
		}
		got = append(got, fmt.Sprintf("%s=%s@%d", r.Key, v, r.Timestamp.Unix()))
	}
	require.Equal(t, []string{"a=1@1", "b=2@2", "a=<tombstone>@3"}, got)
}

type lastOrDelete struct {
	st state.KeyValueStore[string, string]
}

func (p *lastOrDelete) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, "last")
	return err
}
func (p *lastOrDelete) Process(rec processor.Record[string, string]) error {
	if rec.Value == "delete" {
		_, _, err := p.st.Delete(rec.Key)
		return err
	}
	return p.st.Put(rec.Key, rec.Value)
}
func (p *lastOrDelete) Close() error { return nil }
