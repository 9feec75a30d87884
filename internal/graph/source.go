package graph

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
)

// Queue buffers the records of one input partition of a task, already
// deserialized and stamped with their extracted timestamp.
type Queue interface {
	// Add deserializes raw and appends it. A record that cannot be
	// deserialized is not added; the error is a *processor.DeserializationError.
	Add(raw *RawRecord) error
	Len() int
	// Head reports the first record's timestamp (Unix ns) and metadata.
	Head() (ts int64, tsTime time.Time, md processor.RecordMetadata)
	// ProcessHead removes the first record and forwards it to the source's
	// children.
	ProcessHead() error
	// Clear drops every buffered record.
	Clear()
}

// TimestampExtractor returns a record's event time. partitionTime is the
// largest timestamp extracted so far on the record's partition (the zero
// Time before the first).
type TimestampExtractor[K, V any] func(rec processor.Record[K, V], partitionTime time.Time) (time.Time, error)

// SourceNode deserializes records of its topics and forwards them.
type SourceNode[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	extract    TimestampExtractor[K, V]
	children   []Receiver[K, V]
	byName     map[string]Receiver[K, V]
}

// NewSourceNode returns a source node; a nil extract uses the record's own
// timestamp.
func NewSourceNode[K, V any](name string, ks serde.Serde[K], vs serde.Serde[V], extract TimestampExtractor[K, V]) *SourceNode[K, V] {
	return &SourceNode[K, V]{name: name, keySerde: ks, valueSerde: vs, extract: extract, byName: map[string]Receiver[K, V]{}}
}

func (n *SourceNode[K, V]) Name() string { return n.name }
func (n *SourceNode[K, V]) AddChild(child Node) error {
	return addChild(n.name, &n.children, n.byName, child)
}
func (n *SourceNode[K, V]) Init(Env) error { return nil }
func (n *SourceNode[K, V]) Close() error   { return nil }

// NewQueue returns a queue for one partition of one of the source's topics.
func (n *SourceNode[K, V]) NewQueue(topic string, partition int32) Queue {
	return &queue[K, V]{src: n, topic: topic, partition: partition, partTime: minTime}
}

const minTime = -1 << 63

// The range of valid record timestamps: from the Unix epoch to the last
// second nanoseconds since the epoch can hold (2262).
var (
	minTimestamp = time.Unix(0, 0).UTC()
	maxTimestamp = time.Unix(0, 1<<63-1).UTC().Truncate(time.Second)
)

type queued[K, V any] struct {
	rec    processor.Record[K, V]
	ts     int64
	offset int64
}

// queue is a FIFO of deserialized records. It reuses its backing array: head
// advances on pop and the slice is compacted when it is drained.
type queue[K, V any] struct {
	src       *SourceNode[K, V]
	topic     string
	partition int32
	items     []queued[K, V]
	head      int
	partTime  int64
}

func (q *queue[K, V]) Add(raw *RawRecord) (err error) {
	s := q.src
	part, serdeName := "key", s.keySerde.Name()
	// A user serde or extractor that panics on bad bytes must not take the
	// app down: bad input is reported like any other undecodable record.
	defer func() {
		if r := recover(); r != nil {
			err = &processor.DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
				Source: s.name, Part: part, Serde: serdeName, Err: fmt.Errorf("%w: %v", processor.ErrPanicked, r)}
		}
	}()
	k, err := s.keySerde.Deserialize(raw.Key)
	if err != nil {
		return &processor.DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
			Source: s.name, Part: "key", Serde: s.keySerde.Name(), Err: err}
	}
	part, serdeName = "value", s.valueSerde.Name()
	v, err := s.valueSerde.Deserialize(raw.Value)
	if err != nil {
		return &processor.DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
			Source: s.name, Part: "value", Serde: s.valueSerde.Name(), Err: err}
	}
	rec := processor.Record[K, V]{Key: k, Value: v, Timestamp: raw.Timestamp, Headers: raw.Headers}
	if s.extract != nil {
		var pt time.Time
		if q.partTime != minTime {
			pt = time.Unix(0, q.partTime)
		}
		part, serdeName = "timestamp", ""
		ts, err := s.extract(rec, pt)
		if err != nil {
			return &processor.DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
				Source: s.name, Part: "timestamp", Err: err}
		}
		rec.Timestamp = ts
	}
	// Kafka timestamps are milliseconds since the epoch; one before it is
	// invalid (Kafka Streams fails on it too), and one past 2262 does not
	// fit the nanoseconds stream time is kept in.
	if rec.Timestamp.Before(minTimestamp) || rec.Timestamp.After(maxTimestamp) {
		part, serdeName = "timestamp", ""
		return &processor.DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
			Source: s.name, Part: part, Err: fmt.Errorf("%w: %s is outside %s to %s",
				processor.ErrInvalidTimestamp, rec.Timestamp.UTC().Format(time.RFC3339Nano), minTimestamp.Format(time.RFC3339), maxTimestamp.Format(time.RFC3339))}
	}
	ns := rec.Timestamp.UnixNano()
	if ns > q.partTime {
		q.partTime = ns
	}
	if q.head > 0 && q.head == len(q.items) {
		clear(q.items)
		q.items, q.head = q.items[:0], 0
	}
	q.items = append(q.items, queued[K, V]{rec: rec, ts: ns, offset: raw.Offset})
	return nil
}

func (q *queue[K, V]) Len() int { return len(q.items) - q.head }

func (q *queue[K, V]) Head() (int64, time.Time, processor.RecordMetadata) {
	it := &q.items[q.head]
	return it.ts, it.rec.Timestamp, processor.RecordMetadata{Topic: q.topic, Partition: q.partition, Offset: it.offset}
}

func (q *queue[K, V]) ProcessHead() error {
	it := q.items[q.head]
	q.items[q.head] = queued[K, V]{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	for _, c := range q.src.children {
		if err := c.Receive(it.rec); err != nil {
			return err
		}
	}
	return nil
}

func (q *queue[K, V]) Clear() {
	clear(q.items)
	q.items, q.head = q.items[:0], 0
}
