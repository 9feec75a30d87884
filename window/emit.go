package window

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// emitMark is how far an aggregation has emitted its closed windows
// (EmitOnWindowClose): a bound on window start or end, kept in the store
// "<Store>-emitted" so that a restart never emits a window twice. It is
// read on first use, once the task's stores are restored.
type emitMark struct {
	store       state.KeyValueStore[string, int64]
	to          int64
	has, loaded bool
}

// addEmitMarkStore adds the store of an emitMark of the aggregation name,
// cached: however often the mark moves, its changelog gets one record per
// commit.
func addEmitMarkStore(b *topology.Builder, store, name string) {
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(store+"-emitted"), serde.String(), serde.Int64()).WithCaching(), name)
}

// open finds the store of the mark of store and, if wallClock > 0,
// schedules emitClosed every wallClock of wall-clock time, given the time
// in Unix ms (WallClockClose).
func (m *emitMark) open(ctx interface {
	processor.StoreGetter
	Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) (processor.Cancellable, error)
}, store string, wallClock time.Duration, emitClosed func(now int64) error) error {
	var err error
	if m.store, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, store+"-emitted"); err != nil || wallClock <= 0 {
		return err
	}
	_, err = ctx.Schedule(wallClock, processor.WallClockTime, processor.PunctuatorFunc(func(now time.Time) error {
		return emitClosed(now.UnixMilli())
	}))
	return err
}

// load reads the mark, once.
func (m *emitMark) load() error {
	if m.loaded || m.store == nil {
		return nil
	}
	to, ok, err := m.store.Get("")
	if err != nil {
		return err
	}
	m.to, m.has, m.loaded = to, ok, true
	return nil
}

// covers reports whether bound t was emitted already.
func (m *emitMark) covers(t int64) bool { return m.has && t <= m.to }

// advance records that everything up to bound was emitted.
func (m *emitMark) advance(bound int64) error {
	if err := m.store.Put("", bound); err != nil {
		return err
	}
	m.to, m.has = bound, true
	return nil
}

// lateContext is what dropLate and skipLate need of a processor.Context.
type lateContext interface {
	ApplicationID() string
	RecordMetadata() (processor.RecordMetadata, bool)
	DroppedRecord()
	Logger() *slog.Logger
}

// dropLate counts a late record of the aggregation name (the node's
// dropped-records) and logs why it was dropped.
func dropLate(ctx lateContext, name, why string, ts time.Time, streamTime int64, grace time.Duration) {
	ctx.DroppedRecord()
	logLate(ctx, "window: dropping a late record: "+why, ts, streamTime, grace)
}

// skipLate logs a record that is late for some of its windows, which have
// closed, but not for others, which it was added to: it is not dropped, so
// not counted. More are attributes to log.
func skipLate(ctx lateContext, ts time.Time, streamTime int64, grace time.Duration, more ...any) {
	logLate(ctx, "window: a late record skips the windows that have closed", ts, streamTime, grace, more...)
}

func logLate(ctx lateContext, msg string, ts time.Time, streamTime int64, grace time.Duration, more ...any) {
	md, _ := ctx.RecordMetadata()
	ctx.Logger().Warn(msg, append([]any{"timestamp", ts, "stream_time", time.UnixMilli(streamTime), "grace", grace,
		"topic", md.Topic, "partition", md.Partition, "offset", md.Offset}, more...)...)
}

// due is a window of a key not emitted yet (EmitOnWindowClose): the key,
// serialized (keys are compared by it), and the window's bounds, Unix ms.
type due[K any] struct {
	key        K
	raw        string
	start, end int64
}

func (a due[K]) compare(b due[K]) int {
	return cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.raw, b.raw), cmp.Compare(a.start, b.start))
}

// endHeap is a min-heap of windows by end, then serialized key, then start:
// the windows an aggregation has yet to emit, so that closing them never
// scans the store. A window may be in it more than once; popDue drops the
// copies.
type endHeap[K any] []due[K]

func (h *endHeap[K]) push(d due[K]) {
	*h = append(*h, d)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if s[parent].compare(s[i]) <= 0 {
			break
		}
		s[parent], s[i] = s[i], s[parent]
		i = parent
	}
}

func (h *endHeap[K]) pop() due[K] {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s[l].compare(s[small]) < 0 {
			small = l
		}
		if r < len(s) && s[r].compare(s[small]) < 0 {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

// popDue pops, oldest end first and each once, the windows that end at or
// before bound.
func (h *endHeap[K]) popDue(bound int64) []due[K] {
	var out []due[K]
	for len(*h) > 0 && (*h)[0].end <= bound {
		d := h.pop()
		if n := len(out); n == 0 || out[n-1].compare(d) != 0 {
			out = append(out, d)
		}
	}
	return out
}
