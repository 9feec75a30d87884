package topology

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/processor"
)

// InvalidTimestamp says what a timestamp extractor does with a record whose
// event time is missing or invalid (zero, before the Unix epoch, or the
// getter's error).
type InvalidTimestamp int

const (
	// FailOnInvalidTimestamp fails the record: the source reports a
	// DeserializationError wrapping processor.ErrInvalidTimestamp, which
	// the app's deserialization handler decides on (by default the app
	// stops). The default.
	FailOnInvalidTimestamp InvalidTimestamp = iota
	// SkipOnInvalidTimestamp drops the record: the task logs it, with its
	// topic, partition and offset, and counts it as dropped
	// (processor.Context.DroppedRecord).
	SkipOnInvalidTimestamp
	// UsePartitionTimeOnInvalidTimestamp gives the record its partition's
	// time, the largest timestamp seen on the partition so far; a record
	// before any other fails as with FailOnInvalidTimestamp.
	UsePartitionTimeOnInvalidTimestamp
)

// RecordTimestamp is the default extractor: the record's own (Kafka)
// timestamp.
func RecordTimestamp[K, V any]() TimestampExtractor[K, V] {
	return func(rec processor.Record[K, V], _ time.Time) (time.Time, error) { return rec.Timestamp, nil }
}

// ValueTimestamp returns an extractor that takes a record's event time from
// its value, with get (for example an order's eventTime field); onInvalid
// says what to do when get fails or returns a zero time or one before the
// Unix epoch.
func ValueTimestamp[K, V any](get func(V) (time.Time, error), onInvalid InvalidTimestamp) TimestampExtractor[K, V] {
	epoch := time.Unix(0, 0)
	return func(rec processor.Record[K, V], partitionTime time.Time) (time.Time, error) {
		ts, err := get(rec.Value)
		if err == nil && !ts.IsZero() && !ts.Before(epoch) {
			return ts, nil
		}
		if err == nil {
			err = fmt.Errorf("%w: the value's event time is %v", processor.ErrInvalidTimestamp, ts)
		} else {
			err = fmt.Errorf("%w: %w", processor.ErrInvalidTimestamp, err)
		}
		switch onInvalid {
		case SkipOnInvalidTimestamp:
			return time.Time{}, fmt.Errorf("%w: %w", processor.ErrSkipRecord, err)
		case UsePartitionTimeOnInvalidTimestamp:
			if !partitionTime.IsZero() {
				return partitionTime, nil
			}
			return time.Time{}, fmt.Errorf("%w; and the partition has no time yet to use instead", err)
		}
		return time.Time{}, err
	}
}
