package testdriver_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// reportRate adds records/s to a benchmark whose every op is one record.
func reportRate(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// benchDriver builds bld and starts a driver on it, closed when b ends.
func benchDriver(b *testing.B, bld *topology.Builder) *testdriver.Driver {
	b.Helper()
	topo, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkStatelessMap pipes string records through source -> map -> sink
// and reads them back: the cost of one record through the driver.
func BenchmarkStatelessMap(b *testing.B) {
	bld := topology.NewBuilder()
	src := topology.AddSource(bld, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	up := topology.AddProcessor(bld, "map", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue(rec.Key))
	}), src)
	topology.AddSink(bld, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, up)
	d := benchDriver(b, bld)
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
	ts := time.Unix(1, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := in.Pipe("key", "value", ts); err != nil {
			b.Fatal(err)
		}
		if _, err := out.ReadValue(); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, "records/s")
}

// BenchmarkWordCount runs the word-count topology (split, repartition,
// count in an in-memory store, emit every update) over lines drawn from a
// 1,000-word vocabulary, with 3 words a line (as in the seed's sample text)
// and with 10. One op is one line; it reports lines/s and words/s.
func BenchmarkWordCount(b *testing.B) {
	for _, perLine := range []int{3, 10} {
		b.Run("words="+strconv.Itoa(perLine), func(b *testing.B) { benchWordCount(b, perLine) })
	}
}

func benchWordCount(b *testing.B, perLine int) {
	bld := topology.NewBuilder()
	lines := topology.AddSource(bld, "lines", topology.Source[string, string]{Topics: []string{"lines"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	words := topology.AddProcessor(bld, "split", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		for _, w := range strings.Fields(strings.ToLower(rec.Value)) {
			if err := ctx.Forward(processor.Derive(rec, w, w)); err != nil {
				return err
			}
		}
		return nil
	}), lines)
	byWord := topology.AddRepartition(bld, "words", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, words)
	counts := topology.AddProcessor(bld, "count", func() processor.Processor[string, string, string, int64] { return &benchCounter{} }, byWord)
	bld.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()), "count")
	topology.AddSink(bld, "out", topology.Sink[string, int64]{Topic: "counts", KeySerde: serde.String(), ValueSerde: serde.Int64()}, counts)
	d := benchDriver(b, bld)
	in := testdriver.CreateInputTopic(d, "lines", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "counts", serde.String(), serde.Int64())

	vocab := make([]string, 1000)
	for i := range vocab {
		vocab[i] = "word" + strconv.Itoa(i)
	}
	text := make([]string, 1024)
	for i := range text {
		ws := make([]string, perLine)
		for j := range ws {
			ws[j] = vocab[(i*7919+j*104729)%len(vocab)]
		}
		text[i] = strings.Join(ws, " ")
	}
	ts := time.Unix(1, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := in.Pipe("", text[i%len(text)], ts); err != nil {
			b.Fatal(err)
		}
		if out.QueueSize() > 10_000 {
			if _, err := out.ReadValues(); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRate(b, "lines/s")
	b.ReportMetric(float64(b.N*perLine)/b.Elapsed().Seconds(), "words/s")
}

type benchCounter struct {
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func (c *benchCounter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "Counts")
	return err
}

func (c *benchCounter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	if err := c.counts.Put(rec.Key, n+1); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, n+1))
}

func (c *benchCounter) Close() error { return nil }
