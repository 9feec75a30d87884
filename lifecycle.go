package streams

import (
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/runtime"
	"github.com/gostreams/streams/processor"
)

// State is the state of an App, with Kafka Streams' names and transitions:
//
//	Created ──Run──▶ Rebalancing ◀──▶ Running
//	   │                  │              │
//	   └──────────────────┴──────────────┴─▶ PendingShutdown ──▶ NotRunning   (Close, or Run's context ends)
//	                      └──────────────┴─▶ PendingError ──▶ Error           (a failure stops the instance)
//
// The app is Rebalancing while any of its stream threads takes part in a
// rebalance or restores its new tasks' stores, and Running once all of them
// process.
type State int

const (
	// Created: made by New, not run yet.
	Created State = iota
	// Rebalancing: joining the group, rebalancing, or restoring stores.
	Rebalancing
	// Running: every thread processes its tasks.
	Running
	// PendingShutdown: stopping, after Close or the end of Run's context.
	PendingShutdown
	// NotRunning: stopped cleanly. Run has returned nil (or is returning).
	NotRunning
	// PendingError: stopping because of a failure.
	PendingError
	// Error: stopped by a failure. Run has returned it (or is returning).
	Error
)

func (s State) String() string { return runtime.State(s).String() }

// UncaughtErrorResponse is what Config.OnUncaughtError decides about a
// stream thread that failed, as Kafka Streams'
// StreamThreadExceptionResponse.
type UncaughtErrorResponse int

const (
	// ShutdownClient stops every thread of this instance: they commit and
	// close their tasks, and Run returns the error. The other instances
	// take the tasks over. The default.
	ShutdownClient UncaughtErrorResponse = UncaughtErrorResponse(runtime.ShutdownClient)
	// ReplaceThread starts a new thread in place of the failed one, which
	// closed its tasks without committing: the new one joins the group and
	// redoes their work from the last commit (exactly, under ExactlyOnce).
	// A record that fails every time fails every new thread too: count the
	// failures and answer ShutdownClient after a few.
	ReplaceThread UncaughtErrorResponse = UncaughtErrorResponse(runtime.ReplaceThread)
	// ShutdownApplication stops every instance of the app: this one tells
	// the others through the group's assignment, as Kafka Streams does,
	// and each stops as with ShutdownClient, its Run returning an error
	// that wraps ErrApplicationShutdown.
	ShutdownApplication UncaughtErrorResponse = UncaughtErrorResponse(runtime.ShutdownApplication)
)

// UncaughtErrorHandler decides what happens after a stream thread failed
// with err. It runs on the goroutine that runs Run.
type UncaughtErrorHandler func(err error) UncaughtErrorResponse

// Metrics are the app's counters since it was made, and a snapshot of its
// metrics, named as Kafka Streams names them (Values; see Metric).
type Metrics struct {
	// RecordsProcessed counts the input records processed.
	RecordsProcessed int64
	// DeserializationErrors counts records that could not be deserialized,
	// whatever the handler decided.
	DeserializationErrors int64
	// ProcessingErrors counts failures of processors and punctuators.
	ProcessingErrors int64
	// ProductionErrors counts records the broker rejected, at-least-once
	// and at-most-once (under exactly-once a rejected record aborts the
	// transaction: see Aborts).
	ProductionErrors int64
	// DeadLetters counts records sent to a dead-letter topic.
	DeadLetters int64
	// Commits counts successful commits.
	Commits int64
	// DroppedRecords counts the records processors dropped on purpose
	// (processor.Context.DroppedRecord), such as late records of windowed
	// aggregations.
	DroppedRecords int64
	// Aborts counts transactions that aborted (ExactlyOnce): their work was
	// dropped and redone.
	Aborts int64
	// ThreadRestarts counts stream threads made anew because their
	// transactional producer could not go on (fenced, or a transaction
	// that ended in an unknown way).
	ThreadRestarts int64
	// ThreadsReplaced counts stream threads replaced after a failure
	// (OnUncaughtError answered ReplaceThread).
	ThreadsReplaced int64
	// Values are the app's metrics now, at Config.MetricsRecordingLevel,
	// sorted by group, name and tags: the client's
	// (stream-metrics: alive-stream-threads, failed-stream-threads), each
	// stream thread's (stream-thread-metrics, thread-id: process-,
	// poll-, commit- and punctuate- rate, total, latency-avg and
	// latency-max, poll-records-avg and -max, task-created- and
	// task-closed- rate and total), each task's (stream-task-metrics,
	// task-id: dropped-records- rate and total; at debug, process- rate
	// and total), each node's (stream-processor-node-metrics,
	// processor-node-id: record-e2e-latency- avg, min and max at sources
	// and sinks, dropped-records- rate and total where records were
	// dropped), each input partition's records-lag
	// (consumer-fetch-manager-metrics, topic, partition), and at debug each
	// store's (stream-state-metrics: put-, get-, range-, delete-, flush-
	// and restore- rate, total and latency, restore-records-total) and
	// cache's hit ratio
	// (stream-record-cache-metrics). Find and Sum look values up.
	Values []Metric
}

