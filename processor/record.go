package processor

import "time"

// Header is one record header. Keys need not be unique.
type Header struct {
	Key   string
	Value []byte
}

// Record is a key, a value, the record's event timestamp and its headers: what
// flows along the edges of a topology.
//
// A Record is a value; forwarding it hands the child a copy of the struct.
// The Headers slice and byte slices inside it are shared, so a processor that
// changes headers should do so on a copy (see WithHeaders).
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []Header
}

// NewRecord returns a record with no headers.
func NewRecord[K, V any](key K, value V, timestamp time.Time) Record[K, V] {
	return Record[K, V]{Key: key, Value: value, Timestamp: timestamp}
}

// WithKey returns a copy of r with key k.
func (r Record[K, V]) WithKey(k K) Record[K, V] { r.Key = k; return r }

// WithValue returns a copy of r with value v.
func (r Record[K, V]) WithValue(v V) Record[K, V] { r.Value = v; return r }

// WithTimestamp returns a copy of r with timestamp ts.
func (r Record[K, V]) WithTimestamp(ts time.Time) Record[K, V] { r.Timestamp = ts; return r }

// WithHeaders returns a copy of r with headers h.
func (r Record[K, V]) WithHeaders(h []Header) Record[K, V] { r.Headers = h; return r }

// Derive returns a record of other key and value types that keeps r's
// timestamp and headers: the Go spelling of Kafka Streams'
// record.withKey(k).withValue(v), whose result may change both types.
func Derive[K, V, K2, V2 any](r Record[K, V], key K2, value V2) Record[K2, V2] {
	return Record[K2, V2]{Key: key, Value: value, Timestamp: r.Timestamp, Headers: r.Headers}
}

// RecordMetadata tells where the record being processed came from.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// NoRecord is the metadata reported when no input record is being processed,
// as during a punctuation: topic "", partition -1, offset -1.
var NoRecord = RecordMetadata{Topic: "", Partition: -1, Offset: -1}
