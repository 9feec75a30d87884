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

// SlidingAggregation configures a sliding-window aggregation: for each
// record of a key at time t, the window [t - MaxTimeDifference, t], both
// bounds inclusive, holds the key's records of those times. (Kafka Streams
// also emits the windows that start just after each record, when records
// leave a window; these aggregations only have the windows that end at a
// record, when one enters.)
type SlidingAggregation[K, V, A any] struct {
	Windows SlidingWindows
	// Store names the store of the records the windows are computed from
	// (a window store keeping duplicates, retention MaxTimeDifference +
	// Grace); AddSlidingAggregation adds it.
	Store string
	// KeySerde and ValueSerde write the store's keys and record values.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	Init       func() A
	// First, if set, gives a window's result from its first record
	// instead of Add(key, value, Init()) (see Reduce).
	First func(key K, value V) A
	Add   func(key K, value V, agg A) A
	// Emit says when results are forwarded. Default EmitOnUpdate: every
	// window a record changes (its own, and those of later records that it
	// falls into, when it comes out of order). EmitOnWindowClose: each
	// window once, when stream time passes its end + grace.
	Emit Emit
}

// AddSlidingAggregation adds to b a processor named name that aggregates its
// parents' records into sliding windows, its record store (and, for
// EmitOnWindowClose, "<Store>-emitted"), and returns the node of its
// results, keyed by window. A record whose own window has closed (its time
// + grace at or before the stream time seen) is dropped, logged and counted
// (LateRecords).
func AddSlidingAggregation[K, V, A any](b *topology.Builder, name string, cfg SlidingAggregation[K, V, A], parents ...topology.Node[K, V]) topology.Node[state.Windowed[K], A] {
	if err := cfg.Windows.Validate(); err != nil {
		panic(fmt.Sprintf("window: aggregation %q: %v", name, err))
	}
	mustFold(name, cfg.Init == nil && cfg.First == nil, cfg.Add == nil)
	n := topology.AddProcessor(b, name, func() processor.Processor[K, V, state.Windowed[K], A] {
		return &slidingAggregator[K, V, A]{cfg: cfg, name: name, observed: math.MinInt64}
	}, parents...)
	retention := cfg.Windows.MaxTimeDifference + cfg.Windows.Grace + time.Millisecond
	b.AddStateStore(state.NewWindowStoreBuilder(
		state.InMemoryWindowStore(cfg.Store, retention, time.Millisecond, true), cfg.KeySerde, cfg.ValueSerde), name)
	if cfg.Emit == EmitOnWindowClose {
		addEmitMarkStore(b, cfg.Store, name)
	}
	return n
}

type slidingAggregator[K, V, A any] struct {
	cfg     SlidingAggregation[K, V, A]
	name    string
	ctx     processor.Context[state.Windowed[K], A]
	records state.WindowStore[K, V]
	emitted emitMark
	// observed is the largest record time seen, Unix ms; math.MinInt64
	// before the first.
	observed int64
	// nextDue is the earliest time of a record whose window was not
	// emitted yet, if nextKnown (EmitOnWindowClose): emitClosed reads the
	// store only once the close bound reaches it.
	nextDue   int64
	nextKnown bool
}

func (p *slidingAggregator[K, V, A]) Init(ctx processor.Context[state.Windowed[K], A]) error {
	p.ctx = ctx
	var err error
	if p.records, err = processor.GetStore[state.WindowStore[K, V]](ctx, p.cfg.Store); err != nil {
		return err
	}
	if p.cfg.Emit == EmitOnWindowClose {
		err = p.emitted.open(ctx, p.cfg.Store)
	}
	return err
}

// window folds the key's records in [end - d, end].
func (p *slidingAggregator[K, V, A]) window(key K, end time.Time) (A, error) {
	var agg A
	started := false
	for kv, err := range p.records.Fetch(key, end.Add(-p.cfg.Windows.MaxTimeDifference), end) {
		if err != nil {
			return agg, err
		}
		if started {
			agg = p.cfg.Add(key, kv.Value, agg)
		} else {
			agg, started = begin(p.cfg.Init, p.cfg.First, p.cfg.Add, key, kv.Value), true
		}
	}
	return agg, nil
}

