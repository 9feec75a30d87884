package testdriver

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
)

// InputTopic pipes typed records into a topic the topology reads. It keeps
// a current time for records piped without a timestamp: it starts at the
// driver's wall-clock start (or WithStartTime) and moves by the auto-advance
// step (WithAutoAdvance) after each such record.
type InputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	now        time.Time
	step       time.Duration
	// keyApp and valueApp are the serdes' Appenders, if they have them:
	// then a piped record is encoded into scratch, which the driver only
	// borrows (the task deserializes what it keeps). scratch is never nil,
	// so an empty encoding stays non-nil.
	keyApp   serde.Appender[K]
	valueApp serde.Appender[V]
	scratch  []byte
}

// maxScratch bounds the scratch an input topic keeps between records.
const maxScratch = 64 << 10

// InputOption configures an InputTopic.
type InputOption func(*inputConfig)

type inputConfig struct {
	start time.Time
	step  time.Duration
}

// WithStartTime sets the timestamp of the first record piped without one.
// Default: the driver's WallClockStart.
func WithStartTime(t time.Time) InputOption { return func(c *inputConfig) { c.start = t } }

// WithAutoAdvance moves the topic's current time by step after every record
// piped without a timestamp. Default 0: every such record gets the same time.
func WithAutoAdvance(step time.Duration) InputOption {
	return func(c *inputConfig) { c.step = step }
}

// CreateInputTopic returns a handle for piping records into topic, encoded
// with the given serdes. Repartition topics are named as in the cluster:
// "<application id>-<name>-repartition".
func CreateInputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...InputOption) *InputTopic[K, V] {
	c := inputConfig{start: d.clock}
	for _, o := range opts {
		o(&c)
	}
	in := &InputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde, now: c.start, step: c.step,
		scratch: make([]byte, 0, 64)}
	in.keyApp, _ = keySerde.(serde.Appender[K])
	in.valueApp, _ = valueSerde.(serde.Appender[V])
	return in
}

// Pipe sends one record with an explicit timestamp and processes it, and
// everything it causes, before returning. The topic's current time is not
// changed.
func (in *InputTopic[K, V]) Pipe(key K, value V, timestamp time.Time) error {
	return in.pipe(&key, value, nil, timestamp)
}

// PipeKeyValue sends one record stamped with the topic's current time, then
// advances that time.
func (in *InputTopic[K, V]) PipeKeyValue(key K, value V) error {
	return in.pipe(&key, value, nil, in.tick())
}

// PipeValue sends one record with a null key (nil bytes, which the source's
// key serde must accept) stamped with the topic's current time, then
// advances that time.
func (in *InputTopic[K, V]) PipeValue(value V) error {
	return in.pipe(nil, value, nil, in.tick())
}

// PipeRecord sends rec with its headers. A zero Timestamp means the topic's
// current time, which then advances.
func (in *InputTopic[K, V]) PipeRecord(rec processor.Record[K, V]) error {
	ts := rec.Timestamp
	if ts.IsZero() {
		ts = in.tick()
	}
	return in.pipe(&rec.Key, rec.Value, rec.Headers, ts)
}

// PipeValues pipes each value as PipeValue does, stopping at the first
// error.
func (in *InputTopic[K, V]) PipeValues(values []V) error {
	for _, v := range values {
		if err := in.PipeValue(v); err != nil {
			return err
		}
	}
	return nil
}

