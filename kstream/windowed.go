package kstream

import (
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// TimeWindowedKStream is a grouped stream over tumbling or hopping windows
// (window.Tumbling, window.Hopping), aggregated per key and window by the
// window package's AddTimeAggregation.
type TimeWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	w    window.TimeWindows
	emit window.Emit
}

// EmitStrategy says when the aggregation forwards a window's result:
// window.EmitOnUpdate (the default) after every record that changes it,
// window.EmitOnWindowClose once, when it closes (Kafka Streams'
// emitStrategy(EmitStrategy.onWindowClose()), KIP-825; the aggregation
// then also keeps a store "<store>-emitted" of what it emitted, so that a
// restart emits nothing twice). Unlike Suppress, it emits the windows that
// close together in window order, each stamped as the window package
// stamps final results.
func (w TimeWindowedKStream[K, V]) EmitStrategy(e window.Emit) TimeWindowedKStream[K, V] {
	w.emit = e
	return w
}

// SlidingWindowedKStream is a grouped stream over sliding windows
// (window.Sliding), aggregated by window.AddSlidingAggregation.
type SlidingWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	w    window.SlidingWindows
	emit window.Emit
}

// EmitStrategy says when the aggregation forwards a window's result:
// window.EmitOnUpdate (the default) after every record that changes it,
// window.EmitOnWindowClose once, when it closes (Kafka Streams'
// emitStrategy(EmitStrategy.onWindowClose()), KIP-825; the aggregation
// then also keeps a store "<store>-emitted" of what it emitted, so that a
// restart emits nothing twice). Unlike Suppress, it emits the windows that
// close together in window order, each stamped as the window package
// stamps final results.
func (w SlidingWindowedKStream[K, V]) EmitStrategy(e window.Emit) SlidingWindowedKStream[K, V] {
	w.emit = e
	return w
}

// SessionWindowedKStream is a grouped stream over sessions
// (window.Session), aggregated by window.AddSessionAggregation.
type SessionWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	w    window.SessionWindows
	emit window.Emit
}

// EmitStrategy says when the aggregation forwards a window's result:
// window.EmitOnUpdate (the default) after every record that changes it,
// window.EmitOnWindowClose once, when it closes (Kafka Streams'
// emitStrategy(EmitStrategy.onWindowClose()), KIP-825; the aggregation
// then also keeps a store "<store>-emitted" of what it emitted, so that a
// restart emits nothing twice). Unlike Suppress, it emits the windows that
// close together in window order, each stamped as the window package
// stamps final results.
func (w SessionWindowedKStream[K, V]) EmitStrategy(e window.Emit) SessionWindowedKStream[K, V] {
	w.emit = e
	return w
}

// WindowedBy aggregates g per time window. It is a function, not a
// method of KGroupedStream, because a windowed table's stream can be
// grouped and windowed again, and Go rejects a method whose result type
// nests its receiver's type parameter without end.
func WindowedBy[K, V any](g KGroupedStream[K, V], w window.TimeWindows) TimeWindowedKStream[K, V] {
	return TimeWindowedKStream[K, V]{g: g, w: w}
}

// WindowedBySliding aggregates g per sliding window.
func WindowedBySliding[K, V any](g KGroupedStream[K, V], w window.SlidingWindows) SlidingWindowedKStream[K, V] {
	return SlidingWindowedKStream[K, V]{g: g, w: w}
}

// WindowedBySession aggregates g per session.
func WindowedBySession[K, V any](g KGroupedStream[K, V], w window.SessionWindows) SessionWindowedKStream[K, V] {
	return SessionWindowedKStream[K, V]{g: g, w: w}
}

// Count counts each key's records per window.
func (w TimeWindowedKStream[K, V]) Count(materialized ...Materialized[K, int64]) KTable[state.Windowed[K], int64] {
	burnForAnonymousCount(w.g.s.sb, materialized)
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, serde.Int64())
	init, add := window.Count[K, V]()
	return WindowedAggregate(w, init, add, m)
}

// Reduce reduces each key's values per window.
func (w TimeWindowedKStream[K, V]) Reduce(reducer func(agg, value V) V, materialized ...Materialized[K, V]) KTable[state.Windowed[K], V] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, w.g.s.valueSerde)
	first, add := window.Reduce[K](reducer)
	return timeAggregate(w, reduceName, m, nil, first, add)
}

