package kstream_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// BenchmarkWordCountDSL runs the word count through the test driver twice
// in the same loop, written in the DSL and by hand on the Processor API
// (split, repartition, count in an in-memory store, every update to the
// output), on the same lines of 10 words from a 1,000-word vocabulary, and
// reports each one's time per line and dsl/papi, the DSL's throughput over
// the Processor API's (the aim: at least 0.8).
func BenchmarkWordCountDSL(b *testing.B) {
	dsl := benchDriver(b, dslWordCount(b))
	papi := benchDriver(b, papiWordCount(b))
	type side struct {
		in      *testdriver.InputTopic[string, string]
		out     *testdriver.OutputTopic[string, int64]
		elapsed time.Duration
	}
	sides := []*side{{}, {}}
	for i, d := range []*testdriver.Driver{dsl, papi} {
		sides[i].in = testdriver.CreateInputTopic(d, "lines", serde.String(), serde.String())
		sides[i].out = testdriver.CreateOutputTopic(d, "counts", serde.String(), serde.Int64())
	}
	text := benchText(10)
	ts := time.Unix(1, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for _, s := range sides {
			start := time.Now()
			if err := s.in.Pipe("", text[i%len(text)], ts); err != nil {
				b.Fatal(err)
			}
			s.elapsed += time.Since(start)
			if s.out.QueueSize() > 10_000 {
				if _, err := s.out.ReadValues(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(sides[0].elapsed.Nanoseconds())/float64(b.N), "dsl-ns/line")
	b.ReportMetric(float64(sides[1].elapsed.Nanoseconds())/float64(b.N), "papi-ns/line")
	b.ReportMetric(sides[1].elapsed.Seconds()/sides[0].elapsed.Seconds(), "dsl/papi")
}

func benchText(perLine int) []string {
	text := make([]string, 1024)
	for i := range text {
		ws := make([]string, perLine)
		for j := range ws {
			ws[j] = "word" + strconv.Itoa((i*7919+j*104729)%1000)
		}
		text[i] = strings.Join(ws, " ")
	}
	return text
}

func benchDriver(b *testing.B, topo *topology.Topology) *testdriver.Driver {
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

func dslWordCount(b *testing.B) *topology.Topology {
	sb := kstream.NewStreamsBuilder()
	words := kstream.FlatMapValues(kstream.Stream(sb, []string{"lines"}, strs), func(l string) []string { return strings.Fields(strings.ToLower(l)) })
	kstream.GroupBy(words, func(_, w string) string { return w }).Count(kstream.Materialized[string, int64]{Name: "Counts"}).
		ToStream().To("counts")
	topo, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	return topo
}

// papiWordCount is the word count as a user writes it on the Processor
// API (examples/wordcount).
func papiWordCount(b *testing.B) *topology.Topology {
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
	counts := topology.AddProcessor(bld, "count", func() processor.Processor[string, string, string, int64] { return &papiCounter{} }, byWord)
	bld.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()), "count")
	topology.AddSink(bld, "out", topology.Sink[string, int64]{Topic: "counts", KeySerde: serde.String(), ValueSerde: serde.Int64()}, counts)
	topo, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	return topo
}

type papiCounter struct {
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func (c *papiCounter) Init(ctx processor.Context[string, int64]) (err error) {
	c.ctx = ctx
	c.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "Counts")
	return err
}

func (c *papiCounter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	if err := c.counts.Put(rec.Key, n+1); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, n+1))
}

func (c *papiCounter) Close() error { return nil }
