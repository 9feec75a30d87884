package kstream

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' KTableImpl.groupBy and KGroupedTableImpl.
const (
	tableSelectName    = "KTABLE-SELECT-"
	tableAggregateName = "KTABLE-AGGREGATE-"
	tableReduceName    = "KTABLE-REDUCE-"
)

// KGroupedTable is a table re-grouped by a new key, ready to aggregate
// with an adder and a subtractor: when a row changes, its old value is
// subtracted from the group it was in and its new value added to the group
// it is in now, which may be another one. Make one with GroupByTable.
type KGroupedTable[K, V any] struct {
	sb         *StreamsBuilder
	node       topology.Node[K, Change[V]]
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	name       string // Grouped.Name: the repartition topic's
}

// GroupByTable groups t's rows by a new key and value, selector of each
// row. It needs t's old values, so it materializes t's rows (the table's
// store, or the store of the table it derives from); a table that has no
// rows to keep (a windowed aggregation's) cannot be grouped, which Build
// reports. Each change goes through a repartition topic as one record
// when the row stays in its group, or as a subtraction from the old group
// followed by an addition to the new one, in that order, as in Kafka
// Streams.
func GroupByTable[K, V, K2, V2 any](t KTable[K, V], selector func(key K, value V) (K2, V2), grouped ...Grouped[K2, V2]) KGroupedTable[K2, V2] {
	var g Grouped[K2, V2]
	if len(grouped) > 0 {
		g = grouped[0]
	}
	sb := t.sb
	name := sb.name([]Named{Named(g.Name)}, tableSelectName)
	if !t.materialize() {
		sb.problem("%s: GroupByTable needs the table's old values, and a windowed aggregation's table keeps none; ToStream it and GroupBy the stream instead", name)
	}
	ks, vs := or(g.KeySerde, inherit[K2](t.keySerde)), or(g.ValueSerde, inherit[V2](t.valueSerde))
	isNilK, isNilV := nilTest[K2](), nilTest[V2]()
	n := addTable(t, name, "GroupByTable's selector", func(c *call, ctx processor.Context[K2, Change[V2]], rec processor.Record[K, Change[V]]) error {
		var oldK, newK K2
		var oldV, newV V2
		var err error
		hasOld, hasNew := rec.Value.HasOld, rec.Value.HasNew
		if hasOld {
			if oldK, oldV, err = try2x2(c, selector, rec.Key, rec.Value.Old); err != nil {
				return err
			}
			hasOld = !null(isNilK, oldK) && !null(isNilV, oldV)
		}
		if hasNew {
			if newK, newV, err = try2x2(c, selector, rec.Key, rec.Value.New); err != nil {
				return err
			}
			hasNew = !null(isNilK, newK) && !null(isNilV, newV)
		}
		if hasOld && hasNew && sameKey(ks, oldK, newK) {
			return ctx.Forward(processor.Derive(rec, newK, Change[V2]{Old: oldV, HasOld: true, New: newV, HasNew: true}))
		}
		if hasOld {
			if err := ctx.Forward(processor.Derive(rec, oldK, Change[V2]{Old: oldV, HasOld: true})); err != nil {
				return err
			}
		}
		if hasNew {
			return ctx.Forward(processor.Derive(rec, newK, Change[V2]{New: newV, HasNew: true}))
		}
		return nil
	})
	return KGroupedTable[K2, V2]{sb: sb, node: n, keySerde: ks, valueSerde: vs, name: g.Name}
}

// sameKey reports whether a and b serialize alike (false if ks cannot say).
func sameKey[K any](ks serde.Serde[K], a, b K) bool {
	if ks == nil {
		return false
	}
	ab, err1 := ks.Serialize(a)
	bb, err2 := ks.Serialize(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}

// Count counts the rows in each group.
func (g KGroupedTable[K, V]) Count(materialized ...Materialized[K, int64]) KTable[K, int64] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, serde.Int64())
	return aggregateTable(g, tableAggregateName, m, tableAggregation[K, V, int64]{
		init:     func() int64 { return 0 },
		add:      func(_ K, _ V, n int64) int64 { return n + 1 },
		subtract: func(_ K, _ V, n int64) int64 { return n - 1 },
	})
}

// Reduce combines each group's values with adder, and takes a row's old
// value out with subtractor.
func (g KGroupedTable[K, V]) Reduce(adder, subtractor func(agg, value V) V, materialized ...Materialized[K, V]) KTable[K, V] {
	m := materialized0(materialized)
	m.ValueSerde = or(m.ValueSerde, g.valueSerde)
	return aggregateTable(g, tableReduceName, m, tableAggregation[K, V, V]{
		first:    func(_ K, v V) V { return v },
		add:      func(_ K, v V, agg V) V { return adder(agg, v) },
		subtract: func(_ K, v V, agg V) V { return subtractor(agg, v) },
	})
}

// AggregateTable folds each group's rows into an A: adder for a row's new
// value, subtractor for its old one; materialized gives the A serde.
func AggregateTable[K, V, A any](g KGroupedTable[K, V], initializer func() A, adder, subtractor func(key K, value V, agg A) A, materialized ...Materialized[K, A]) KTable[K, A] {
	return aggregateTable(g, tableAggregateName, materialized0(materialized), tableAggregation[K, V, A]{
		init: initializer, add: adder, subtract: subtractor,
	})
}

type tableAggregation[K, V, A any] struct {
	init          func() A
	first         func(K, V) A
	add, subtract func(K, V, A) A
}