// WindowedAggregate folds each key's values per time window into an A,
// starting from initializer(); materialized gives the A serde.
func WindowedAggregate[K, V, A any](w TimeWindowedKStream[K, V], initializer func() A, aggregator func(key K, value V, agg A) A, materialized ...Materialized[K, A]) KTable[state.Windowed[K], A] {
	return timeAggregate(w, aggregateName, materialized0(materialized), initializer, nil, aggregator)
}

func timeAggregate[K, V, A any](w TimeWindowedKStream[K, V], prefix string, m Materialized[K, A], init func() A, first func(K, V) A, add func(K, V, A) A) KTable[state.Windowed[K], A] {
	sb, in, store, name, ks := windowedInput(w.g, prefix, m)
	n := window.AddTimeAggregation(sb.b, name, window.TimeAggregation[K, V, A]{
		Windows: w.w, Store: store, StoreFunc: m.WindowStore, KeySerde: ks, AggSerde: m.ValueSerde,
		Init: init, First: first, Add: add, Emit: w.emit,
	}, in.node)
	return windowedTable(sb, n, store, ks, func(k serde.Serde[K]) serde.Serde[state.Windowed[K]] {
		return window.TimeWindowedSerde(k, w.w.Size)
	}, m.ValueSerde, &windowing[state.Windowed[K]]{end: windowEnd[K], wait: w.w.Grace})
}

// Count counts each key's records per sliding window.
func (w SlidingWindowedKStream[K, V]) Count(materialized ...Materialized[K, int64]) KTable[state.Windowed[K], int64] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, serde.Int64())
	init, add := window.Count[K, V]()
	return SlidingAggregate(w, init, add, m)
}

// Reduce reduces each key's values per sliding window.
func (w SlidingWindowedKStream[K, V]) Reduce(reducer func(agg, value V) V, materialized ...Materialized[K, V]) KTable[state.Windowed[K], V] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, w.g.s.valueSerde)
	first, add := window.Reduce[K](reducer)
	return slidingAggregate(w, reduceName, m, nil, first, add)
}

// SlidingAggregate folds each key's values per sliding window.
func SlidingAggregate[K, V, A any](w SlidingWindowedKStream[K, V], initializer func() A, aggregator func(key K, value V, agg A) A, materialized ...Materialized[K, A]) KTable[state.Windowed[K], A] {
	return slidingAggregate(w, aggregateName, materialized0(materialized), initializer, nil, aggregator)
}

func slidingAggregate[K, V, A any](w SlidingWindowedKStream[K, V], prefix string, m Materialized[K, A], init func() A, first func(K, V) A, add func(K, V, A) A) KTable[state.Windowed[K], A] {
	sb, in, store, name, ks := windowedInput(w.g, prefix, m)
	vs := in.valueSerde
	sb.needSerdes(name, "Grouped", false, vs == nil) // the sliding store keeps the records
	n := window.AddSlidingAggregation(sb.b, name, window.SlidingAggregation[K, V, A]{
		Windows: w.w, Store: store, StoreFunc: m.WindowStore, KeySerde: ks, ValueSerde: vs,
		Init: init, First: first, Add: add, Emit: w.emit,
	}, in.node)
	return windowedTable(sb, n, store, ks, func(k serde.Serde[K]) serde.Serde[state.Windowed[K]] {
		return window.TimeWindowedSerde(k, w.w.MaxTimeDifference)
	}, m.ValueSerde, &windowing[state.Windowed[K]]{end: windowEnd[K], wait: w.w.Grace + inclusiveEnd})
}

// inclusiveEnd is what a window whose end is inclusive (sliding windows,
// sessions) waits beyond end + grace: the window package closes them once
// stream time is past that, not at it. Kafka Streams' suppression emits
// them at it, a millisecond before its aggregation stops adding to them;
// we emit a final result only once nothing can change it.
const inclusiveEnd = time.Millisecond

// Count counts each key's records per session.
func (w SessionWindowedKStream[K, V]) Count(materialized ...Materialized[K, int64]) KTable[state.Windowed[K], int64] {
	burnForAnonymousCount(w.g.s.sb, materialized)
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, serde.Int64())
	init, add := window.Count[K, V]()
	return SessionAggregate(w, init, add, func(_ K, a, b int64) int64 { return a + b }, m)
}

// Reduce reduces each key's values per session; merging two sessions
// reduces their results.
func (w SessionWindowedKStream[K, V]) Reduce(reducer func(agg, value V) V, materialized ...Materialized[K, V]) KTable[state.Windowed[K], V] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, w.g.s.valueSerde)
	first, add := window.Reduce[K](reducer)
	return sessionAggregate(w, reduceName, m, nil, first, add, func(_ K, a, b V) V { return reducer(a, b) })
}

