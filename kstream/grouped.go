package kstream

import (
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' KGroupedStreamImpl.
const (
	aggregateName = "KSTREAM-AGGREGATE-"
	reduceName    = "KSTREAM-REDUCE-"
)

// KGroupedStream is a stream grouped by key, ready to aggregate: Count,
// Reduce, Aggregate, or WindowedBy and then those. Make one with
// KStream.GroupByKey or GroupBy.
type KGroupedStream[K, V any] struct {
	s       KStream[K, V]
	grouped Grouped[K, V]
	// shared is the repartitioned stream of a Grouped with a Name, made by
	// the first aggregation and read by every other, as Kafka Streams
	// reuses it.
	shared *KStream[K, V]
	// repartition: the key may have changed since the stream was read, so
	// the aggregation reads it through a repartition topic.
	repartition bool
}

// GroupByKey groups s by its key. If an operation may have changed the
// key since s was read (Map, SelectKey, FlatMap, Process), the aggregation
// repartitions first, through "<application.id>-<name>-repartition".
func (s KStream[K, V]) GroupByKey(grouped ...Grouped[K, V]) KGroupedStream[K, V] {
	var g Grouped[K, V]
	if len(grouped) > 0 {
		g = grouped[0]
	}
	return KGroupedStream[K, V]{s: s, grouped: g, repartition: s.keyChanged, shared: new(KStream[K, V])}
}

// GroupBy groups s by a new key, selector of each record: the aggregation
// reads the re-keyed stream through a repartition topic.
func GroupBy[K, V, K2 any](s KStream[K, V], selector func(key K, value V) K2, grouped ...Grouped[K2, V]) KGroupedStream[K2, V] {
	var g Grouped[K2, V]
	if len(grouped) > 0 {
		g = grouped[0]
	}
	// Kafka Streams names the key selector after the Grouped, too.
	name := s.sb.name([]Named{Named(g.Name)}, keySelectName)
	rekeyed := selectKey(s, name, "GroupBy's key selector", selector)
	return KGroupedStream[K2, V]{s: rekeyed, grouped: g, repartition: true, shared: new(KStream[K2, V])}
}

// input is the stream the aggregation named store reads: g's stream, or
// its repartition named after the Grouped's name or else the store.
func (g KGroupedStream[K, V]) input(store string) KStream[K, V] {
	if !g.repartition {
		return g.s
	}
	base := g.grouped.Name
	if base == "" {
		base = store
	} else if g.shared.sb != nil {
		return *g.shared
	}
	in := repartition(g.s, base, "Grouped", topology.Repartition[K, V]{
		KeySerde: or(g.grouped.KeySerde, g.s.keySerde), ValueSerde: or(g.grouped.ValueSerde, g.s.valueSerde),
	})
	if g.grouped.Name != "" {
		*g.shared = in
	}
	return in
}

// Count counts the records of each key. Records with a nil key or value
// are dropped, as Kafka Streams drops nulls.
func (g KGroupedStream[K, V]) Count(materialized ...Materialized[K, int64]) KTable[K, int64] {
	burnForAnonymousCount(g.s.sb, materialized)
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, serde.Int64())
	return aggregateStream(g, aggregateName, m, aggregation[K, V, int64]{
		init: func() int64 { return 0 },
		add:  func(_ K, _ V, n int64) int64 { return n + 1 },
		ours: true,
	})
}

// Reduce combines each key's values: its first value, then reducer(agg,
// value) for each next one.
func (g KGroupedStream[K, V]) Reduce(reducer func(agg, value V) V, materialized ...Materialized[K, V]) KTable[K, V] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, g.s.valueSerde)
	return aggregateStream(g, reduceName, m, aggregation[K, V, V]{
		first: func(_ K, v V) V { return v },
		add:   func(_ K, v V, agg V) V { return reducer(agg, v) },
	})
}

// Aggregate folds each key's values into an aggregate of type A, starting
// from initializer(). materialized must give the store's ValueSerde (an A
// serde): Go cannot infer one.
func Aggregate[K, V, A any](g KGroupedStream[K, V], initializer func() A, aggregator func(key K, value V, agg A) A, materialized ...Materialized[K, A]) KTable[K, A] {
	return aggregateStream(g, aggregateName, materialized0(materialized), aggregation[K, V, A]{init: initializer, add: aggregator})
}