// aggregateTable adds the aggregation of g in Kafka Streams' order of
// names: the store's (KTABLE-AGGREGATE-STATE-STORE-…, for a reduction
// too), the repartition's sink and source, then the processor's.
func aggregateTable[K, V, A any](g KGroupedTable[K, V], prefix string, m Materialized[K, A], agg tableAggregation[K, V, A]) KTable[K, A] {
	sb := g.sb
	store := m.storeName(sb, tableAggregateName)
	sinkN, sourceN := sb.newName(sinkName), sb.newName(sourceName)
	name := sb.name([]Named{m.Named}, prefix)
	if m.Named != "" {
		sinkN, sourceN = string(m.Named)+"-sink", string(m.Named)+"-source"
	}
	base := g.name
	if base == "" {
		base = store
	}
	ks := or(m.KeySerde, g.keySerde)
	var cs serde.Serde[Change[V]]
	if g.valueSerde != nil {
		cs = changeSerde[V]{g.valueSerde}
	}
	sb.needSerdes(base+"-repartition", "Grouped", g.keySerde == nil, g.valueSerde == nil, sinkN, sourceN)
	if sb.repartitions[base] {
		sb.problem("repartition topic %q is made twice; name the operations (Grouped.Name) apart", base+"-repartition")
	}
	sb.repartitions[base] = true
	in := topology.AddRepartition(sb.b, base, topology.Repartition[K, Change[V]]{
		KeySerde: g.keySerde, ValueSerde: cs, SinkName: sinkN, SourceName: sourceN,
	}, g.node)
	t := KTable[K, A]{sb: sb, keySerde: ks, valueSerde: m.ValueSerde}
	t.node = topology.AddProcessor(sb.b, name, func() processor.Processor[K, Change[V], K, Change[A]] {
		return &tableAggregator[K, V, A]{name: name, store: store, agg: agg}
	}, in)
	t.rows, t.store = &rows{store: store, materialized: true}, store
	t.addStore(m, store, name)
	return t
}

type tableAggregator[K, V, A any] struct {
	name, store string
	agg         tableAggregation[K, V, A]
	ctx         processor.Context[K, Change[A]]
	kv          state.TimestampedKeyValueStore[K, A]
}

func (a *tableAggregator[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error {
	a.ctx = ctx
	var err error
	a.kv, err = processor.GetStore[state.TimestampedKeyValueStore[K, A]](ctx, a.store)
	return err
}

// Process subtracts the old value, then adds the new one, as Kafka
// Streams' KTableAggregate: a subtraction from a group with no aggregate
// is skipped, and a group emptied by subtractions keeps its aggregate (the
// subtractor decides what it is).
func (a *tableAggregator[K, V, A]) Process(rec processor.Record[K, Change[V]]) error {
	old, had, err := a.kv.Get(rec.Key)
	if err != nil {
		return err
	}
	cur, has := old.Value, had
	if err := guard(a.ctx, a.name, "the aggregator", func() error {
		if rec.Value.HasOld && has {
			cur = a.agg.subtract(rec.Key, rec.Value.Old, cur)
		}
		if rec.Value.HasNew {
			switch {
			case has:
				cur = a.agg.add(rec.Key, rec.Value.New, cur)
			case a.agg.first != nil:
				cur = a.agg.first(rec.Key, rec.Value.New)
			default:
				cur = a.agg.add(rec.Key, rec.Value.New, a.agg.init())
			}
			has = true
		}
		return nil
	}); err != nil {
		return err
	}
	if !has {
		return nil // a subtraction from a group that has nothing: nothing changes
	}
	return putAndForward(a.ctx, a.kv, rec.Key, old, had, cur, rec.Timestamp, rec.Headers)
}

func (a *tableAggregator[K, V, A]) Close() error { return nil }

// changeSerde writes a Change on a repartition topic: a flags byte (1: old
// value present, 2: new value present), then the old value's length as an
// unsigned varint and its bytes, then the new value's bytes. The topic is
// internal: only this library reads it.
type changeSerde[V any] struct{ inner serde.Serde[V] }

func (c changeSerde[V]) Name() string { return "change[" + c.inner.Name() + "]" }

func (c changeSerde[V]) Serialize(ch Change[V]) ([]byte, error) {
	var flags byte
	var old, nw []byte
	var err error
	if ch.HasOld {
		flags |= 1
		if old, err = c.inner.Serialize(ch.Old); err != nil {
			return nil, err
		}
	}
	if ch.HasNew {
		flags |= 2
		if nw, err = c.inner.Serialize(ch.New); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(old)+len(nw))
	b = append(b, flags)
	if ch.HasOld {
		b = binary.AppendUvarint(b, uint64(len(old)))
		b = append(b, old...)
	}
	return append(b, nw...), nil
}

func (c changeSerde[V]) Deserialize(b []byte) (Change[V], error) {
	var ch Change[V]
	if len(b) == 0 || b[0]&^3 != 0 {
		return ch, fmt.Errorf("kstream: %s: %w: no valid flags byte", c.Name(), serde.ErrMalformed)
	}
	flags, rest := b[0], b[1:]
	if flags&1 != 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return ch, fmt.Errorf("kstream: %s: %w: bad old value length", c.Name(), serde.ErrMalformed)
		}
		old, err := c.inner.Deserialize(rest[k : k+int(n)])
		if err != nil {
			return ch, err
		}
		ch.Old, ch.HasOld, rest = old, true, rest[k+int(n):]
	}
	if flags&2 != 0 {
		nw, err := c.inner.Deserialize(rest)
		if err != nil {
			return ch, err
		}
		ch.New, ch.HasNew = nw, true
	} else if len(rest) > 0 {
		return ch, fmt.Errorf("kstream: %s: %w: %d bytes after a change with no new value", c.Name(), serde.ErrMalformed, len(rest))
	}
	return ch, nil
}
