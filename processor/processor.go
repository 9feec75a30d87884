package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gostreams/streams/state"
)

// Processor handles one record at a time. The runtime makes one instance per
// task (through a Supplier), calls Init once before the first record, Process
// for every record that reaches the node, and Close when the task goes away.
// All three run on the task's goroutine, never concurrently.
//
// An error from Init, Process or Close stops the task: the runtime reports it
// with the task, the processor and the record it was processing.
type Processor[KIn, VIn, KOut, VOut any] interface {
	Init(ctx Context[KOut, VOut]) error
	Process(rec Record[KIn, VIn]) error
	Close() error
}

// Supplier returns a new Processor instance for each task. It must not
// return the same instance twice: tasks run on different goroutines.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// ProcessFunc is a stateless processor written as a function. Func turns one
// into a Supplier.
type ProcessFunc[KIn, VIn, KOut, VOut any] func(ctx Context[KOut, VOut], rec Record[KIn, VIn]) error

// Func returns a Supplier of processors that call fn for every record: the
// adapter for processors that need no Init, no Close and no state of their
// own, as http.HandlerFunc is for handlers.
func Func[KIn, VIn, KOut, VOut any](fn ProcessFunc[KIn, VIn, KOut, VOut]) Supplier[KIn, VIn, KOut, VOut] {
	return func() Processor[KIn, VIn, KOut, VOut] { return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn} }
}

type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	fn  ProcessFunc[KIn, VIn, KOut, VOut]
	ctx Context[KOut, VOut]
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx Context[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(rec Record[KIn, VIn]) error {
	return p.fn(p.ctx, rec)
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }

// PunctuationType selects the clock a punctuation follows.
type PunctuationType int

const (
	// StreamTime punctuations follow the task's stream time: the largest
	// record timestamp processed so far. They are aligned to multiples of
	// the interval from time 0, fire as soon as stream time is known and has
	// reached the scheduled time, and receive the current stream time. If
	// stream time jumps past several intervals, the punctuator runs once and
	// the missed intervals are skipped. No input, no stream time, no
	// punctuation.
	StreamTime PunctuationType = iota
	// WallClockTime punctuations follow the system clock (a mock clock in the
	// test driver). The first fires one interval after scheduling; a
	// runtime that falls behind runs the punctuator once and skips missed
	// intervals.
	WallClockTime
)

func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "StreamTime"
	case WallClockTime:
		return "WallClockTime"
	}
	return "PunctuationType(" + strconv.Itoa(int(t)) + ")"
}

// MinPunctuationInterval is the smallest interval Schedule accepts.
const MinPunctuationInterval = time.Millisecond

// Punctuator is called by a schedule. ts is the stream time (StreamTime) or
// the wall-clock time (WallClockTime) at which it runs. An error stops the
// task, as one from Process does.
type Punctuator interface {
	Punctuate(ts time.Time) error
}

// PunctuatorFunc adapts a function to a Punctuator.
type PunctuatorFunc func(ts time.Time) error

// Punctuate calls f(ts).
func (f PunctuatorFunc) Punctuate(ts time.Time) error { return f(ts) }

// Cancellable cancels a schedule. Cancel may be called from inside the
// punctuator itself, and more than once.
type Cancellable interface {
	Cancel()
}

// TaskID names a task: the sub-topology it runs and the partition it reads.
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String formats the id as Kafka Streams does: "<subtopology>_<partition>".
func (id TaskID) String() string {
	return strconv.Itoa(id.Subtopology) + "_" + strconv.Itoa(int(id.Partition))
}

// ParseTaskID parses the form String produces.
func ParseTaskID(s string) (TaskID, error) {
	sub, part, ok := strings.Cut(s, "_")
	if !ok {
		return TaskID{}, fmt.Errorf("processor: task id %q: want <subtopology>_<partition>", s)
	}
	st, err1 := strconv.Atoi(sub)
	p, err2 := strconv.ParseInt(part, 10, 32)
	if err1 != nil || err2 != nil || st < 0 || p < 0 {
		return TaskID{}, fmt.Errorf("processor: task id %q: want <subtopology>_<partition> with non-negative numbers", s)
	}
	return TaskID{Subtopology: st, Partition: int32(p)}, nil
}

// Context is a processor's handle on the task that runs it. KOut and VOut
// are the key and value types the processor forwards. A Context is only
// valid on the task's goroutine, inside Init, Process, a punctuator or
// Close.
type Context[KOut, VOut any] interface {
	// Forward sends rec to every child of this processor, one after the
	// other, depth first, and returns the first error a child returns.
	Forward(rec Record[KOut, VOut]) error
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec Record[KOut, VOut]) error
	// Schedule runs p every interval on the given clock until the returned
	// Cancellable is cancelled or the task closes. The interval must be at
	// least MinPunctuationInterval.
	Schedule(interval time.Duration, typ PunctuationType, p Punctuator) (Cancellable, error)
	// Commit asks the runtime to commit the task as soon as it can, rather
	// than waiting for the commit interval. It is a request, not a flush.
	Commit()
	// RecordMetadata reports where the record being processed came from,
	// and false with NoRecord when there is none (during a punctuation, or
	// in Init).
	RecordMetadata() (RecordMetadata, bool)
	// StreamTime is the task's stream time: the largest timestamp processed
	// so far; the zero Time before the first record.
	StreamTime() time.Time
	// WallClockTime is the runtime's current time (the mock clock in the test
	// driver).
	WallClockTime() time.Time
	// TaskID identifies the task.
	TaskID() TaskID
	// ApplicationID is the application.id of the app.
	ApplicationID() string
	// StateDir is the task's state directory,
	// <state.dir>/<application.id>/<task>; empty when the runtime keeps no
	// state on disk.
	StateDir() string
	// StateStore returns the named store, if it is connected to this
	// processor. Prefer the typed GetStore.
	StateStore(name string) (state.Store, error)
	// DroppedRecord counts a record the processor chose not to process, a
	// late record of a window that has closed for example, in the app's
	// metrics (Metrics.DroppedRecords; the test driver's DroppedRecords).
	// Log why, too.
	DroppedRecord()
	// Logger is the app's logger (Config.Logger; the test driver's
	// Options.Logger) with the task and the processor as attributes.
	Logger() *slog.Logger
}

// ErrStoreNotConnected is returned by Context.StateStore (and GetStore) for a
// store that exists in the topology but is not connected to the asking
// processor.
var ErrStoreNotConnected = errors.New("processor: store not connected to this processor")

// ErrUnknownStore is returned by Context.StateStore (and GetStore) for a
// store name the topology does not have.
var ErrUnknownStore = errors.New("processor: no such store")

// StoreGetter is the part of Context that GetStore needs; every Context is
// one.
type StoreGetter interface {
	StateStore(name string) (state.Store, error)
}

// GetStore returns the named store as the store type S the caller expects,
// for example state.KeyValueStore[string, int64]. It fails with a clear
// error if the store is not connected to the processor or is of another
// type, so the caller never writes a type assertion.
func GetStore[S state.Store](ctx StoreGetter, name string) (S, error) {
	var zero S
	st, err := ctx.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, fmt.Errorf("processor: store %q is a %T, which is not a %v; check the store's builder and its serdes",
			name, st, reflect.TypeFor[S]())
	}
	return s, nil
}
