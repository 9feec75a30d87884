package processor_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// A stateless processor is a function.
func ExampleFunc() {
	shout := processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue(strings.ToUpper(rec.Value) + "!"))
	})

	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"words"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "shouts", KeySerde: serde.String(), ValueSerde: serde.String()},
		topology.AddProcessor(b, "shout", shout, in))
	topo, _ := b.Build()

	d, _ := testdriver.New(topo, testdriver.Options{})
	defer d.Close()
	_ = testdriver.CreateInputTopic(d, "words", serde.String(), serde.String()).PipeValue("hello")
	v, _ := testdriver.CreateOutputTopic(d, "shouts", serde.String(), serde.String()).ReadValue()
	fmt.Println(v)
	// Output: HELLO!
}

// maxPerKey keeps the largest value seen per key in a store and, every 10
// seconds of stream time, forwards every key's maximum.
type maxPerKey struct {
	ctx  processor.Context[string, int64]
	maxs state.KeyValueStore[string, int64]
}

func (p *maxPerKey) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	var err error
	if p.maxs, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "maxima"); err != nil {
		return err
	}
	_, err = ctx.Schedule(10*time.Second, processor.StreamTime, processor.PunctuatorFunc(p.emit))
	return err
}

func (p *maxPerKey) Process(rec processor.Record[string, int64]) error {
	old, ok, err := p.maxs.Get(rec.Key)
	if err != nil || (ok && old >= rec.Value) {
		return err
	}
	return p.maxs.Put(rec.Key, rec.Value)
}

func (p *maxPerKey) emit(streamTime time.Time) error {
	for kv, err := range p.maxs.All() {
		if err != nil {
			return err
		}
		if err := p.ctx.Forward(processor.NewRecord(kv.Key, kv.Value, streamTime)); err != nil {
			return err
		}
	}
	return nil
}

func (p *maxPerKey) Close() error { return nil }

// A stateful processor with a store and a stream-time punctuator, tested
// with the driver.
func Example_statefulProcessor() {
	b := topology.NewBuilder()
	readings := topology.AddSource(b, "readings", topology.Source[string, int64]{
		Topics: []string{"readings"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	maxima := topology.AddProcessor(b, "max", func() processor.Processor[string, int64, string, int64] {
		return &maxPerKey{}
	}, readings)
	b.AddStateStore(state.NewKeyValueStoreBuilder(
		state.InMemoryKeyValueStore("maxima"), serde.String(), serde.Int64()), "max")
	topology.AddSink(b, "report", topology.Sink[string, int64]{
		Topic: "maxima", KeySerde: serde.String(), ValueSerde: serde.Int64()}, maxima)
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, _ := testdriver.New(topo, testdriver.Options{})
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "readings", serde.String(), serde.Int64())
	out := testdriver.CreateOutputTopic(d, "maxima", serde.String(), serde.Int64())
	for i, v := range []int64{3, 9, 4, 12} {
		_ = in.Pipe("sensor-"+string(rune('a'+i%2)), v, time.Unix(int64(5+i*3), 0))
	}
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Timestamp.Unix(), r.Key, r.Value)
	}
	// Records at 5 s (a=3), 8 s (b=9), 11 s (a=4) and 14 s (b=12): the
	// punctuator runs when stream time becomes known (5 s), then at the first
	// record at or past 10 s (11 s); the next is due at 20 s.

	// Output:
	// 5 sensor-a 3
	// 11 sensor-a 4
	// 11 sensor-b 9
}
