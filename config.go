package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Config configures an App. The zero value of every optional field means
// its documented default; ApplicationID and Brokers are required.
type Config struct {
	// ApplicationID names the app. It is the consumer group id, the prefix of
	// internal topics ("<id>-<name>-repartition", "<id>-<store>-changelog")
	// and the name of the app's state directory. Required: letters, digits,
	// '.', '_' and '-'.
	ApplicationID string
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// StateDir is the root directory for task state:
	// <StateDir>/<ApplicationID>/<task>. Default: <os.TempDir()>/streams.
	StateDir string
	// NumStreamThreads is the number of goroutines that run tasks; each is a
	// member of the consumer group. Default 1.
	NumStreamThreads int
	// CommitInterval is how often tasks are committed. Default 30s under
	// AtLeastOnce and AtMostOnce, 100ms under ExactlyOnce.
	CommitInterval time.Duration
	// Guarantee is the delivery guarantee. Default eos.AtLeastOnce.
	Guarantee eos.Guarantee
	// TransactionTimeout is how long the broker lets a transaction stay
	// open (ExactlyOnce) before it aborts it: it bounds how long a crashed
	// instance's open transaction holds up read_committed consumers of its
	// output. Default 10s, as in Kafka Streams.
	TransactionTimeout time.Duration
	// TaskTimeout is how long a task's commit into an external system (a
	// database sink, topology.AddExternalSink) retries a failure that may
	// pass, such as the database restarting, before its thread fails, as
	// Kafka Streams' task.timeout.ms. The thread does not process while it
	// retries. Default 5 minutes.
	TaskTimeout time.Duration
	// MetricsRecordingLevel is how much the app's metrics record
	// (App.Metrics), as Kafka Streams' metrics.recording.level. Default
	// RecordInfo.
	MetricsRecordingLevel RecordingLevel
	// OffsetReset is where a partition with no committed offset starts,
	// for sources that do not set their own (topology.Source.OffsetReset):
	// topology.Earliest or topology.Latest. Default topology.Earliest, as
	// in Kafka Streams. It also applies when a committed offset is out of
	// the partition's range.
	OffsetReset topology.OffsetReset
	// MaxPollRecords bounds the records a thread fetches before processing
	// them. Default 1000.
	MaxPollRecords int
	// Logger receives the app's logs. Default slog.Default().
	Logger *slog.Logger
	// OnDeserializationError decides what happens to a record that cannot be
	// deserialized (or whose timestamp cannot be extracted). Default
	// FailOnDeserializationError.
	OnDeserializationError DeserializationHandler
	// OnProcessingError decides what happens when a processor or punctuator
	// returns an error. Default FailOnProcessingError.
	OnProcessingError ProcessingHandler
	// OnProductionError decides what happens when a produced record is
	// rejected by the broker. Default FailOnProductionError.
	OnProductionError ProductionHandler
	// ApplicationServer is this instance's "host:port" for interactive
	// queries: the app tells every instance which server runs which task,
	// so QueryMetadataForKey can say where a key lives. Default "": the
	// instance is not advertised.
	ApplicationServer string
	// StoreCacheMaxBytes bounds the cache of each store built WithCaching, in
	// each task: an app's cache memory is at most this times its tasks'
	// cached stores. Default 1 MiB (state.DefaultCacheMaxBytes).
	StoreCacheMaxBytes int64
	// RestoreListener, if set, hears about every store restoration. The app
	// also logs the start and end of each at Info level.
	RestoreListener RestoreListener
	// OnUncaughtError decides what happens after a stream thread failed: a
	// record or punctuation the handlers did not skip, a store or cluster
	// failure. Default: ShutdownClient for every failure, whatever it is.
	// (A thread whose transactional producer was fenced is made anew
	// without asking: that is recovery, not a failure.)
	OnUncaughtError UncaughtErrorHandler
	// OnStateChange, if set, is called on every change of the app's state
	// (see State), on the goroutine that made the change: keep it quick,
	// and do not call Close from it.
	OnStateChange func(old, new State)
	// GroupInstanceID, if set, makes the app's stream threads static
	// members of the consumer group (KIP-345), thread i as
	// "<GroupInstanceID>-<i>": an instance that restarts within the
	// session timeout gets its tasks back without a rebalance. Give every
	// instance its own. Default "": dynamic membership.
	GroupInstanceID string
	// NumStandbyReplicas is how many standby replicas each stateful task
	// has (Kafka Streams' num.standby.replicas): copies of its stores,
	// each on another instance than the task and than each other, kept up
	// to date from the stores' changelogs, so that when the task's
	// instance fails its task moves to one that lacks only the changelogs'
	// tail. Interactive queries may read them (QueryOptions.StaleStores).
	// Default 0.
	NumStandbyReplicas int
	// AcceptableRecoveryLag is how many changelog records an instance may
	// lack of a task's stores and still count as caught up on it: the
	// assignment moves a stateful task only to a caught-up instance, and
	// warms another one up first (KIP-441). Default 10,000.
	AcceptableRecoveryLag int64
	// MaxWarmupReplicas bounds the warm-up replicas (standbys beyond
	// NumStandbyReplicas, on the instance a task should move to) that an
	// assignment places at once. Default 2.
	MaxWarmupReplicas int
	// ProbingRebalanceInterval is how long after an assignment with
	// warm-up replicas the app rebalances again, to move the tasks whose
	// warm-ups caught up. Default 10 minutes.
	ProbingRebalanceInterval time.Duration
	// ClientOptions are passed to every franz-go client the app makes, after
	// its own options, so they can override them (session timeout, TLS,
	// SASL, ...).
	ClientOptions []kgo.Opt

	// restoreProgressEvery is how often a long restore logs its progress;
	// defaultProgressEvery but for tests.
	restoreProgressEvery time.Duration
}