func (p *slidingAggregator[K, V, A]) Process(rec processor.Record[K, V]) error {
	t := rec.Timestamp.UnixMilli()
	p.observed = max(p.observed, t)
	if p.cfg.Emit == EmitOnWindowClose {
		// Before the record is put, which may expire what is due.
		if err := p.emitClosed(); err != nil {
			return err
		}
	}
	// A sliding window's bounds are inclusive: the window ending at t has
	// closed once stream time is past t + grace.
	grace := p.cfg.Windows.Grace.Milliseconds()
	if t+grace < p.observed {
		dropLate(p.ctx, p.name, "its sliding window has closed", rec.Timestamp, p.observed, p.cfg.Windows.Grace)
		return nil
	}
	// The windows of later records that this one falls into, before it is
	// put (a record at the same time as this one shares its window).
	var later []time.Time
	if p.cfg.Emit == EmitOnUpdate {
		d := p.cfg.Windows.MaxTimeDifference
		for kv, err := range p.records.Fetch(rec.Key, rec.Timestamp.Add(time.Millisecond), rec.Timestamp.Add(d)) {
			if err != nil {
				return err
			}
			if n := len(later); n == 0 || !later[n-1].Equal(kv.Key) {
				later = append(later, kv.Key)
			}
		}
	}
	if err := p.records.Put(rec.Key, rec.Value, rec.Timestamp); err != nil {
		return err
	}
	if p.cfg.Emit != EmitOnUpdate {
		p.nextDue = min(p.nextDue, t)
		return nil
	}
	for _, end := range append([]time.Time{rec.Timestamp}, later...) {
		agg, err := p.window(rec.Key, end)
		if err != nil {
			return err
		}
		w := state.Windowed[K]{Key: rec.Key, Start: end.Add(-p.cfg.Windows.MaxTimeDifference), End: end}
		if err := p.ctx.Forward(processor.NewRecord(w, agg, end)); err != nil {
			return err
		}
	}
	return nil
}

// emitClosed forwards, once, the window of every record time at or before
// stream time - grace not emitted yet, oldest first.
func (p *slidingAggregator[K, V, A]) emitClosed() error {
	if err := p.emitted.load(); err != nil {
		return err
	}
	bound := p.observed - p.cfg.Windows.Grace.Milliseconds() - 1
	if p.emitted.covers(bound) || p.nextKnown && bound < p.nextDue {
		return nil
	}
	from := time.UnixMilli(p.emitted.to + 1)
	if !p.emitted.has {
		from = time.UnixMilli(bound - p.cfg.Windows.MaxTimeDifference.Milliseconds() - p.cfg.Windows.Grace.Milliseconds() - 1)
	}
	type end struct {
		key K
		raw string // the serialized key, to tell keys apart
		at  time.Time
	}
	var ends []end
	// Every record not emitted yet: those due now, and the earliest of the
	// others, when the next scan is due.
	p.nextKnown, p.nextDue = true, math.MaxInt64
	for kv, err := range p.records.FetchAll(from, time.UnixMilli(p.observed)) {
		if err != nil {
			p.nextKnown = false
			return err
		}
		if at := kv.Key.Start.UnixMilli(); at > bound {
			p.nextDue = min(p.nextDue, at)
			continue
		}
		raw, err := p.cfg.KeySerde.Serialize(kv.Key.Key)
		if err != nil {
			return err
		}
		// Records of one key and time are adjacent: one window.
		if n := len(ends); n > 0 && ends[n-1].at.Equal(kv.Key.Start) && ends[n-1].raw == string(raw) {
			continue
		}
		ends = append(ends, end{kv.Key.Key, string(raw), kv.Key.Start})
	}
	slices.SortStableFunc(ends, func(a, b end) int { return a.at.Compare(b.at) })
	for _, e := range ends {
		agg, err := p.window(e.key, e.at)
		if err != nil {
			return err
		}
		w := state.Windowed[K]{Key: e.key, Start: e.at.Add(-p.cfg.Windows.MaxTimeDifference), End: e.at}
		if err := p.ctx.Forward(processor.NewRecord(w, agg, e.at)); err != nil {
			return err
		}
	}
	return p.emitted.advance(bound)
}

func (p *slidingAggregator[K, V, A]) Close() error { return nil }
