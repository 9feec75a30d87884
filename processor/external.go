package processor

import (
	"context"
	"errors"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ExternalCommitter is implemented by a processor that writes to a system
// outside Kafka, a database, and makes what it wrote durable at its task's
// commits, as the sinks of sink/postgres do. Such a processor is added with
// topology.AddExternalSink.
//
// At each commit of the task, once its stores are flushed and its Kafka
// output is acknowledged, and before the task's offsets are committed (or
// its exactly-once transaction ends), the runtime calls CommitExternal with
// the task's input offsets: per input partition, the offset of the next
// record to read. An error that Retriable marked is retried with a backoff
// for up to the app's TaskTimeout; any other error fails the stream thread.
// CommitExternal may therefore be called again with the same offsets after
// it failed, even after a failure that left the outcome unknown (a
// connection lost while the database committed): it must find out, not
// apply the work twice.
//
// What the processor wrote since its last successful commit is dropped when
// its task is closed or taken back to its last commit (exactly-once after
// an aborted transaction): the processor is closed without a commit, and
// the records are processed again by a new instance.
type ExternalCommitter interface {
	CommitExternal(ctx context.Context, offsets map[TopicPartition]int64) error
}

// Retriable marks err as a failure that may pass if the call is repeated,
// such as a database restarting or a connection lost; IsRetriable finds the
// mark through wrapping. Retriable(nil) is nil.
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return &retriableError{err}
}

// IsRetriable reports whether err, or an error it wraps, was marked with
// Retriable.
func IsRetriable(err error) bool {
	var r *retriableError
	return errors.As(err, &r)
}

type retriableError struct{ err error }

func (e *retriableError) Error() string { return e.err.Error() }
func (e *retriableError) Unwrap() error { return e.err }