// defaultProgressEvery is how often a long restore logs its progress.
const defaultProgressEvery = 10 * time.Second

var appIDPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// withDefaults returns c with every unset optional field set.
func (c Config) withDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = filepath.Join(os.TempDir(), "streams")
	}
	if c.NumStreamThreads == 0 {
		c.NumStreamThreads = 1
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 30 * time.Second
		if c.Guarantee == eos.ExactlyOnce {
			c.CommitInterval = 100 * time.Millisecond
		}
	}
	if c.OffsetReset == topology.DefaultReset {
		c.OffsetReset = topology.Earliest
	}
	if c.OnUncaughtError == nil {
		c.OnUncaughtError = func(error) UncaughtErrorResponse { return ShutdownClient }
	}
	if c.restoreProgressEvery == 0 {
		c.restoreProgressEvery = defaultProgressEvery
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if c.TaskTimeout == 0 {
		c.TaskTimeout = 5 * time.Minute
	}
	if c.StoreCacheMaxBytes == 0 {
		c.StoreCacheMaxBytes = state.DefaultCacheMaxBytes
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 1000
	}
	if c.AcceptableRecoveryLag == 0 {
		c.AcceptableRecoveryLag = 10_000
	}
	if c.MaxWarmupReplicas == 0 {
		c.MaxWarmupReplicas = 2
	}
	if c.ProbingRebalanceInterval == 0 {
		c.ProbingRebalanceInterval = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnDeserializationError == nil {
		c.OnDeserializationError = FailOnDeserializationError
	}
	if c.OnProcessingError == nil {
		c.OnProcessingError = FailOnProcessingError
	}
	if c.OnProductionError == nil {
		c.OnProductionError = FailOnProductionError
	}
	return c
}

// Validate reports every field that is set wrong, by name.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("streams: Config.%s: "+format, append([]any{field}, args...)...))
	}
	switch {
	case c.ApplicationID == "":
		bad("ApplicationID", "is required")
	case !appIDPattern.MatchString(c.ApplicationID):
		bad("ApplicationID", "%q may contain only letters, digits, '.', '_' and '-'", c.ApplicationID)
	}
	if len(c.Brokers) == 0 {
		bad("Brokers", "is required: give at least one \"host:port\"")
	}
	for i, b := range c.Brokers {
		if b == "" {
			bad("Brokers", "broker %d is empty", i)
		}
	}
	if c.NumStreamThreads < 0 {
		bad("NumStreamThreads", "is %d; use 0 for the default of 1, or a positive count", c.NumStreamThreads)
	}
	if c.StoreCacheMaxBytes < 0 {
		bad("StoreCacheMaxBytes", "is %d; use 0 for the default, or a positive size", c.StoreCacheMaxBytes)
	}
	if c.CommitInterval < 0 {
		bad("CommitInterval", "is %v; use 0 for the default, or a positive duration", c.CommitInterval)
	}
	if c.NumStandbyReplicas < 0 {
		bad("NumStandbyReplicas", "is %d; use 0 for none, or a positive count", c.NumStandbyReplicas)
	}
	if c.AcceptableRecoveryLag < 0 {
		bad("AcceptableRecoveryLag", "is %d; use 0 for the default, or a positive count of records", c.AcceptableRecoveryLag)
	}
	if c.MaxWarmupReplicas < 0 {
		bad("MaxWarmupReplicas", "is %d; use 0 for the default, or a positive count", c.MaxWarmupReplicas)
	}
	if c.ProbingRebalanceInterval < 0 {
		bad("ProbingRebalanceInterval", "is %v; use 0 for the default, or a positive duration", c.ProbingRebalanceInterval)
	}
	if c.MetricsRecordingLevel < RecordInfo || c.MetricsRecordingLevel > RecordTrace {
		bad("MetricsRecordingLevel", "%d is not RecordInfo, RecordDebug or RecordTrace", c.MetricsRecordingLevel)
	}
	if c.TaskTimeout < 0 {
		bad("TaskTimeout", "is %v; use 0 for the default, or a positive duration", c.TaskTimeout)
	}
	if c.TransactionTimeout < 0 {
		bad("TransactionTimeout", "is %v; use 0 for the default, or a positive duration", c.TransactionTimeout)
	}
	switch c.Guarantee {
	case eos.AtLeastOnce, eos.AtMostOnce, eos.ExactlyOnce:
	default:
		bad("Guarantee", "%v is not one of AtLeastOnce, AtMostOnce, ExactlyOnce", c.Guarantee)
	}
	switch c.OffsetReset {
	case topology.DefaultReset, topology.Earliest, topology.Latest:
	default:
		bad("OffsetReset", "%q is not \"earliest\" or \"latest\" (topology.Earliest or topology.Latest)", c.OffsetReset)
	}
	if c.GroupInstanceID != "" && !appIDPattern.MatchString(c.GroupInstanceID) {
		bad("GroupInstanceID", "%q may contain only letters, digits, '.', '_' and '-'", c.GroupInstanceID)
	}
	if c.MaxPollRecords < 0 {
		bad("MaxPollRecords", "is %d; use 0 for the default, or a positive count", c.MaxPollRecords)
	}
	return errors.Join(errs...)
}

