// Command wordcount counts the words of its input with the word-count
// topology (see Topology) running on Kafka, and prints one "word count"
// line per word, sorted by word.
//
// With no -brokers flag it starts an in-process Kafka (kfake) on 127.0.0.1,
// so it runs on a fresh machine with nothing else installed:
//
//	go run ./examples/wordcount                 # built-in sample text
//	go run ./examples/wordcount -input FILE     # the lines of FILE
//	go run ./examples/wordcount -brokers host:9092
//	go run ./examples/wordcount -describe       # print the topology, as Kafka Streams' describe() does
//	go run ./examples/wordcount -describe=mermaid  # draw it: a Mermaid flowchart
//	go run ./examples/wordcount -describe=dot | dot -Tsvg > topology.svg  # or Graphviz
//
// -describe prints the topology and exits, without starting Kafka: bare (or
// -describe=text) in Kafka Streams' text format, -describe=mermaid as a
// Mermaid flowchart, -describe=dot as a Graphviz DOT graph. The format
// needs the '=': "-describe mermaid" is an error.
//
// It writes the lines to the input topic, runs the app until every record
// (and every repartitioned word) is processed and committed, then reads the
// output topic and prints the latest count of each word. Words are the
// lower-cased line split on white space. Progress goes to stderr.
package main

import "github.com/gostreams/streams/examples/internal/wordcountrun"

// program is the word count on the Processor API topology.
var program = wordcountrun.Program{
	Name:        "wordcount",
	Topology:    Topology,
	InputTopic:  InputTopic,
	OutputTopic: OutputTopic,
	Repartition: RepartitionName,
	CountSerde:  CountSerde,
}

func main() { wordcountrun.Main(program) }
