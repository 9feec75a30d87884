package testdriver_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

func Example() {
	b := topology.NewBuilder()
	names := topology.AddSource(b, "names", topology.Source[string, string]{
		Topics: []string{"names"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	greet := topology.AddProcessor(b, "greet", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue("hello, " + strings.TrimSpace(rec.Value)))
	}), names)
	topology.AddSink(b, "greetings", topology.Sink[string, string]{
		Topic: "greetings", KeySerde: serde.String(), ValueSerde: serde.String()}, greet)
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "names", serde.String(), serde.String(),
		testdriver.WithStartTime(time.Unix(100, 0)), testdriver.WithAutoAdvance(time.Second))
	out := testdriver.CreateOutputTopic(d, "greetings", serde.String(), serde.String())

	_ = in.PipeKeyValue("u1", "ada")
	_ = in.PipeKeyValue("u2", " grace ")
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp.Unix())
	}
	_, err = out.ReadValue()
	fmt.Println(err)
	// Output:
	// u1 hello, ada 100
	// u2 hello, grace 101
	// testdriver: output topic is empty: "greetings" has no record left to read
}

// Wall-clock punctuations run as the mock clock passes their due times.
func ExampleDriver_AdvanceWallClock() {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "in", topology.Source[string, string]{
		Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	ticks := topology.AddProcessor(b, "ticker", func() processor.Processor[string, string, string, string] {
		return &ticker{}
	}, src)
	topology.AddSink(b, "out", topology.Sink[string, string]{
		Topic: "ticks", KeySerde: serde.String(), ValueSerde: serde.String()}, ticks)
	topo, _ := b.Build()
	d, _ := testdriver.New(topo, testdriver.Options{})
	defer d.Close()
	out := testdriver.CreateOutputTopic(d, "ticks", serde.String(), serde.String())

	_ = d.AdvanceWallClock(5 * time.Second)
	fmt.Println("after 5s:", out.QueueSize())
	_ = d.AdvanceWallClock(20 * time.Second)
	vals, _ := out.ReadValues()
	fmt.Println("after 25s:", vals)
	// Output:
	// after 5s: 0
	// after 25s: [tick at 10s tick at 20s]
}

type ticker struct{}

func (ticker) Init(ctx processor.Context[string, string]) error {
	_, err := ctx.Schedule(10*time.Second, processor.WallClockTime, processor.PunctuatorFunc(func(now time.Time) error {
		return ctx.Forward(processor.NewRecord("", fmt.Sprintf("tick at %ds", now.Unix()), now))
	}))
	return err
}
func (ticker) Process(processor.Record[string, string]) error { return nil }
func (ticker) Close() error                                   { return nil }
