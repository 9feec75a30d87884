package window

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Emit says when a windowed aggregation forwards a window's result.
type Emit int

const (
	// EmitOnUpdate forwards a window's new result after every record that
	// updates it.
	EmitOnUpdate Emit = iota
	// EmitOnWindowClose forwards each window's final result once, when the
	// window closes: when the stream time the aggregation has seen reaches
	// its end plus the grace period ("suppress until window closes").
	// Closing is driven by stream time, which only records move: while the
	// input is idle, windows stay open. Set WallClockClose to also close
	// them by wall-clock time.
	EmitOnWindowClose
)

// String returns the strategy's name, as its constant spells it.
func (e Emit) String() string {
	switch e {
	case EmitOnUpdate:
		return "EmitOnUpdate"
	case EmitOnWindowClose:
		return "EmitOnWindowClose"
	}
	return fmt.Sprintf("Emit(%d)", int(e))
}

// WindowStoreFunc makes the window store of an aggregation:
// state.InMemoryWindowStore (the default), or a persistent one, such as
//
//	func(name string, retention, size time.Duration, dups bool) state.WindowBytesStoreSupplier {
//		return rocksdb.WindowStore(name, rocksdb.Options{}, retention, size, dups)
//	}
type WindowStoreFunc func(name string, retention, windowSize time.Duration, retainDuplicates bool) state.WindowBytesStoreSupplier

func (f WindowStoreFunc) orInMemory() WindowStoreFunc {
	if f == nil {
		return state.InMemoryWindowStore
	}
	return f
}

// SessionStoreFunc makes the session store of an aggregation:
// state.InMemorySessionStore (the default), or a persistent one, such as
//
//	func(name string, retention time.Duration) state.SessionBytesStoreSupplier {
//		return rocksdb.SessionStore(name, rocksdb.Options{}, retention)
//	}
type SessionStoreFunc func(name string, retention time.Duration) state.SessionBytesStoreSupplier

func (f SessionStoreFunc) orInMemory() SessionStoreFunc {
	if f == nil {
		return state.InMemorySessionStore
	}
	return f
}

// TimeAggregation configures a windowed aggregation over time windows.
type TimeAggregation[K, V, A any] struct {
	// Windows are the windows each record is aggregated into.
	Windows TimeWindows
	// Store names the window store of the results; AddTimeAggregation adds
	// it (retention Windows.Retention()), made by StoreFunc (default
	// in memory).
	Store     string
	StoreFunc WindowStoreFunc
	// KeySerde and AggSerde write the store's keys and results.
	KeySerde serde.Serde[K]
	AggSerde serde.Serde[A]
	// Init returns a window's result before its first record.
	Init func() A
	// First, if set, gives a window's result from its first record
	// instead of Add(key, value, Init()): a reduction has no initial
	// result (see Reduce). Init or First is required.
	First func(key K, value V) A
	// Add returns the window's result with the record's value added.
	Add func(key K, value V, agg A) A
	// Emit says when results are forwarded. Default EmitOnUpdate.
	Emit Emit
	// WallClockClose, with EmitOnWindowClose, also closes windows by
	// wall-clock time, checked at this interval: a window whose end plus
	// grace has passed on the wall clock is emitted even if no record
	// moved stream time there. A record that comes for it later is late.
	// Default 0: stream time only.
	WallClockClose time.Duration
}

// AddTimeAggregation adds to b a processor named name that aggregates its
// parents' records into cfg.Windows, its result store (and, for
// EmitOnWindowClose, the store "<Store>-emitted" that remembers what was
// emitted, so that a restart never emits a window twice), and returns the
// node of its results, keyed by window.
//
// A record is late for a window that has closed (end + grace at or before
// the stream time the processor has seen); it is not added there, which is
// logged. A record late for every window it falls into is dropped, logged
// and counted (the node's dropped-records metric).
func AddTimeAggregation[K, V, A any](b *topology.Builder, name string, cfg TimeAggregation[K, V, A], parents ...topology.Node[K, V]) topology.Node[state.Windowed[K], A] {
	if err := cfg.Windows.Validate(); err != nil {
		panic(fmt.Sprintf("window: aggregation %q: %v", name, err))
	}
	mustFold(name, cfg.Init == nil && cfg.First == nil, cfg.Add == nil)
	n := topology.AddProcessor(b, name, func() processor.Processor[K, V, state.Windowed[K], A] {
		return &timeAggregator[K, V, A]{cfg: cfg, name: name, observed: math.MinInt64}
	}, parents...)
	b.AddStateStore(state.NewWindowStoreBuilder(
		cfg.StoreFunc.orInMemory()(cfg.Store, cfg.Windows.Retention(), cfg.Windows.Size, false), cfg.KeySerde, cfg.AggSerde), name)
	if cfg.Emit == EmitOnWindowClose {
		addEmitMarkStore(b, cfg.Store, name)
	}
	return n
}

// Count is the Init and Add of a count.
func Count[K, V any]() (func() int64, func(K, V, int64) int64) {
	return func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }
}

// Reduce is the First and Add of a reduction with f: a window's result is
// its first value, then f(result, value) for each next one, as Kafka
// Streams' reduce.
func Reduce[K, V any](f func(agg, value V) V) (func(K, V) V, func(K, V, V) V) {
	return func(_ K, v V) V { return v }, func(_ K, v V, agg V) V { return f(agg, v) }
}

