package main

import (
	"strconv"
	"strings"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// Topic and store names, those of examples/wordcount and of Kafka Streams'
// WordCountDemo.
const (
	InputTopic  = "streams-plaintext-input"
	OutputTopic = "streams-wordcount-output"
	// CountsStore is the count's store, and so also the name of the
	// repartition topic that GroupBy writes: counts-store-repartition.
	CountsStore = "counts-store"
)

// CountSerde writes counts as decimal text, as examples/wordcount does.
var CountSerde = serde.New("decimal-int64",
	func(n int64) ([]byte, error) { return strconv.AppendInt(nil, n, 10), nil },
	func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) })

// Topology is the word count in the DSL: split each line into lower-cased
// words, group by word (a repartition), count, and write every new count
// to the output topic.
func Topology() (*topology.Topology, error) {
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{InputTopic}, kstream.Consumed[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String(),
	})
	words := kstream.FlatMapValues(lines, func(line string) []string {
		return strings.Fields(strings.ToLower(line))
	})
	counts := kstream.GroupBy(words, func(_, word string) string { return word }).
		Count(kstream.Materialized[string, int64]{Name: CountsStore})
	counts.ToStream().To(OutputTopic, kstream.Produced[string, int64]{ValueSerde: CountSerde})
	return sb.Build()
}
