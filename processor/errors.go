package processor

import (
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
