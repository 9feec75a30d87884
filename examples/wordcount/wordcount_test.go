package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/examples/internal/wordcountrun"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

var expectedCounts = wordcountrun.ExpectedCounts

var testLines = []string{
	"all streams lead to Kafka",
	"hello kafka streams",
	"",
	"  join\tKafka   summit  ",
	"HELLO hello",
}

func TestWordCountTopology(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "wordcount"})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, InputTopic, serde.String(), serde.String(), testdriver.WithAutoAdvance(time.Millisecond))
	out := testdriver.CreateOutputTopic(d, OutputTopic, serde.String(), CountSerde)

	require.NoError(t, in.PipeValue("hello kafka hello"))
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	require.Equal(t, []testdriver.KeyValue[string, int64]{{Key: "hello", Value: 1}, {Key: "kafka", Value: 1}, {Key: "hello", Value: 2}}, kvs,
		"every update is emitted, in order")

	require.NoError(t, in.PipeValues(testLines))
	got, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	want := expectedCounts(append([]string{"hello kafka hello"}, testLines...))
	// Every word of the first line occurs again in testLines, so the latest
	// counts emitted for testLines are all the counts.
	require.Equal(t, want, got)

	// The store holds the same counts, in word order.
	counts, err := testdriver.KeyValueStore[string, int64](d, CountsStore)
	require.NoError(t, err)
	var words []string
	for kv, err := range counts.All() {
		require.NoError(t, err)
		require.Equal(t, want[kv.Key], kv.Value, kv.Key)
		words = append(words, kv.Key)
	}
	require.Equal(t, slices.Sorted(maps.Keys(want)), words)
}

// wordCountProcessor is Kafka Streams' WordCountProcessor from the Processor
// API docs: it splits and counts in one processor, and every second of
// stream time forwards every count and asks for a commit.
type wordCountProcessor struct {
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func (p *wordCountProcessor) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	var err error
	if p.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "Counts"); err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Second, processor.StreamTime, processor.PunctuatorFunc(p.punctuate))
	return err
}

func (p *wordCountProcessor) punctuate(ts time.Time) error {
	for kv, err := range p.counts.All() {
		if err != nil {
			return err
		}
		if err := p.ctx.Forward(processor.NewRecord(kv.Key, kv.Value, ts)); err != nil {
			return err
		}
	}
	p.ctx.Commit()
	return nil
}

func (p *wordCountProcessor) Process(rec processor.Record[string, string]) error {
	for _, w := range strings.Fields(strings.ToLower(rec.Value)) {
		n, _, err := p.counts.Get(w)
		if err != nil {
			return err
		}
		if err := p.counts.Put(w, n+1); err != nil {
			return err
		}
	}
	return nil
}

func (p *wordCountProcessor) Close() error { return nil }

func TestSingleProcessorWordCount(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "Source", topology.Source[string, string]{Topics: []string{"source-topic"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	proc := topology.AddProcessor(b, "Process", func() processor.Processor[string, string, string, int64] { return &wordCountProcessor{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()), "Process")
	topology.AddSink(b, "Sink", topology.Sink[string, int64]{Topic: "sink-topic", KeySerde: serde.String(), ValueSerde: serde.Int64()}, proc)
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "source-topic", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "sink-topic", serde.String(), serde.Int64())

	// The first record makes stream time known: the punctuator runs at once.
	require.NoError(t, in.Pipe("", "a b", time.UnixMilli(100)))
	first, err := out.ReadRecords()
	require.NoError(t, err)
	require.Len(t, first, 2)
	for _, r := range first {
		require.Equal(t, int64(1), r.Value)
		require.True(t, r.Timestamp.Equal(time.UnixMilli(100)), "forwarded with the punctuation's stream time")
	}
	// Within the same second of stream time: counts change, nothing is emitted.
	require.NoError(t, in.Pipe("", "a c", time.UnixMilli(900)))
	require.True(t, out.IsEmpty())
	// Crossing 1 s emits every count once.
	require.NoError(t, in.Pipe("", "a", time.UnixMilli(1000)))
	got, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 3, "b": 1, "c": 1}, got)
}

// End to end on the embedded broker: the example prints, for a text with
// tabs, runs of spaces, blank lines and mixed case, exactly the counts that
// splitting each lower-cased line on white space gives.
func TestRunOnEmbeddedKafkaPrintsExactCounts(t *testing.T) {
	t.Parallel()
	text := wordcountrun.RandomText(7, 2000)
	path := filepath.Join(t.TempDir(), "input.txt")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	var stdout, stderr bytes.Buffer
	err := wordcountrun.Run(context.Background(), program, wordcountrun.Options{Input: path, AppID: "wordcount-test", Partitions: 4, Timeout: time.Minute}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	want := expectedCounts(strings.Split(text, "\n"))
	var lines []string
	for _, w := range slices.Sorted(maps.Keys(want)) {
		lines = append(lines, fmt.Sprintf("%s %d", w, want[w]))
	}
	require.Equal(t, strings.Join(lines, "\n")+"\n", stdout.String())
}

func TestRunReportsAMissingFile(t *testing.T) {
	t.Parallel()
	err := wordcountrun.Run(context.Background(), program, wordcountrun.Options{Input: filepath.Join(t.TempDir(), "missing.txt"), AppID: "x", Partitions: 1, Timeout: time.Minute}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "missing.txt")
}
