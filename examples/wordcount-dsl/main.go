// Command wordcount-dsl is examples/wordcount written in the DSL (package
// kstream), as Kafka Streams' WordCountDemo is: the same flags, the same
// input and output topics and the same output, one "word count" line per
// word, sorted by word.
//
//	go run ./examples/wordcount-dsl                 # built-in sample text
//	go run ./examples/wordcount-dsl -input FILE     # the lines of FILE
//	go run ./examples/wordcount-dsl -describe       # print the topology
//	go run ./examples/wordcount-dsl -describe=mermaid  # draw it: a Mermaid flowchart
//	go run ./examples/wordcount-dsl -describe=dot      # or a Graphviz DOT graph
//	go run ./examples/wordcount-dsl -brokers host:9092
//
// -describe prints the topology and exits, without starting Kafka: bare (or
// -describe=text) in Kafka Streams' text format, -describe=mermaid as a
// Mermaid flowchart, -describe=dot as a Graphviz DOT graph. The format
// needs the '=': "-describe mermaid" is an error.
package main

import "github.com/gostreams/streams/examples/internal/wordcountrun"

var program = wordcountrun.Program{
	Name:        "wordcount-dsl",
	Topology:    Topology,
	InputTopic:  InputTopic,
	OutputTopic: OutputTopic,
	Repartition: CountsStore,
	CountSerde:  CountSerde,
}

func main() { wordcountrun.Main(program) }
