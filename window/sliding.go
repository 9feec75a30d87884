package window

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// SlidingAggregation configures a sliding-window aggregation, with Kafka
// Streams' window set: for each record time t of a key, the window
// [t - d, t] that ends at the record and, when another record of the key
// follows within d + 1, the window [t + 1, t + 1 + d] that starts just after
// it (d is MaxTimeDifference, both bounds inclusive). Each distinct
// combination of records that fall within d of each other is a window, so
// every window's result reflects a record entering or leaving it.
type SlidingAggregation[K, V, A any] struct {
	Windows SlidingWindows
	// Store names the store of the records the windows are computed from
	// (a window store keeping duplicates, retention MaxTimeDifference +
	// Grace + 2ms); AddSlidingAggregation adds it.
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
	// open window a record changes or creates, oldest start first.
	// EmitOnWindowClose: each window once, when stream time passes its end
	// + grace, oldest end first. A result's timestamp is its window's
	// latest record time.
	Emit Emit
	// WallClockClose, with EmitOnWindowClose, also closes windows by
	// wall-clock time, checked at this interval: a window whose end + grace
	// has passed on the wall clock is emitted even if no record moved
	// stream time there. A record all of whose windows were emitted is
	// late. Default 0: stream time only.
	WallClockClose time.Duration
}

// AddSlidingAggregation adds to b a processor named name that aggregates its
// parents' records into sliding windows, its record store (and, for
// EmitOnWindowClose, "<Store>-emitted"), and returns the node of its
// results, keyed by window.
//
// A window has closed once stream time is past its end + grace; a record is
// not added to closed windows. As in Kafka Streams, a record is dropped,
// logged and counted (LateRecords) only when even the window that would
// start just after it has closed (its time + 1 + d + grace at or before the
// stream time seen): until then it may still be in, or start, an open
// window.
func AddSlidingAggregation[K, V, A any](b *topology.Builder, name string, cfg SlidingAggregation[K, V, A], parents ...topology.Node[K, V]) topology.Node[state.Windowed[K], A] {
	if err := cfg.Windows.Validate(); err != nil {
		panic(fmt.Sprintf("window: aggregation %q: %v", name, err))
	}
	mustFold(name, cfg.Init == nil && cfg.First == nil, cfg.Add == nil)
	n := topology.AddProcessor(b, name, func() processor.Processor[K, V, state.Windowed[K], A] {
		return &slidingAggregator[K, V, A]{
			cfg: cfg, name: name, observed: math.MinInt64,
			d: cfg.Windows.MaxTimeDifference.Milliseconds(), grace: cfg.Windows.Grace.Milliseconds(),
		}
	}, parents...)
	// An open window [s, s+d] needs the record at s - 1 too, to know that it
	// exists: records stay while time + d + grace + 1 >= stream time.
	retention := cfg.Windows.MaxTimeDifference + cfg.Windows.Grace + 2*time.Millisecond
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
	// d and grace are the windows' MaxTimeDifference and Grace, in ms.
	d, grace int64
	// observed is the largest record time seen, Unix ms; math.MinInt64
	// before the first.
	observed int64
	// nextDue is a lower bound on the end of the windows not emitted yet,
	// if nextKnown (EmitOnWindowClose): emitClosed reads the store only
	// once the close bound reaches it.
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
		if err == nil && p.cfg.WallClockClose > 0 {
			_, err = ctx.Schedule(p.cfg.WallClockClose, processor.WallClockTime, processor.PunctuatorFunc(func(now time.Time) error {
				return p.emitClosed(now.UnixMilli())
			}))
		}
	}
	return err
}

// slidingEnds returns the ends of the sliding windows that the record times
// ts (ascending, Unix ms) define, ascending and distinct: each time t ends
// the window [t-d, t], and a time followed by another within d + 1 ends the
// window [t+1, t+1+d] that starts just after it.
func slidingEnds(ts []int64, d int64) []int64 {
	ends := make([]int64, 0, 2*len(ts))
	for i, t := range ts {
		ends = append(ends, t)
		if i+1 < len(ts) && ts[i+1] > t && ts[i+1] <= t+1+d {
			ends = append(ends, t+1+d)
		}
	}
	slices.Sort(ends)
	return slices.Compact(ends)
}