// begin returns a window's result from its first record.
func begin[K, V, A any](init func() A, first func(K, V) A, add func(K, V, A) A, key K, value V) A {
	if first != nil {
		return first(key, value)
	}
	return add(key, value, init())
}

// mustFold panics, naming the aggregation, when it lacks a way to start or
// to add to a result: a wiring mistake, caught when the topology is built.
func mustFold(name string, noStart, noAdd bool) {
	switch {
	case noStart:
		panic(fmt.Sprintf("window: aggregation %q: set Init (or First, for a reduction)", name))
	case noAdd:
		panic(fmt.Sprintf("window: aggregation %q: set Add", name))
	}
}

type timeAggregator[K, V, A any] struct {
	cfg   TimeAggregation[K, V, A]
	name  string
	ctx   processor.Context[state.Windowed[K], A]
	store state.WindowStore[K, A]
	// emitted is the window start up to which windows were emitted
	// (EmitOnWindowClose).
	emitted emitMark
	// observed is the largest record time seen, Unix ms; math.MinInt64
	// before the first.
	observed int64
}

func (p *timeAggregator[K, V, A]) Init(ctx processor.Context[state.Windowed[K], A]) error {
	p.ctx = ctx
	var err error
	if p.store, err = processor.GetStore[state.WindowStore[K, A]](ctx, p.cfg.Store); err != nil {
		return err
	}
	if p.cfg.Emit == EmitOnWindowClose {
		err = p.emitted.open(ctx, p.cfg.Store, p.cfg.WallClockClose, p.emitClosed)
	}
	return err
}

func (p *timeAggregator[K, V, A]) Process(rec processor.Record[K, V]) error {
	t := rec.Timestamp.UnixMilli()
	p.observed = max(p.observed, t)
	now := time.UnixMilli(p.observed)
	if p.cfg.Emit == EmitOnWindowClose {
		// Before the record is put: the store keeps a window for size +
		// grace behind the latest start put, so the put that moves time
		// past a window's close may drop it.
		if err := p.emitClosed(p.observed); err != nil {
			return err
		}
	}
	added, closed := false, 0
	size := p.cfg.Windows.Size.Milliseconds()
	for start := p.cfg.Windows.firstStart(t); start <= t; start += p.cfg.Windows.Advance.Milliseconds() {
		w := Bounds{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(start + size).UTC()}
		if p.cfg.Windows.Closed(w, now) || p.emitted.covers(start) {
			closed++ // late for this window: closed, or emitted already (by the wall clock)
			continue
		}
		agg, ok, err := p.store.FetchOne(rec.Key, w.Start)
		if err != nil {
			return err
		}
		if ok {
			agg = p.cfg.Add(rec.Key, rec.Value, agg)
		} else {
			agg = begin(p.cfg.Init, p.cfg.First, p.cfg.Add, rec.Key, rec.Value)
		}
		if err := p.store.Put(rec.Key, agg, w.Start); err != nil {
			return err
		}
		added = true
		if p.cfg.Emit == EmitOnUpdate {
			out := processor.Derive(rec, state.Windowed[K]{Key: rec.Key, Start: w.Start, End: w.End}, agg)
			if err := p.ctx.Forward(out); err != nil {
				return err
			}
		}
	}
	switch {
	case !added:
		dropLate(p.ctx, p.name, "every window it falls into has closed", rec.Timestamp, p.observed, p.cfg.Windows.Grace)
	case closed > 0:
		skipLate(p.ctx, rec.Timestamp, p.observed, p.cfg.Windows.Grace, "closed_windows", closed)
	}
	return nil
}

// emitClosed forwards, once, every window that has closed at time now (Unix
// ms) and was not emitted yet: the windows whose start lies after the last
// emitted bound and at or before now - size - grace. Window starts are
// multiples of the advance, so the store is only read when that bound
// passes one.
func (p *timeAggregator[K, V, A]) emitClosed(now int64) error {
	if err := p.emitted.load(); err != nil {
		return err
	}
	adv := p.cfg.Windows.Advance.Milliseconds()
	bound := floorDiv(now-p.cfg.Windows.Size.Milliseconds()-p.cfg.Windows.Grace.Milliseconds(), adv) * adv
	from := time.UnixMilli(p.emitted.to + 1)
	if !p.emitted.has {
		from = time.UnixMilli(bound - p.cfg.Windows.Retention().Milliseconds())
	} else if bound <= p.emitted.to {
		return nil
	}
	to := time.UnixMilli(bound)
	var closed []state.KeyValue[state.Windowed[K], A]
	for kv, err := range p.store.FetchAll(from, to) {
		if err != nil {
			return err
		}
		closed = append(closed, kv)
	}
	// Oldest window first; one window's keys in key order.
	slices.SortStableFunc(closed, func(a, b state.KeyValue[state.Windowed[K], A]) int { return a.Key.Start.Compare(b.Key.Start) })
	for _, kv := range closed {
		ts := kv.Key.End.Add(-time.Millisecond) // the last instant in the window
		if err := p.ctx.Forward(processor.NewRecord(kv.Key, kv.Value, ts)); err != nil {
			return err
		}
	}
	return p.emitted.advance(bound)
}

func (p *timeAggregator[K, V, A]) Close() error { return nil }