// PipeKeyValues pipes each pair as PipeKeyValue does, stopping at the first
// error.
func (in *InputTopic[K, V]) PipeKeyValues(kvs []KeyValue[K, V]) error {
	for _, kv := range kvs {
		if err := in.PipeKeyValue(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// PipeRecords pipes each record as PipeRecord does, stopping at the first
// error.
func (in *InputTopic[K, V]) PipeRecords(recs []processor.Record[K, V]) error {
	for _, r := range recs {
		if err := in.PipeRecord(r); err != nil {
			return err
		}
	}
	return nil
}

// AdvanceTime moves the topic's current time by d.
func (in *InputTopic[K, V]) AdvanceTime(d time.Duration) { in.now = in.now.Add(d) }

// CurrentTime is the timestamp the next record piped without one gets.
func (in *InputTopic[K, V]) CurrentTime() time.Time { return in.now }

func (in *InputTopic[K, V]) tick() time.Time {
	t := in.now
	in.now = in.now.Add(in.step)
	return t
}

func (in *InputTopic[K, V]) pipe(key *K, value V, headers []processor.Header, ts time.Time) error {
	buf := in.scratch[:0]
	var kb, vb []byte
	var err error
	if key != nil {
		if in.keyApp != nil {
			buf, err = in.keyApp.AppendSerialize(buf, *key)
			kb = buf[:len(buf):len(buf)]
		} else {
			kb, err = in.keySerde.Serialize(*key)
		}
		if err != nil {
			return fmt.Errorf("testdriver: input topic %q: serializing the key: %w", in.topic, err)
		}
	}
	if in.valueApp != nil {
		n := len(buf)
		buf, err = in.valueApp.AppendSerialize(buf, value)
		vb = buf[n:]
	} else {
		vb, err = in.valueSerde.Serialize(value)
	}
	if err != nil {
		return fmt.Errorf("testdriver: input topic %q: serializing the value: %w", in.topic, err)
	}
	if cap(buf) <= maxScratch {
		in.scratch = buf[:0]
	}
	return in.d.pipe(in.topic, kb, vb, headers, ts)
}

// OutputTopic reads, in order, the typed records the topology produced to a
// topic. Reading consumes: each record is read once.
type OutputTopic[K, V any] struct {
	d          *Driver
	t          *topic
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// CreateOutputTopic returns a reader for topic, decoded with the given
// serdes. Records of ordinary topics are kept from the start; records of a
// repartition topic ("<application id>-<name>-repartition") only from this
// call on.
func CreateOutputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *OutputTopic[K, V] {
	t := d.topic(topic)
	t.wanted = true
	return &OutputTopic[K, V]{d: d, t: t, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// QueueSize is the number of records not read yet.
func (out *OutputTopic[K, V]) QueueSize() int { return len(out.t.recs) - out.t.head }

// IsEmpty reports whether every record has been read.
func (out *OutputTopic[K, V]) IsEmpty() bool { return out.QueueSize() == 0 }

// ReadRecord reads the next record, with its timestamp and headers. On an
// empty topic it returns ErrEmptyTopic. A record that does not decode is
// consumed and reported as an error naming the topic and offset.
func (out *OutputTopic[K, V]) ReadRecord() (processor.Record[K, V], error) {
	var zero processor.Record[K, V]
	if out.d.closed {
		return zero, ErrClosed
	}
	l := out.t
	if l.head == len(l.recs) {
		return zero, fmt.Errorf("%w: %q has no record left to read", ErrEmptyTopic, out.topic)
	}
	raw := l.recs[l.head]
	l.recs[l.head] = graph.RawRecord{}
	l.head++
	if l.head == len(l.recs) {
		l.recs, l.head = l.recs[:0], 0
	}
	k, err := out.keySerde.Deserialize(raw.Key)
	if err != nil {
		return zero, fmt.Errorf("testdriver: output topic %q offset %d: deserializing the key with %s: %w", out.topic, raw.Offset, out.keySerde.Name(), err)
	}
	v, err := out.valueSerde.Deserialize(raw.Value)
	if err != nil {
		return zero, fmt.Errorf("testdriver: output topic %q offset %d: deserializing the value with %s: %w", out.topic, raw.Offset, out.valueSerde.Name(), err)
	}
	return processor.Record[K, V]{Key: k, Value: v, Timestamp: raw.Timestamp, Headers: raw.Headers}, nil
}

// ReadKeyValue reads the next record's key and value.
func (out *OutputTopic[K, V]) ReadKeyValue() (KeyValue[K, V], error) {
	r, err := out.ReadRecord()
	return KeyValue[K, V]{Key: r.Key, Value: r.Value}, err
}

// ReadValue reads the next record's value.
func (out *OutputTopic[K, V]) ReadValue() (V, error) {
	r, err := out.ReadRecord()
	return r.Value, err
}

// ReadRecords reads every remaining record; none is an empty slice, not an
// error.
func (out *OutputTopic[K, V]) ReadRecords() ([]processor.Record[K, V], error) {
	recs := make([]processor.Record[K, V], 0, out.QueueSize())
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// ReadKeyValues reads every remaining record's key and value.
func (out *OutputTopic[K, V]) ReadKeyValues() ([]KeyValue[K, V], error) {
	kvs := make([]KeyValue[K, V], 0, out.QueueSize())
	for !out.IsEmpty() {
		kv, err := out.ReadKeyValue()
		if err != nil {
			return kvs, err
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}

// ReadValues reads every remaining record's value.
func (out *OutputTopic[K, V]) ReadValues() ([]V, error) {
	vs := make([]V, 0, out.QueueSize())
	for !out.IsEmpty() {
		v, err := out.ReadValue()
		if err != nil {
			return vs, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// ReadKeyValuesToMap reads every remaining record into a map from key to the
// latest value: the table view of a changelog-like topic.
func ReadKeyValuesToMap[K comparable, V any](out *OutputTopic[K, V]) (map[K]V, error) {
	m := map[K]V{}
	for !out.IsEmpty() {
		kv, err := out.ReadKeyValue()
		if err != nil {
			return m, err
		}
		m[kv.Key] = kv.Value
	}
	return m, nil
}