// Response is a handler's decision about a failed record.
type Response struct {
	// Continue skips the record and goes on. False stops the app with the
	// error.
	Continue bool
	// DeadLetters are produced, with the task's output, before the record's
	// offset is committed.
	DeadLetters []*kgo.Record
}

// DeserializationHandler decides what happens to a consumed record that
// cannot be deserialized. rec is the record as consumed.
type DeserializationHandler func(ctx context.Context, rec *kgo.Record, err *processor.DeserializationError) Response

// ProcessingHandler decides what happens when a processor or a punctuator
// fails. Continuing skips the rest of that record's processing.
type ProcessingHandler func(ctx context.Context, err *processor.ProcessingError) Response

// ProductionHandler decides what happens when the broker rejects a produced
// record (too large, unknown topic, not authorized, ...).
type ProductionHandler func(ctx context.Context, rec *kgo.Record, err error) Response

// FailOnDeserializationError stops the app with an error that names the
// record's topic, partition and offset and the serde. The default.
func FailOnDeserializationError(context.Context, *kgo.Record, *processor.DeserializationError) Response {
	return Response{}
}

// LogAndSkipOnDeserializationError returns a handler that logs the error
// and skips the record. The app's metrics count it.
func LogAndSkipOnDeserializationError(log *slog.Logger) DeserializationHandler {
	return func(_ context.Context, rec *kgo.Record, err *processor.DeserializationError) Response {
		log.Warn("skipping a record that cannot be deserialized", "error", err)
		return Response{Continue: true}
	}
}

// Dead-letter record headers, set by DeadLetterOnDeserializationError.
const (
	HeaderErrorMessage   = "streams.error.message"
	HeaderErrorTopic     = "streams.error.topic"
	HeaderErrorPartition = "streams.error.partition"
	HeaderErrorOffset    = "streams.error.offset"
)

// DeadLetterOnDeserializationError returns a handler that sends the record,
// with its key, value and headers as consumed, to topic, adds headers
// naming the error and where the record came from, and goes on.
func DeadLetterOnDeserializationError(topic string) DeserializationHandler {
	return func(_ context.Context, rec *kgo.Record, err *processor.DeserializationError) Response {
		dl := &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, Partition: -1}
		dl.Headers = append(append(dl.Headers, rec.Headers...),
			kgo.RecordHeader{Key: HeaderErrorMessage, Value: []byte(err.Error())},
			kgo.RecordHeader{Key: HeaderErrorTopic, Value: []byte(rec.Topic)},
			kgo.RecordHeader{Key: HeaderErrorPartition, Value: fmt.Appendf(nil, "%d", rec.Partition)},
			kgo.RecordHeader{Key: HeaderErrorOffset, Value: fmt.Appendf(nil, "%d", rec.Offset)},
		)
		return Response{Continue: true, DeadLetters: []*kgo.Record{dl}}
	}
}

// FailOnProcessingError stops the app with the processor's error, which
// names the task, the processor and the record. The default.
func FailOnProcessingError(context.Context, *processor.ProcessingError) Response { return Response{} }

// FailOnProductionError stops the app. The default.
func FailOnProductionError(context.Context, *kgo.Record, error) Response { return Response{} }
