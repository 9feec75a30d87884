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
	// keyApp and valueApp are the serdes' Appenders, when both have one:
	// then key and value are encoded into scratch, which the collector
	// copies from (Env.Send borrows them).
	keyApp   serde.Appender[K]
	valueApp serde.Appender[V]
	scratch  []byte
}

// NewSinkNode returns a sink that writes to topic, or, when choose is set,
// to the topic it picks for each record.
func NewSinkNode[K, V any](name, topic string, choose TopicChooser[K, V], ks serde.Serde[K], vs serde.Serde[V], p Partitioner[K, V]) *SinkNode[K, V] {
	n := &SinkNode[K, V]{name: name, topic: topic, choose: choose, keySerde: ks, valueSerde: vs, partitioner: p}
	ka, kok := ks.(serde.Appender[K])
	va, vok := vs.(serde.Appender[V])
	if kok && vok {
		n.keyApp, n.valueApp = ka, va
	}
	return n
}

// encode serializes rec's key and value. The result may be the sink's
// scratch, valid until the next encode: Env.Send only borrows it.
func (n *SinkNode[K, V]) encode(rec *processor.Record[K, V], topic string) (k, v []byte, err error) {
	if n.keyApp == nil {
		if k, err = n.keySerde.Serialize(rec.Key); err != nil {
			return nil, nil, fmt.Errorf("serializing the key for topic %q: %w", topic, err)
		}
		if v, err = n.valueSerde.Serialize(rec.Value); err != nil {
			return nil, nil, fmt.Errorf("serializing the value for topic %q: %w", topic, err)
		}
		return k, v, nil
	}
	buf, err := n.keyApp.AppendSerialize(n.scratch[:0], rec.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("serializing the key for topic %q: %w", topic, err)
	}
	kl := len(buf)
	if buf, err = n.valueApp.AppendSerialize(buf, rec.Value); err != nil {
		return nil, nil, fmt.Errorf("serializing the value for topic %q: %w", topic, err)
	}
	if cap(buf) <= maxScratch {
		n.scratch = buf[:0]
	}
	return buf[:kl:kl], buf[kl:], nil
}

// maxScratch bounds the scratch buffer a sink keeps between records, so one
// huge record does not pin its memory.
const maxScratch = 64 << 10

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
	k, v, err := n.encode(&rec, topic)
	if err != nil {
		return err
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
	// The Output and the scratch its key and value are in are reused: the
	// collector copies what it keeps.
	n.out = Output{Topic: topic, Partition: partition, Key: k, Value: v, Headers: rec.Headers, Timestamp: rec.Timestamp, Sink: n.name}
	return n.env.Send(&n.out)
}
