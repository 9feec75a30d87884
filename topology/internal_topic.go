package topology

import (
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/serde"
)

// InternalTopic configures an internal topic added with AddInternalTopic.
type InternalTopic[K, V any] struct {
	// KeySerde and ValueSerde encode the records on the topic. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks each record's partition. Default: murmur2 of the
	// serialized key.
	Partitioner Partitioner[K, V]
	// SinkName and SourceName name the node that writes the topic and the
	// node that reads it. Required.
	SinkName, SourceName string
	// PartitionedLikeReader gives the topic as many partitions as the
	// sub-topology that reads it has tasks, counted from that
	// sub-topology's other source topics (Kafka Streams'
	// copartitionSources), where a repartition topic has as many as the
	// sub-topology that writes it. A topic whose records must meet the
	// reader's own input partition for partition, as the foreign-key join's
	// subscription and response topics do, needs it. Default false.
	PartitionedLikeReader bool
}

// AddInternalTopic routes the records of parents through the internal
// topic "<application.id>-<topic>", which the app creates (cleanup.policy
// delete, as a repartition topic): it adds a sink t.SinkName below parents
// and returns a source t.SourceName that reads the topic. Unlike
// AddRepartition, the topic's name is taken as it is, with no
// "-repartition" suffix, and the nodes are named by the caller. The two
// ends land in different sub-topologies.
func AddInternalTopic[K, V any](b *Builder, topic string, t InternalTopic[K, V], parents ...Node[K, V]) Node[K, V] {
	switch {
	case topic == "":
		b.problem("an internal topic has an empty name")
	case t.SinkName == "" || t.SourceName == "":
		b.problem("internal topic %q: SinkName and SourceName are required", topic)
	}
	if _, dup := b.internal[topic]; dup {
		b.problem("internal topic %q is declared twice", topic)
	}
	b.internal[topic] = graph.InternalTopic{PartitionedLikeReader: t.PartitionedLikeReader}
	AddSink(b, t.SinkName, Sink[K, V]{Topic: topic, KeySerde: t.KeySerde, ValueSerde: t.ValueSerde, Partitioner: t.Partitioner}, parents...)
	return AddSource(b, t.SourceName, Source[K, V]{Topics: []string{topic}, KeySerde: t.KeySerde, ValueSerde: t.ValueSerde})
}