// Metrics returns the app's counters. It is safe to call from any
// goroutine.
func (a *App) Metrics() Metrics {
	m := a.rt.Metrics()
	return Metrics{
		RecordsProcessed:      m.Processed.Load(),
		DeserializationErrors: m.DeserializationErrors.Load(),
		ProcessingErrors:      m.ProcessingErrors.Load(),
		ProductionErrors:      m.ProductionErrors.Load(),
		DeadLetters:           m.DeadLetters.Load(),
		Commits:               m.Commits.Load(),
		Aborts:                m.Aborts.Load(),
		DroppedRecords:        m.Dropped.Load(),
		ThreadRestarts:        m.ThreadRestarts.Load(),
		ThreadsReplaced:       m.ThreadsReplaced.Load(),
		Values:                publicMetrics(a.registry.Snapshot()),
	}
}

// RestoreListener learns about the restoration of stores from their
// changelogs. Its methods run on a stream thread: keep them quick.
type RestoreListener interface {
	// OnRestoreStart is called when a store starts restoring.
	OnRestoreStart(e RestoreEvent)
	// OnBatchRestored is called after each batch written to the store.
	OnBatchRestored(e RestoreEvent)
	// OnRestoreEnd is called when the store has caught up with its
	// changelog.
	OnRestoreEnd(e RestoreEvent)
}

// RestoreEvent describes a store's restoration.
type RestoreEvent struct {
	Store string
	Task  processor.TaskID
	// Topic and Partition are the changelog partition.
	Topic     string
	Partition int32
	// StartOffset is where the restore began; EndOffset is the changelog's
	// end when it began, which the store catches up to.
	StartOffset, EndOffset int64
	// Offset is the position reached: the offset after the last record
	// restored.
	Offset int64
	// BatchRecords is the number of records in the batch just written
	// (OnBatchRestored); Records the total restored so far.
	BatchRecords int
	Records      int64
	// Elapsed is the time since the restore started.
	Elapsed time.Duration
}

// restoreListener hands the runtime's restore events to the user's
// listener.
type restoreListener struct{ l RestoreListener }

func (r restoreListener) OnRestoreStart(e runtime.RestoreEvent) { r.l.OnRestoreStart(RestoreEvent(e)) }
func (r restoreListener) OnBatchRestored(e runtime.RestoreEvent) {
	r.l.OnBatchRestored(RestoreEvent(e))
}
func (r restoreListener) OnRestoreEnd(e runtime.RestoreEvent) { r.l.OnRestoreEnd(RestoreEvent(e)) }

// ChangelogTopic is the changelog topic name of a store:
// "<applicationID>-<store>-changelog".
func ChangelogTopic(applicationID, store string) string {
	return graph.ChangelogTopic(applicationID, store)
}

// RepartitionTopic is the cluster name of the repartition topic that
// topology.AddRepartition(b, name, ...) declares.
func RepartitionTopic(applicationID, name string) string {
	return applicationID + "-" + name + "-repartition"
}
