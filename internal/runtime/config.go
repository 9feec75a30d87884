package runtime

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// TopicPartition names one partition of a topic.
type TopicPartition = task.TopicPartition

// Config is the runtime's configuration: the user's streams.Config with
// every default filled in and every field checked, and the hooks through
// which the runtime calls the user's handlers and the app's registries.
type Config struct {
	ApplicationID      string
	Brokers            []string
	StateDir           string
	NumStreamThreads   int
	CommitInterval     time.Duration
	Guarantee          eos.Guarantee
	TransactionTimeout time.Duration
	// OffsetReset is the default of sources that set none: Earliest or
	// Latest.
	OffsetReset        topology.OffsetReset
	MaxPollRecords     int
	Logger             *slog.Logger
	ApplicationServer  string
	StoreCacheMaxBytes int64
	// GroupInstanceID, if set, makes each thread a static member of the
	// group, "<GroupInstanceID>-<thread>".
	GroupInstanceID string
	ClientOptions   []kgo.Opt
	// RestoreProgressEvery is how often a long restore logs its progress.
	RestoreProgressEvery time.Duration
	// NumStandbyReplicas, AcceptableRecoveryLag, MaxWarmupReplicas and
	// ProbingRebalanceInterval are the high-availability assignment's
	// settings (streams.Config).
	NumStandbyReplicas       int
	AcceptableRecoveryLag    int64
	MaxWarmupReplicas        int
	ProbingRebalanceInterval time.Duration
	// TaskTimeout bounds how long a commit into an external sink retries
	// a retriable failure before the thread fails.
	TaskTimeout time.Duration
	// Metrics is the app's registry; nil records nothing.
	Metrics *metrics.Registry
	Hooks   Hooks
}

// Response is a handler's decision about a failed record: skip it and go
// on (with dead letters to produce first), or fail.
type Response struct {
	Continue    bool
	DeadLetters []*kgo.Record
}

// UncaughtErrorResponse is what happens after a stream thread failed.
type UncaughtErrorResponse int

const (
	// ShutdownClient stops every thread of this instance.
	ShutdownClient UncaughtErrorResponse = iota
	// ReplaceThread starts a new thread in place of the failed one.
	ReplaceThread
	// ShutdownApplication stops every instance of the app, through the
	// group's assignment.
	ShutdownApplication
)

// Hooks are how the runtime reaches the app: every one is set (the root
// package fills in defaults).
type Hooks struct {
	OnDeserializationError func(ctx context.Context, rec *kgo.Record, err *processor.DeserializationError) Response
	OnProcessingError      func(ctx context.Context, err *processor.ProcessingError) Response
	OnProductionError      func(ctx context.Context, rec *kgo.Record, err error) Response
	OnUncaughtError        func(err error) UncaughtErrorResponse
	// OnStateChange hears every change of the app's state.
	OnStateChange func(old, new State)
	// Restore hears about restorations; nil for nobody.
	Restore RestoreListener
	// TaskRunning is called when a task starts processing (its stores
	// restored), TaskClosing before a task closes; both hold the thread's
	// task lock, so queries and subscriptions see exactly the running
	// tasks.
	TaskRunning, TaskClosing func(tk *task.Task)
	// TaskRestoring is called when an active task's stores are open and
	// being restored (a new task, or a promoted standby); StandbyOpened
	// and StandbyClosing when a standby task opens and before it closes.
	// Each may be nil; each holds the thread's task lock.
	TaskRestoring, StandbyOpened, StandbyClosing func(tk *task.Task)
	// GlobalRunning is called with the global stores once they are
	// restored, GlobalClosing before they close.
	GlobalRunning, GlobalClosing func(stores map[string]state.Store)
}

// RestoreListener hears about the restoration of stores.
type RestoreListener interface {
	OnRestoreStart(e RestoreEvent)
	OnBatchRestored(e RestoreEvent)
	OnRestoreEnd(e RestoreEvent)
}

// RestoreEvent describes a store's restoration (streams.RestoreEvent).
type RestoreEvent struct {
	Store                  string
	Task                   processor.TaskID
	Topic                  string
	Partition              int32
	StartOffset, EndOffset int64
	Offset                 int64
	BatchRecords           int
	Records                int64
	Elapsed                time.Duration
}

// Metrics are the app's counters, written by every thread.
type Metrics struct {
	Processed, DeserializationErrors, ProcessingErrors, ProductionErrors, DeadLetters,
	Commits, Aborts, ThreadRestarts, ThreadsReplaced, Dropped atomic.Int64
	// FailedThreads counts the threads that failed and were handed to
	// OnUncaughtError.
	FailedThreads atomic.Int64
}
