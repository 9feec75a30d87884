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
	// Grace + 2ms); AddSlidingAggregation adds it, made by StoreFunc
	// (default in memory).
	Store     string
	StoreFunc WindowStoreFunc
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
// logged and counted (the node's dropped-records metric) only when even the window that would
// start just after it has closed (its time + 1 + d + grace at or before the
// stream time seen): until then it may still be in, or start, an open
// window. A record whose own window has closed but that is kept is logged,
// not counted.
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
		cfg.StoreFunc.orInMemory()(cfg.Store, retention, time.Millisecond, true), cfg.KeySerde, cfg.ValueSerde), name)
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
	// pending holds the windows not emitted yet (EmitOnWindowClose), by
	// end; a window may be in it more than once. It is rebuilt from the
	// record store on first use (pendingLoaded), after a restart too.
	pending       endHeap[K]
	pendingLoaded bool
}

func (p *slidingAggregator[K, V, A]) Init(ctx processor.Context[state.Windowed[K], A]) error {
	p.ctx = ctx
	var err error
	if p.records, err = processor.GetStore[state.WindowStore[K, V]](ctx, p.cfg.Store); err != nil {
		return err
	}
	if p.cfg.Emit == EmitOnWindowClose {
		err = p.emitted.open(ctx, p.cfg.Store, p.cfg.WallClockClose, p.emitClosed)
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

// timedValue is a record of the store: its time (Unix ms) and value.
type timedValue[V any] struct {
	at    int64
	value V
}

// fetch returns key's records in [from, to], in store order: by time, then
// as they were put.
func (p *slidingAggregator[K, V, A]) fetch(key K, from, to int64) ([]timedValue[V], error) {
	var recs []timedValue[V]
	for kv, err := range p.records.Fetch(key, time.UnixMilli(from), time.UnixMilli(to)) {
		if err != nil {
			return nil, err
		}
		recs = append(recs, timedValue[V]{kv.Key.UnixMilli(), kv.Value})
	}
	return recs, nil
}

// forward forwards the result of key's window ending at end, folded from
// recs (key's records in store order, covering the window), stamped with
// its latest record time. An empty window is not forwarded.
func (p *slidingAggregator[K, V, A]) forward(key K, end int64, recs []timedValue[V]) error {
	i, _ := slices.BinarySearchFunc(recs, end-p.d, func(r timedValue[V], at int64) int { return cmp.Compare(r.at, at) })
	var agg A
	latest, started := int64(0), false
	for ; i < len(recs) && recs[i].at <= end; i++ {
		if started {
			agg = p.cfg.Add(key, recs[i].value, agg)
		} else {
			agg, started = begin(p.cfg.Init, p.cfg.First, p.cfg.Add, key, recs[i].value), true
		}
		latest = recs[i].at
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
	// The windows that hold the record end by t+d. As in Kafka Streams, it
	// is dropped once they have all closed, even though the window starting
	// just after it, ending at t+1+d, is open for one more millisecond.
	if p.closed(t + d) {
		dropLate(p.ctx, p.name, "every sliding window it falls into or starts has closed", rec.Timestamp, p.observed, p.cfg.Windows.Grace)
		return nil
	}
	if p.closed(t) {
		// Its own window has closed, and perhaps others that hold it; the
		// later ones have not.
		skipLate(p.ctx, rec.Timestamp, p.observed, p.cfg.Windows.Grace)
	}
	if p.cfg.Emit != EmitOnUpdate {
		if err := p.records.Put(rec.Key, rec.Value, rec.Timestamp); err != nil {
			return err
		}
		return p.addPending(rec.Key, t)
	}
	// The records around t, before the put: the windows the record falls
	// into start at t-d or later and end at t+d or earlier, the one
	// starting after it needs a record in (t, t+1+d], and the one starting
	// at t-d exists if a record is at t-d-1.
	recs, err := p.fetch(rec.Key, t-1-d, t+1+d)
	if err != nil {
		return err
	}
	i, _ := slices.BinarySearchFunc(recs, t+1, func(r timedValue[V], at int64) int { return cmp.Compare(r.at, at) })
	seen := i > 0 && recs[i-1].at == t
	if err := p.records.Put(rec.Key, rec.Value, rec.Timestamp); err != nil {
		return err
	}
	recs = slices.Insert(recs, i, timedValue[V]{t, rec.Value}) // after its time's earlier records, as the store keeps it
	ts := make([]int64, 0, len(recs))
	for _, r := range recs {
		if len(ts) == 0 || ts[len(ts)-1] != r.at {
			ts = append(ts, r.at)
		}
	}
	for _, end := range slidingEnds(ts, d) {
		// The windows holding t, and the one starting just after it, if
		// new: it existed already if a record ends it.
		changed := end >= t && end-d <= t || !seen && end == t+1+d && !slices.Contains(ts, end)
		if changed && !p.closed(end) {
			if err := p.forward(rec.Key, end, recs); err != nil {
				return err
			}
		}
	}
	return nil
}

// closed reports whether the window ending at end has closed: stream time
// is past its end + grace, or it was emitted (the mark also says so after a
// restart, or when the wall clock closed windows).
func (p *slidingAggregator[K, V, A]) closed(end int64) bool {
	return end+p.grace < p.observed || p.emitted.covers(end)
}

// addPending adds to pending the windows a record of key at t may have
// made: the one ending at t, the one starting just after t if a record
// follows within d + 1, and the one starting just after the record before t
// (the records before that one already had a record after them).
func (p *slidingAggregator[K, V, A]) addPending(key K, t int64) error {
	if !p.pendingLoaded {
		return nil // loadPending will find them in the store
	}
	raw, err := p.cfg.KeySerde.Serialize(key)
	if err != nil {
		return err
	}
	push := func(end int64) {
		if !p.emitted.covers(end) {
			p.pending.push(due[K]{key, string(raw), end - p.d, end})
		}
	}
	push(t)
	for _, err := range p.records.Fetch(key, time.UnixMilli(t+1), time.UnixMilli(t+1+p.d)) {
		if err != nil {
			return err
		}
		push(t + 1 + p.d)
		break
	}
	for kv, err := range p.records.BackwardFetch(key, time.UnixMilli(t-1-p.d), time.UnixMilli(t-1)) {
		if err != nil {
			return err
		}
		push(kv.Key.UnixMilli() + 1 + p.d)
		break
	}
	return nil
}

// loadPending fills pending with every window of the record store not
// emitted yet.
func (p *slidingAggregator[K, V, A]) loadPending() error {
	after := int64(math.MinInt64 / 2) // before any record
	if p.emitted.has {
		after = p.emitted.to
	}
	type keyTimes struct {
		key K
		raw string
		ts  []int64
	}
	var keys []*keyTimes
	byRaw := map[string]*keyTimes{}
	for kv, err := range p.records.FetchAll(time.UnixMilli(after-p.d), time.UnixMilli(math.MaxInt64/2)) {
		if err != nil {
			return err
		}
		raw, err := p.cfg.KeySerde.Serialize(kv.Key.Key)
		if err != nil {
			return err
		}
		k := byRaw[string(raw)]
		if k == nil {
			k = &keyTimes{key: kv.Key.Key, raw: string(raw)}
			byRaw[string(raw)] = k
			keys = append(keys, k)
		}
		k.ts = append(k.ts, kv.Key.Start.UnixMilli())
	}
	p.pending = nil
	for _, k := range keys {
		slices.Sort(k.ts)
		for _, end := range slidingEnds(slices.Compact(k.ts), p.d) {
			if end > after {
				p.pending.push(due[K]{k.key, k.raw, end - p.d, end})
			}
		}
	}
	p.pendingLoaded = true
	return nil
}

// emitClosed forwards, once, every window whose end is at or before now -
// grace - 1 (now in Unix ms: the stream time seen, or the wall clock) and
// was not emitted yet, oldest end first.
func (p *slidingAggregator[K, V, A]) emitClosed(now int64) error {
	if err := p.emitted.load(); err != nil {
		return err
	}
	if !p.pendingLoaded {
		if err := p.loadPending(); err != nil {
			return err
		}
	}
	bound := now - p.grace - 1
	if p.emitted.covers(bound) {
		return nil
	}
	for _, c := range p.pending.popDue(bound) {
		recs, err := p.fetch(c.key, c.start, c.end)
		if err != nil {
			return err
		}
		if err := p.forward(c.key, c.end, recs); err != nil {
			return err
		}
	}
	// The mark moves on even when nothing was due: a record kept though its
	// own window has closed (see AddSlidingAggregation) must not make that
	// window due later.
	return p.emitted.advance(bound)
}

func (p *slidingAggregator[K, V, A]) Close() error { return nil }
