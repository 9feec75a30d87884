package main

import (
	"strconv"
	"strings"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Topic and store names of the word-count topology.
const (
	InputTopic      = "streams-plaintext-input"
	OutputTopic     = "streams-wordcount-output"
	CountsStore     = "Counts"
	RepartitionName = "words"
)

// CountSerde writes counts as decimal text, so that any Kafka client (kcat,
// the console consumer) can read the output topic.
var CountSerde = serde.New("decimal-int64",
	func(n int64) ([]byte, error) { return strconv.AppendInt(nil, n, 10), nil },
	func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) })

// Topology is word count with the Processor API, as Kafka Streams' docs
// describe it: a stateless processor splits each line into lower-cased words
// and re-keys the record by word; a repartition topic brings every
// occurrence of a word to the same task; a stateful processor counts in the
// store "Counts" and forwards each new count to the output topic.
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := topology.AddSource(b, "Lines", topology.Source[string, string]{
		Topics:     []string{InputTopic},
		KeySerde:   serde.String(),
		ValueSerde: serde.String(),
	})
	words := topology.AddProcessor(b, "Split", processor.Func(splitWords), lines)
	byWord := topology.AddRepartition(b, RepartitionName, topology.Repartition[string, string]{
		KeySerde:   serde.String(),
		ValueSerde: serde.String(),
	}, words)
	counts := topology.AddProcessor(b, "Count", newCounter, byWord)
	b.AddStateStore(state.NewKeyValueStoreBuilder(
		state.InMemoryKeyValueStore(CountsStore), serde.String(), serde.Int64()), "Count")
	topology.AddSink(b, "Output", topology.Sink[string, int64]{
		Topic:      OutputTopic,
		KeySerde:   serde.String(),
		ValueSerde: CountSerde,
	}, counts)
	return b.Build()
}

// splitWords forwards one record per word of the line, keyed by the word.
// Words are the lower-cased line split on white space.
func splitWords(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
	for _, w := range strings.Fields(strings.ToLower(rec.Value)) {
		if err := ctx.Forward(processor.Derive(rec, w, w)); err != nil {
			return err
		}
	}
	return nil
}

// counter counts the records of each key and forwards the new count.
type counter struct {
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func newCounter() processor.Processor[string, string, string, int64] { return &counter{} }

func (c *counter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, CountsStore)
	return err
}

func (c *counter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.counts.Put(rec.Key, n); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, n))
}

func (c *counter) Close() error { return nil }
