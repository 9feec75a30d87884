package graph

import (
	"fmt"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
)

// TopicChooser picks the topic of each record of a dynamic sink.
type TopicChooser[K, V any] func(rec processor.Record[K, V]) (string, error)

// Partitioner picks the partition of a record among numPartitions; ok false
// leaves it to the default partitioner (murmur2 of the serialized key).
type Partitioner[K, V any] func(topic string, key K, value V, numPartitions int) (partition int, ok bool)

// SinkNode serializes records and sends them to a topic.
type SinkNode[K, V any] struct {
	name        string
	topic       string
	choose      TopicChooser[K, V]
	keySerde    serde.Serde[K]
	valueSerde  serde.Serde[V]
	partitioner Partitioner[K, V]
	env         Env
	out         Output
}

// NewSinkNode returns a sink that writes to topic, or, when choose is set,
// to the topic it picks for each record.
func NewSinkNode[K, V any](name, topic string, choose TopicChooser[K, V], ks serde.Serde[K], vs serde.Serde[V], p Partitioner[K, V]) *SinkNode[K, V] {
	return &SinkNode[K, V]{name: name, topic: topic, choose: choose, keySerde: ks, valueSerde: vs, partitioner: p}
}

func (n *SinkNode[K, V]) Name() string { return n.name }
func (n *SinkNode[K, V]) AddChild(child Node) error {
	return fmt.Errorf("graph: sink %q cannot have children (asked to add %q)", n.name, child.Name())
}
func (n *SinkNode[K, V]) Init(env Env) error { n.env = env; return nil }
func (n *SinkNode[K, V]) Close() error       { return nil }

// Receive serializes rec and sends it. Errors are *processor.ProcessingError
// naming the sink.
func (n *SinkNode[K, V]) Receive(rec processor.Record[K, V]) error {
	if err := n.send(rec); err != nil {
		md, _ := n.env.RecordMetadata()
		return &processor.ProcessingError{TaskID: n.env.TaskID(), Processor: n.name, Record: md, Err: err}
	}
	return nil
}

func (n *SinkNode[K, V]) send(rec processor.Record[K, V]) error {
	topic := n.topic
	if n.choose != nil {
		t, err := n.choose(rec)
		if err != nil {
			return fmt.Errorf("choosing the topic: %w", err)
		}
		if t == "" {
			return fmt.Errorf("the topic chooser returned an empty topic name")
		}
		topic = t
	}
	k, err := n.keySerde.Serialize(rec.Key)
	if err != nil {
		return fmt.Errorf("serializing the key for topic %q: %w", topic, err)
	}
	v, err := n.valueSerde.Serialize(rec.Value)
	if err != nil {
		return fmt.Errorf("serializing the value for topic %q: %w", topic, err)
	}
	partition := int32(-1)
	if n.partitioner != nil {
		np, err := n.env.NumPartitions(topic)
		if err != nil {
			return err
		}
		if p, ok := n.partitioner(topic, rec.Key, rec.Value, np); ok {
			if p < 0 || p >= np {
				return fmt.Errorf("partitioner chose partition %d of topic %q, which has %d", p, topic, np)
			}
			partition = int32(p)
		}
	}
	// The Output is reused: the collector copies what it keeps.
	n.out = Output{Topic: topic, Partition: partition, Key: k, Value: v, Headers: rec.Headers, Timestamp: rec.Timestamp, Sink: n.name}
	return n.env.Send(&n.out)
}
