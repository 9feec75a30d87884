package state

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
)

// timestampSize is the length of the timestamp that starts every stored
// ValueAndTimestamp.
const timestampSize = 8

// timestampedSerde stores a ValueAndTimestamp as the timestamp in Unix
// milliseconds, 8 bytes big-endian (two's complement, so instants before
// 1970 work), followed by the inner serde's bytes for the value. That is the
// layout Kafka Streams uses for its timestamped stores.
//
// Only milliseconds are kept, as in Kafka: a timestamp comes back truncated
// (floored) to the millisecond, in UTC and without a monotonic clock
// reading, so the zero time.Time comes back as the zero time.Time.
type timestampedSerde[V any] struct {
	inner serde.Serde[V]
	app   serde.Appender[V] // inner's, or nil; asserted once, not per write
	name  string
}

func newTimestampedSerde[V any](inner serde.Serde[V]) timestampedSerde[V] {
	app, _ := inner.(serde.Appender[V])
	return timestampedSerde[V]{inner: inner, app: app, name: "timestamped[" + inner.Name() + "]"}
}

func (s timestampedSerde[V]) Name() string { return s.name }

func (s timestampedSerde[V]) Serialize(v ValueAndTimestamp[V]) ([]byte, error) {
	b, err := s.inner.Serialize(v.Value)
	if err != nil {
		return nil, err
	}
	out := make([]byte, timestampSize+len(b))
	binary.BigEndian.PutUint64(out, uint64(v.Timestamp.UnixMilli()))
	copy(out[timestampSize:], b)
	return out, nil
}

// AppendSerialize appends what Serialize returns, through the inner
// serde's Appender when it has one: a store then writes a timestamped
// value with no allocation of its own. The encoding is never nil (it has
// the timestamp), so the Appender contract holds for any inner serde.
func (s timestampedSerde[V]) AppendSerialize(dst []byte, v ValueAndTimestamp[V]) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.Timestamp.UnixMilli()))
	if s.app != nil {
		return s.app.AppendSerialize(dst, v.Value)
	}
	return serde.Append(s.inner, dst, v.Value)
}

var _ serde.Appender[ValueAndTimestamp[int64]] = timestampedSerde[int64]{}

// Deserialize returns the inner serde's error unchanged when the value part
// does not decode, so the error names the serde that failed.
func (s timestampedSerde[V]) Deserialize(data []byte) (ValueAndTimestamp[V], error) {
	if len(data) < timestampSize {
		return ValueAndTimestamp[V]{}, &serde.Error{
			Serde: s.name,
			Op:    "deserialize",
			Err: fmt.Errorf("%w: want at least %d bytes (the timestamp) before the value, got %d; was the store written without timestamps?",
				serde.ErrMalformed, timestampSize, len(data)),
		}
	}
	v, err := s.inner.Deserialize(data[timestampSize:])
	if err != nil {
		return ValueAndTimestamp[V]{}, err
	}
	ms := int64(binary.BigEndian.Uint64(data))
	return ValueAndTimestamp[V]{Value: v, Timestamp: time.UnixMilli(ms).UTC()}, nil
}