// times returns the distinct times of key's records in [from, to], Unix
// ms, ascending.
func (p *slidingAggregator[K, V, A]) times(key K, from, to int64) ([]int64, error) {
	var ts []int64
	for kv, err := range p.records.Fetch(key, time.UnixMilli(from), time.UnixMilli(to)) {
		if err != nil {
			return nil, err
		}
		if t := kv.Key.UnixMilli(); len(ts) == 0 || ts[len(ts)-1] != t {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// forward forwards the result of key's window ending at end: its records
// folded, stamped with the latest of their times. An empty window is not
// forwarded.
func (p *slidingAggregator[K, V, A]) forward(key K, end int64) error {
	var agg A
	latest, started := int64(0), false
	for kv, err := range p.records.Fetch(key, time.UnixMilli(end-p.d), time.UnixMilli(end)) {
		if err != nil {
			return err
		}
		if started {
			agg = p.cfg.Add(key, kv.Value, agg)
		} else {
			agg, started = begin(p.cfg.Init, p.cfg.First, p.cfg.Add, key, kv.Value), true
		}
		latest = max(latest, kv.Key.UnixMilli())
	}
	if !started {
		return nil
	}
	w := state.Windowed[K]{Key: key, Start: time.UnixMilli(end - p.d), End: time.UnixMilli(end)}
	return p.ctx.Forward(processor.NewRecord(w, agg, time.UnixMilli(latest)))
}

func (p *slidingAggregator[K, V, A]) Process(rec processor.Record[K, V]) error {
	t := rec.Timestamp.UnixMilli()
	p.observed = max(p.observed, t)
	if p.cfg.Emit == EmitOnWindowClose {
		// Before the record is put, which may expire what is due.
		if err := p.emitClosed(p.observed); err != nil {
			return err
		}
	}
	d := p.d
	// The last window the record touches, the one starting just after it,
	// ends at t+1+d.
	if t+1+d+p.grace <= p.observed || p.emitted.covers(t+1+d) {
		dropLate(p.ctx, p.name, "every sliding window it falls into or starts has closed", rec.Timestamp, p.observed, p.cfg.Windows.Grace)
		return nil
	}
	if p.cfg.Emit != EmitOnUpdate {
		p.nextDue = min(p.nextDue, t) // every window the record makes or joins ends at t or later
		return p.records.Put(rec.Key, rec.Value, rec.Timestamp)
	}
	// The record times around t, before the put: the windows the record
	// falls into end in [t, t+d], and the one starting after it needs a
	// record in (t, t+1+d].
	ts, err := p.times(rec.Key, t-1-d, t+1+d)
	if err != nil {
		return err
	}
	i, seen := slices.BinarySearch(ts, t)
	if err := p.records.Put(rec.Key, rec.Value, rec.Timestamp); err != nil {
		return err
	}
	if !seen {
		ts = slices.Insert(ts, i, t)
	}
	open := p.observed - p.grace // the earliest end of an open window
	for _, end := range slidingEnds(ts, d) {
		// The windows holding t, and the one starting just after it, if
		// new: it existed already if a record ends it.
		changed := end >= t && end-d <= t || !seen && end == t+1+d && !slices.Contains(ts, end)
		if changed && end >= open {
			if err := p.forward(rec.Key, end); err != nil {
				return err
			}
		}
	}
	return nil
}

// emitClosed forwards, once, every window whose end is at or before now -
// grace - 1 (now in Unix ms: the stream time seen, or the wall clock) and
// was not emitted yet, oldest end first.
func (p *slidingAggregator[K, V, A]) emitClosed(now int64) error {
	if err := p.emitted.load(); err != nil {
		return err
	}
	bound := now - p.grace - 1
	if p.emitted.covers(bound) {
		return nil
	}
	if p.nextKnown && bound < p.nextDue {
		// Nothing is due, but the mark moves on: a record kept though its
		// own window has closed (see AddSlidingAggregation) must not make
		// that window due later.
		return p.emitted.advance(bound)
	}
	// The windows ending after the mark start at or after mark - d + 1 and
	// may need the record just before that start to exist.
	after := int64(math.MinInt64)
	from := bound - 2*p.d - p.grace - 2 // older records have expired
	if p.emitted.has {
		after, from = p.emitted.to, p.emitted.to-p.d
	}
	type keyTimes struct {
		key K
		ts  []int64
	}
	var keys []*keyTimes
	byRaw := map[string]*keyTimes{}
	for kv, err := range p.records.FetchAll(time.UnixMilli(from), time.UnixMilli(max(now, p.observed))) {
		if err != nil {
			return err
		}
		raw, err := p.cfg.KeySerde.Serialize(kv.Key.Key)
		if err != nil {
			return err
		}
		k := byRaw[string(raw)]
		if k == nil {
			k = &keyTimes{key: kv.Key.Key}
			byRaw[string(raw)] = k
			keys = append(keys, k)
		}
		k.ts = append(k.ts, kv.Key.Start.UnixMilli())
	}
	type due struct {
		key K
		end int64
	}
	var closed []due
	p.nextKnown, p.nextDue = true, math.MaxInt64
	for _, k := range keys {
		slices.Sort(k.ts)
		for _, end := range slidingEnds(slices.Compact(k.ts), p.d) {
			switch {
			case end > bound:
				p.nextDue = min(p.nextDue, end)
			case end > after:
				closed = append(closed, due{k.key, end})
			}
		}
	}
	slices.SortStableFunc(closed, func(a, b due) int { return cmp.Compare(a.end, b.end) })
	for _, c := range closed {
		if err := p.forward(c.key, c.end); err != nil {
			return err
		}
	}
	return p.emitted.advance(bound)
}

func (p *slidingAggregator[K, V, A]) Close() error { return nil }