// burnForAnonymousCount draws a store name and drops it when a count is
// given a Materialized without a name, as Kafka Streams'
// KGroupedStreamImpl.count(Materialized) (and the time and session
// windowed counts) still does "for compatibility": the names after it are
// then the ones Kafka Streams gives.
func burnForAnonymousCount[K, V any](sb *StreamsBuilder, ms []Materialized[K, V]) {
	if len(ms) > 0 && ms[0].Name == "" {
		sb.newStoreName(aggregateName)
	}
}

func materialized0[K, V any](ms []Materialized[K, V]) Materialized[K, V] {
	if len(ms) > 0 {
		return ms[0]
	}
	return Materialized[K, V]{}
}

// aggregation is what an aggregation does with a key's records: first
// (if set) or add(init()) for its first, add for the next ones.
type aggregation[K, V, A any] struct {
	init  func() A
	first func(K, V) A
	add   func(K, V, A) A
	// ours says the functions are the library's (Count's), which cannot
	// panic: the aggregator then calls them without a recover.
	ours bool
}

// aggregateStream adds the aggregation of g to a table in a store, in
// Kafka Streams' order of names: the store's (unless named), the
// processor's, then the repartition's.
func aggregateStream[K, V, A any](g KGroupedStream[K, V], prefix string, m Materialized[K, A], agg aggregation[K, V, A]) KTable[K, A] {
	sb := g.s.sb
	store := m.storeName(sb, prefix)
	name := sb.name([]Named{m.Named}, prefix)
	in := g.input(store)
	t := KTable[K, A]{sb: sb, keySerde: or(m.KeySerde, in.keySerde), valueSerde: m.ValueSerde}
	isNilK, isNilV := nilTest[K](), nilTest[V]()
	t.node = topology.AddProcessor(sb.b, name, func() processor.Processor[K, V, K, Change[A]] {
		return &aggregator[K, V, A]{name: name, store: store, agg: agg, isNilK: isNilK, isNilV: isNilV}
	}, in.node)
	t.rows, t.store = &rows{store: store, materialized: true}, store
	t.addStore(m, store, name)
	return t
}

type aggregator[K, V, A any] struct {
	name, store string
	agg         aggregation[K, V, A]
	isNilK      func(K) bool // nilTest: nil for a type that cannot be nil
	isNilV      func(V) bool
	ctx         processor.Context[K, Change[A]]
	kv          state.TimestampedKeyValueStore[K, A]
}

func (a *aggregator[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error {
	a.ctx = ctx
	var err error
	a.kv, err = processor.GetStore[state.TimestampedKeyValueStore[K, A]](ctx, a.store)
	return err
}

func (a *aggregator[K, V, A]) Process(rec processor.Record[K, V]) error {
	if null(a.isNilK, rec.Key) || null(a.isNilV, rec.Value) {
		a.ctx.DroppedRecord()
		return nil
	}
	old, had, err := a.kv.Get(rec.Key)
	if err != nil {
		return err
	}
	var next A
	fold := func() error {
		switch {
		case had:
			next = a.agg.add(rec.Key, rec.Value, old.Value)
		case a.agg.first != nil:
			next = a.agg.first(rec.Key, rec.Value)
		default:
			next = a.agg.add(rec.Key, rec.Value, a.agg.init())
		}
		return nil
	}
	if a.agg.ours {
		_ = fold()
	} else if err := guard(a.ctx, a.name, "the aggregator", fold); err != nil {
		return err
	}
	return putAndForward(a.ctx, a.kv, rec.Key, old, had, next, rec.Timestamp, rec.Headers)
}

// putAndForward stores an aggregation's new result for key and forwards
// the change from old (if had) to it. The aggregate's time is its latest
// record's, as in Kafka Streams: ts, or old's if later.
func putAndForward[K, A any](ctx processor.Context[K, Change[A]], kv state.TimestampedKeyValueStore[K, A], key K,
	old state.ValueAndTimestamp[A], had bool, next A, ts time.Time, headers []processor.Header) error {
	if had && old.Timestamp.After(ts) {
		ts = old.Timestamp
	}
	if err := kv.Put(key, state.ValueAndTimestamp[A]{Value: next, Timestamp: ts}); err != nil {
		return err
	}
	return ctx.Forward(processor.Record[K, Change[A]]{
		Key: key, Value: Change[A]{Old: old.Value, HasOld: had, New: next, HasNew: true},
		Timestamp: ts, Headers: headers,
	})
}

func (a *aggregator[K, V, A]) Close() error { return nil }
