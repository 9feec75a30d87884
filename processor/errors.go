package processor

import (
	"errors"
	"fmt"
	"time"
)

// ProcessingError is the error a task stops with when a processor's Process
// or a punctuator fails. It names the task, the processor and the input
// record (NoRecord for a punctuation), and unwraps to the processor's own
// error.
type ProcessingError struct {
	TaskID    TaskID
	Processor string
	// Record is the input record being processed, or NoRecord.
	Record RecordMetadata
	// Punctuation is set when a punctuator failed; PunctuationTime is the
	// time it was called with.
	Punctuation     bool
	PunctuationTime time.Time
	Err             error
}

func (e *ProcessingError) Error() string {
	if e.Punctuation {
		return fmt.Sprintf("task %s: processor %q: punctuation at %s: %v",
			e.TaskID, e.Processor, e.PunctuationTime.Format(time.RFC3339Nano), e.Err)
	}
	return fmt.Sprintf("task %s: processor %q: record %s-%d@%d: %v",
		e.TaskID, e.Processor, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *ProcessingError) Unwrap() error { return e.Err }

// DeserializationError is returned when a consumed record's key or value
// cannot be deserialized, or its timestamp cannot be extracted.
type DeserializationError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Source is the source node that read the record.
	Source string
	// Part is "key", "value" or "timestamp".
	Part string
	// Serde is the name of the serde that failed ("" for a timestamp).
	Serde string
	Err   error
}

func (e *DeserializationError) Error() string {
	if e.Part == "timestamp" {
		return fmt.Sprintf("source %q: record %s-%d@%d: extracting the timestamp: %v",
			e.Source, e.Topic, e.Partition, e.Offset, e.Err)
	}
	return fmt.Sprintf("source %q: record %s-%d@%d: deserializing the %s with serde %s: %v",
		e.Source, e.Topic, e.Partition, e.Offset, e.Part, e.Serde, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// ErrInvalidTimestamp is wrapped by the DeserializationError of a record
// whose timestamp (its own, or the one its source's extractor returned) is
// before the Unix epoch or after 2262.
var ErrInvalidTimestamp = errors.New("invalid timestamp")

// ErrSkipRecord, returned (or wrapped) by a source's timestamp extractor,
// drops the record: the task counts it as consumed and never processes it.
// topology.ValueTimestamp returns it for an invalid timestamp under
// SkipOnInvalidTimestamp.
var ErrSkipRecord = errors.New("skip this record")

// ErrPanicked is wrapped by the DeserializationError of a record whose
// serde or timestamp extractor panicked.
var ErrPanicked = errors.New("panicked")