// SessionAggregate folds each key's values per session; merger combines
// the results of two sessions a record joins into one.
func SessionAggregate[K, V, A any](w SessionWindowedKStream[K, V], initializer func() A, aggregator func(key K, value V, agg A) A, merger func(key K, a, b A) A, materialized ...Materialized[K, A]) KTable[state.Windowed[K], A] {
	return sessionAggregate(w, aggregateName, materialized0(materialized), initializer, nil, aggregator, merger)
}

func sessionAggregate[K, V, A any](w SessionWindowedKStream[K, V], prefix string, m Materialized[K, A], init func() A, first func(K, V) A, add func(K, V, A) A, merge func(K, A, A) A) KTable[state.Windowed[K], A] {
	sb, in, store, name, ks := windowedInput(w.g, prefix, m)
	n := window.AddSessionAggregation(sb.b, name, window.SessionAggregation[K, V, A]{
		Windows: w.w, Store: store, StoreFunc: m.SessionStore, KeySerde: ks, AggSerde: m.ValueSerde,
		Init: init, First: first, Add: add, Merge: merge, Emit: w.emit,
	}, in.node)
	return windowedTable(sb, n, store, ks, window.SessionWindowedSerde[K], m.ValueSerde, &windowing[state.Windowed[K]]{
		end: windowEnd[K], wait: w.w.Grace + w.w.Gap + inclusiveEnd,
		sessionOf: func(w state.Windowed[K]) (string, error) {
			b, err := ks.Serialize(w.Key)
			return string(b), err
		},
		// Called on sessions of one key: does newer contain older?
		replaces: func(newer, older state.Windowed[K]) bool {
			return !older.Start.Before(newer.Start) && !older.End.After(newer.End) &&
				!(older.Start.Equal(newer.Start) && older.End.Equal(newer.End))
		},
	})
}

// windowedInput names a windowed aggregation as Kafka Streams does (store,
// processor, repartition) and returns its builder, input, store and
// processor names, and key serde.
func windowedInput[K, V, A any](g KGroupedStream[K, V], prefix string, m Materialized[K, A]) (*StreamsBuilder, KStream[K, V], string, string, serde.Serde[K]) {
	sb := g.s.sb
	store := m.storeName(sb, prefix)
	name := sb.name([]Named{m.Named}, prefix)
	if m.Caching || m.LoggingDisabled || m.LogConfig != nil || m.KeyValueStore != nil {
		sb.problem("%s: Materialized's Caching, LoggingDisabled, LogConfig and KeyValueStore apply to key-value stores; a windowed store takes WindowStore or SessionStore", name)
	}
	in := g.input(store)
	ks := or(m.KeySerde, in.keySerde)
	sb.needSerdes(store, "Materialized", ks == nil, m.ValueSerde == nil)
	return sb, in, store, name, ks
}

// windowedTable is the table of a windowed aggregation's results: its
// updates carry no old values (the window package forwards new results).
func windowedTable[K, A any](sb *StreamsBuilder, n topology.Node[state.Windowed[K], A], store string, ks serde.Serde[K], windowed func(serde.Serde[K]) serde.Serde[state.Windowed[K]], vs serde.Serde[A], w *windowing[state.Windowed[K]]) KTable[state.Windowed[K], A] {
	var wks serde.Serde[state.Windowed[K]]
	if ks != nil {
		wks = windowed(ks)
	}
	return KTable[state.Windowed[K], A]{sb: sb, plain: &n, store: store, windowing: w, keySerde: wks, valueSerde: vs}
}

// asChanges adapts a plain node, which forwards new values only, to a
// processor that takes Changes.
func asChanges[K, V, KOut, VOut any](process func(c *call, ctx processor.Context[KOut, VOut], rec processor.Record[K, Change[V]]) error) func(c *call, ctx processor.Context[KOut, VOut], rec processor.Record[K, V]) error {
	return func(c *call, ctx processor.Context[KOut, VOut], rec processor.Record[K, V]) error {
		return process(c, ctx, processor.Derive(rec, rec.Key, Change[V]{New: rec.Value, HasNew: true}))
	}
}

// windowEnd is a window's end, as final results are timed by.
func windowEnd[K any](w state.Windowed[K]) time.Time { return w.End }
