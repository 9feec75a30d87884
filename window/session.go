package window

import (
	"fmt"
	"math"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// SessionAggregation configures a session-window aggregation.
type SessionAggregation[K, V, A any] struct {
	// Windows are the sessions: Gap of inactivity ends one.
	Windows SessionWindows
	// Store names the session store of the results; AddSessionAggregation
	// adds it (retention gap + grace + 1ms, at least a minute), made by StoreFunc
	// (default in memory).
	Store     string
	StoreFunc SessionStoreFunc
	// KeySerde and AggSerde write the store's keys and results.
	KeySerde serde.Serde[K]
	AggSerde serde.Serde[A]
	// Init returns a new session's result before its first record.
	Init func() A
	// First, if set, gives a new session's result from its first record
	// instead of Add(key, value, Init()), and sessions merge from the first
	// one's result rather than from Init() (see Reduce).
	First func(key K, value V) A
	// Add returns the session's result with the record's value added.
	Add func(key K, value V, agg A) A
	// Merge returns the result of two sessions that a record joins into one.
	Merge func(key K, a, b A) A
	// Emit says when results are forwarded. Default EmitOnUpdate: after
	// every record, its session's new result, preceded by a retraction of
	// each session the record's session replaced (merged or extended):
	// that session's key with the zero value of A, where Kafka Streams
	// forwards a null. With a pointer result type and serde.Nullable at the
	// sink, a retraction is a Kafka tombstone, so a compacted topic or a
	// table downstream forgets the replaced session. EmitOnWindowClose:
	// each session once, when stream time passes its end + gap + grace,
	// and never one that was replaced.
	Emit Emit
	// WallClockClose, with EmitOnWindowClose, also closes sessions by
	// wall-clock time, checked at this interval: a session whose end + gap
	// + grace has passed on the wall clock is emitted even if no record
	// moved stream time there, so an idle key's (or input's) last session
	// comes out. A record that comes for it later is late. Default 0:
	// stream time only.
	WallClockClose time.Duration
}

// AddSessionAggregation adds to b a processor named name that aggregates its
// parents' records into sessions, its session store (and, for
// EmitOnWindowClose, "<Store>-emitted"), and returns the node of its
// results, keyed by session (both bounds inclusive). A record is late when
// the session it would make or join ended more than gap + grace before the
// stream time the processor has seen; it is dropped, logged and counted
// (the node's dropped-records metric).
func AddSessionAggregation[K, V, A any](b *topology.Builder, name string, cfg SessionAggregation[K, V, A], parents ...topology.Node[K, V]) topology.Node[state.Windowed[K], A] {
	if err := cfg.Windows.Validate(); err != nil {
		panic(fmt.Sprintf("window: aggregation %q: %v", name, err))
	}
	mustFold(name, cfg.Init == nil && cfg.First == nil, cfg.Add == nil || cfg.Merge == nil)
	n := topology.AddProcessor(b, name, func() processor.Processor[K, V, state.Windowed[K], A] {
		return &sessionAggregator[K, V, A]{cfg: cfg, name: name, observed: math.MinInt64}
	}, parents...)
	// A session closes once stream time is past end + gap + grace: the
	// store keeps it until then, a millisecond past gap + grace.
	retention := max(cfg.Windows.Gap+cfg.Windows.Grace+time.Millisecond, time.Minute)
	b.AddStateStore(state.NewSessionStoreBuilder(cfg.StoreFunc.orInMemory()(cfg.Store, retention), cfg.KeySerde, cfg.AggSerde), name)
	if cfg.Emit == EmitOnWindowClose {
		addEmitMarkStore(b, cfg.Store, name)
	}
	return n
}

type sessionAggregator[K, V, A any] struct {
	cfg     SessionAggregation[K, V, A]
	name    string
	ctx     processor.Context[state.Windowed[K], A]
	store   state.SessionStore[K, A]
	emitted emitMark
	// observed is the largest record time seen, Unix ms; math.MinInt64
	// before the first.
	observed int64
	// pending holds the sessions not emitted yet (EmitOnWindowClose),
	// including some a merge has replaced since. It is rebuilt from the
	// store on first use (pendingLoaded), after a restart too.
	pending       endHeap[K]
	pendingLoaded bool
}

func (p *sessionAggregator[K, V, A]) Init(ctx processor.Context[state.Windowed[K], A]) error {
	p.ctx = ctx
	var err error
	if p.store, err = processor.GetStore[state.SessionStore[K, A]](ctx, p.cfg.Store); err != nil {
		return err
	}
	if p.cfg.Emit == EmitOnWindowClose {
		err = p.emitted.open(ctx, p.cfg.Store, p.cfg.WallClockClose, p.emitClosed)
	}
	return err
}

func (p *sessionAggregator[K, V, A]) Process(rec processor.Record[K, V]) error {
	t := rec.Timestamp
	p.observed = max(p.observed, t.UnixMilli())
	if p.cfg.Emit == EmitOnWindowClose {
		// Before the record is put, which may expire closed sessions.
		if err := p.emitClosed(p.observed); err != nil {
			return err
		}
	}
	gap := p.cfg.Windows.Gap
	// A session has closed when its end + gap + grace is before the
	// stream time seen, or it was emitted (by the wall clock): no record
	// joins it any more.
	closeBound := p.cfg.Windows.closedTo(p.observed)
	if p.emitted.has {
		closeBound = max(closeBound, p.emitted.to)
	}
	merged := state.Windowed[K]{Key: rec.Key, Start: t, End: t}
	var agg A
	if p.cfg.First == nil {
		agg = p.cfg.Init()
	}
	var old []state.Windowed[K]
	for kv, err := range p.store.FindSessions(rec.Key, t.Add(-gap), t.Add(gap)) {
		if err != nil {
			return err
		}
		if kv.Key.End.UnixMilli() <= closeBound {
			continue
		}
		if len(old) == 0 && p.cfg.First != nil {
			agg = kv.Value
		} else {
			agg = p.cfg.Merge(rec.Key, agg, kv.Value)
		}
		old = append(old, kv.Key)
		if kv.Key.Start.Before(merged.Start) {
			merged.Start = kv.Key.Start
		}
		if kv.Key.End.After(merged.End) {
			merged.End = kv.Key.End
		}
	}
	if merged.End.UnixMilli() <= closeBound {
		dropLate(p.ctx, p.name, "its session has closed", rec.Timestamp, p.observed, p.cfg.Windows.Grace)
		return nil
	}
	for _, s := range old {
		if err := p.store.Remove(s); err != nil {
			return err
		}
	}
	if len(old) == 0 && p.cfg.First != nil {
		agg = p.cfg.First(rec.Key, rec.Value)
	} else {
		agg = p.cfg.Add(rec.Key, rec.Value, agg)
	}
	if err := p.store.Put(merged, agg); err != nil {
		return err
	}
	if p.cfg.Emit != EmitOnUpdate {
		raw, err := p.cfg.KeySerde.Serialize(rec.Key)
		if err != nil {
			return err
		}
		p.pending.push(due[K]{rec.Key, string(raw), merged.Start.UnixMilli(), merged.End.UnixMilli()})
		return nil
	}
	var retracted A
	for _, s := range old {
		if s.Start.Equal(merged.Start) && s.End.Equal(merged.End) {
			continue // the new result replaces it under the same key
		}
		if err := p.ctx.Forward(processor.Derive(rec, s, retracted)); err != nil {
			return err
		}
	}
	return p.ctx.Forward(processor.Derive(rec, merged, agg))
}

// emitClosed forwards, once, every session whose end + gap + grace is
// before now (Unix ms: the stream time seen, or the wall clock), oldest end
// first.
func (p *sessionAggregator[K, V, A]) emitClosed(now int64) error {
	if err := p.emitted.load(); err != nil {
		return err
	}
	if !p.pendingLoaded {
		if err := p.loadPending(); err != nil {
			return err
		}
	}
	bound := p.cfg.Windows.closedTo(now)
	if p.emitted.covers(bound) {
		return nil
	}
	for _, c := range p.pending.popDue(bound) {
		s := state.Windowed[K]{Key: c.key, Start: time.UnixMilli(c.start), End: time.UnixMilli(c.end)}
		agg, ok, err := p.store.FetchSession(c.key, s.Start, s.End)
		if err != nil {
			return err
		}
		if !ok {
			continue // a merge replaced it
		}
		if err := p.ctx.Forward(processor.NewRecord(s, agg, s.End)); err != nil {
			return err
		}
	}
	// The mark moves on even when nothing was due: after a restart, whose
	// stream time starts over, it still tells which sessions closed.
	return p.emitted.advance(bound)
}

// loadPending fills pending with every session of the store not emitted
// yet.
func (p *sessionAggregator[K, V, A]) loadPending() error {
	p.pending = nil
	for kv, err := range p.store.FetchRange(nil, nil) {
		if err != nil {
			return err
		}
		if end := kv.Key.End.UnixMilli(); !p.emitted.covers(end) {
			raw, err := p.cfg.KeySerde.Serialize(kv.Key.Key)
			if err != nil {
				return err
			}
			p.pending.push(due[K]{kv.Key.Key, string(raw), kv.Key.Start.UnixMilli(), end})
		}
	}
	p.pendingLoaded = true
	return nil
}

func (p *sessionAggregator[K, V, A]) Close() error { return nil }
