package kstream

import (
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' KTableImpl.
const (
	tableSourceName    = "KTABLE-SOURCE-"
	tableFilterName    = "KTABLE-FILTER-"
	tableMapValuesName = "KTABLE-MAPVALUES-"
	tableToStreamName  = "KTABLE-TOSTREAM-"
)

// Change is one update of a table's row, as a table forwards it to what
// is built on it: the row's value before and after. HasOld is false for a
// new row, HasNew false for a deletion (a tombstone on the table's topic).
// Aggregations over tables use Old to subtract what a row no longer
// contributes.
type Change[V any] struct {
	Old, New       V
	HasOld, HasNew bool
}

// KTable is a changelog stream: each record is the latest value of its
// key, and a nil value on its topic deletes the key. A table forwards each
// update as a Change; ToStream turns it back into a stream of the new
// values.
type KTable[K, V any] struct {
	sb   *StreamsBuilder
	node topology.Node[K, Change[V]]
	// plain, when set, is the table's node instead of node: it forwards
	// new values only (a windowed aggregation's results).
	plain *topology.Node[K, V]
	// rows is the store of the table, or of the one it is derived from
	// statelessly (Filter, MapValuesTable), that gives its updates their
	// old values once materialized; nil when there is none (a windowed
	// aggregation's table).
	rows *rows
	// store is the table's own store: its rows' (read from a topic, made
	// by ToTable or by an aggregation) or a windowed aggregation's; "" for
	// a table derived statelessly from another.
	store string
	// lookup, when set, is how the table's rows are read by key (a
	// table derived statelessly from another, or a join's); see valueView.
	lookup func() *tableView[K, V]
	// windowing is how a windowed table's keys' windows close.
	windowing  *windowing[K]
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// rows is the store of a table's rows. A table read from a topic, or
// made by ToTable, draws its store's name when it is made, as Kafka
// Streams does, but adds the store only if it is materialized: asked for
// with a Materialized, or needed by an operation downstream (GroupBy on
// the table needs old values). Build adds the stores then.
type rows struct {
	store        string
	materialized bool
	// add adds the store to the builder, at Build; nil once added or for a
	// store added when it was made (an aggregation's).
	add func()
	// sourceTopic is the topic a table was read from: its store's
	// changelog, so that no other is written (Kafka Streams' source-topic
	// optimisation).
	sourceTopic string
	// versioned says the store is a versioned store
	// (Materialized.Versioned), with history: it is always materialized.
	versioned bool
	history   time.Duration
}

// oldValues says whether updates carry old values. Read it when the
// topology runs, not while it is built: a later operation may materialize
// the rows. Without them a Change's HasOld is always false, which means
// "not known", not "new row".
func (r *rows) oldValues() bool { return r != nil && r.materialized }

// materialize makes the table's rows a store, if there are rows to make
// one of; it reports false when there are none.
func (t KTable[K, V]) materialize() bool {
	if t.rows == nil {
		return false
	}
	t.rows.materialized = true
	return true
}

// StoreName is the name of the store that holds the table's rows, for
// interactive queries (streams.QueryKeyValue with state.ValueAndTimestamp
// values), or "" when the table is not materialized (so far: an operation
// added later may still materialize it; give a Materialized with a Name to
// query it).
func (t KTable[K, V]) StoreName() string {
	if t.rows != nil && t.store == t.rows.store && !t.rows.materialized {
		return "" // drawn, not (yet) added
	}
	return t.store
}

// Table reads topic as a table: each record is its key's latest value, a
// nil value deletes the key. With a Materialized that names a store (or
// gives one), the table is kept in it (a timestamped key-value store,
// queryable) and forwards each update with the row's old value; without,
// it is kept only if an operation on it needs old values. A kept table
// writes no changelog: topic is its changelog, as with Kafka Streams'
// source-topic optimisation (reuse.ktable.source.topics), and a task
// restores the table from it up to what the app has committed there.
func Table[K, V any](sb *StreamsBuilder, topic string, consumed Consumed[K, V], materialized ...Materialized[K, V]) KTable[K, V] {
	mm := materialized0(materialized)
	// Kafka Streams' order: the store's name, the source's, the table
	// source processor's.
	store := mm.storeName(sb, topic+"-")
	srcName := sb.newName(sourceName) // Kafka Streams draws both names even when Consumed names them
	name := sb.newName(tableSourceName)
	if consumed.Name != "" {
		srcName, name = consumed.Name+"-source", consumed.Name
	}
	var ex topology.TimestampExtractor[K, maybe[V]]
	if consumed.TimestampExtractor != nil {
		inner := consumed.TimestampExtractor
		ex = func(rec processor.Record[K, maybe[V]], partitionTime time.Time) (time.Time, error) {
			return inner(processor.Derive(rec, rec.Key, rec.Value.v), partitionTime)
		}
	}
	var vs serde.Serde[maybe[V]]
	if consumed.ValueSerde != nil {
		vs = nullable[V]{consumed.ValueSerde}
	}
	src := topology.AddSource(sb.b, srcName, topology.Source[K, maybe[V]]{
		Topics: []string{topic}, KeySerde: consumed.KeySerde, ValueSerde: vs,
		TimestampExtractor: ex, OffsetReset: consumed.OffsetReset,
	})
	t := KTable[K, V]{sb: sb, keySerde: or(mm.KeySerde, consumed.KeySerde), valueSerde: or(mm.ValueSerde, consumed.ValueSerde)}
	t.rows = &rows{store: store, materialized: mm.asksForStore(), sourceTopic: topic, versioned: mm.Versioned, history: mm.HistoryRetention}
	t.node = upsert(sb, name, t.rows, src, func(v maybe[V]) (V, bool) { return v.v, v.ok })
	t.store = store
	t.addStoreLater(mm, name)
	return t
}

// addStoreLater has Build add t's rows store, built as m says and
// connected to processor, if by then the rows are materialized.
func (t KTable[K, V]) addStoreLater(m Materialized[K, V], processor string) {
	r := t.rows
	r.add = func() {
		if r.materialized {
			t.addStore(m, r.store, processor)
		}
	}
	t.sb.later = append(t.sb.later, r)
}

// addStore adds store, built as m says with t's serdes, connected to
// processor. The store of a table read from a topic restores from that
// topic instead of a changelog of its own (unless m disables logging: then
// it is not restored at all).
func (t KTable[K, V]) addStore(m Materialized[K, V], store, processor string) {
	t.sb.needSerdes(store, "Materialized", t.keySerde == nil, t.valueSerde == nil)
	if t.keySerde == nil || t.valueSerde == nil {
		return
	}
	if t.rows.versioned {
		// A versioned store writes a changelog of its own even for a
		// table read from a topic: the topic, compacted, keeps only the
		// latest value of each key, not the history the store answers
		// for.
		t.sb.b.AddStateStore(m.versionedStore(store, t.keySerde, t.valueSerde), processor)
		return
	}
	b := m.keyValueStore(store, t.keySerde, t.valueSerde)
	if topic := t.rows.sourceTopic; topic != "" && !m.LoggingDisabled {
		if m.LogConfig != nil {
			t.sb.problem("store %q of the table read from %q: Materialized.LogConfig has no changelog to configure; the table restores from %q itself", store, topic, topic)
		}
		b.WithLoggingDisabled()
		t.sb.b.RestoreFromSourceTopic(store, topic)
	}
	t.sb.b.AddStateStore(b, processor)
}

// upsert adds the processor that turns records into table updates: value
// returns a record's value and whether it has one (false deletes the key).
// Once r is materialized, it keeps the rows and forwards old values.
func upsert[K, VIn, V any](sb *StreamsBuilder, name string, r *rows, parent topology.Node[K, VIn], value func(VIn) (V, bool)) topology.Node[K, Change[V]] {
	isNil := nilTest[K]()
	return topology.AddProcessor(sb.b, name, func() processor.Processor[K, VIn, K, Change[V]] {
		return &upserter[K, VIn, V]{rows: r, value: value, isNil: isNil}
	}, parent)
}

type upserter[K, VIn, V any] struct {
	rows     *rows
	value    func(VIn) (V, bool)
	isNil    func(K) bool
	ctx      processor.Context[K, Change[V]]
	store    state.TimestampedKeyValueStore[K, V]
	versions state.VersionedKeyValueStore[K, V]
}

func (u *upserter[K, VIn, V]) Init(ctx processor.Context[K, Change[V]]) error {
	u.ctx = ctx
	var err error
	switch {
	case u.rows.versioned:
		u.versions, err = processor.GetStore[state.VersionedKeyValueStore[K, V]](ctx, u.rows.store)
	case u.rows.materialized:
		u.store, err = processor.GetStore[state.TimestampedKeyValueStore[K, V]](ctx, u.rows.store)
	}
	return err
}

func (u *upserter[K, VIn, V]) Process(rec processor.Record[K, VIn]) error {
	if null(u.isNil, rec.Key) {
		// A table row needs a key: Kafka Streams drops these too.
		u.ctx.DroppedRecord()
		return nil
	}
	v, ok := u.value(rec.Value)
	c := Change[V]{New: v, HasNew: ok}
	if u.versions != nil {
		return u.version(rec, c)
	}
	if u.store != nil {
		old, had, err := u.store.Get(rec.Key)
		if err != nil {
			return err
		}
		c.Old, c.HasOld = old.Value, had
		if ok {
			err = u.store.Put(rec.Key, state.ValueAndTimestamp[V]{Value: v, Timestamp: rec.Timestamp})
		} else if had {
			_, _, err = u.store.Delete(rec.Key)
		}
		if err != nil {
			return err
		}
		if !ok && !had {
			return nil // deleting a row that is not there changes nothing
		}
	}
	return u.ctx.Forward(processor.Derive(rec, rec.Key, c))
}

// version applies an update to a versioned table. Only an update that
// becomes the row's latest version changes the table downstream; an older
// one joins the history, and one older than the history is dropped.
func (u *upserter[K, VIn, V]) version(rec processor.Record[K, VIn], c Change[V]) error {
	latest, had, err := u.versions.Get(rec.Key)
	if err != nil {
		return err
	}
	c.Old, c.HasOld = latest.Value, had
	if !c.HasNew {
		ended, ok, err := u.versions.Delete(rec.Key, rec.Timestamp)
		// The deletion removes the row only if it ends the latest version:
		// one at or before the deletion's time, which is then the version
		// valid at that time. An older deletion ends an older version (or
		// none, or nothing when older than the history).
		if err != nil || !had || !ok || ended.Timestamp.Before(latest.Timestamp) {
			return err
		}
		return u.ctx.Forward(processor.Derive(rec, rec.Key, c))
	}
	validTo, stored, err := u.versions.Put(rec.Key, c.New, rec.Timestamp)
	if err != nil {
		return err
	}
	if !stored {
		u.ctx.DroppedRecord()
		return nil
	}
	if !validTo.IsZero() {
		return nil // a later version (a value or a deletion) stays the latest
	}
	return u.ctx.Forward(processor.Derive(rec, rec.Key, c))
}

func (u *upserter[K, VIn, V]) Close() error { return nil }

// ToTable turns s into a table: each record is its key's latest value, and
// a nil value (of a pointer, slice or map type) deletes the key. If an
// operation may have changed the key since s was read, the records go
// through a repartition topic named after the table's processor first.
func (s KStream[K, V]) ToTable(named Named, materialized ...Materialized[K, V]) KTable[K, V] {
	mm := materialized0(materialized)
	// Kafka Streams' order: the processor's name, the store's, then the
	// repartition's (named after the processor) if the key may have
	// changed.
	name := s.sb.name([]Named{named}, toTableName)
	store := mm.storeName(s.sb, toTableName)
	if s.keyChanged {
		s = repartition(s, name, "Materialized", topology.Repartition[K, V]{
			KeySerde: or(mm.KeySerde, s.keySerde), ValueSerde: or(mm.ValueSerde, s.valueSerde),
		})
	}
	t := KTable[K, V]{sb: s.sb, keySerde: or(mm.KeySerde, s.keySerde), valueSerde: or(mm.ValueSerde, s.valueSerde)}
	t.rows = &rows{store: store, materialized: mm.asksForStore(), versioned: mm.Versioned, history: mm.HistoryRetention}
	isNil := nilTest[V]()
	t.node = upsert(s.sb, name, t.rows, s.node, func(v V) (V, bool) { return v, !null(isNil, v) })
	t.store = store
	t.addStoreLater(mm, name)
	return t
}

// Filter keeps the rows for which p is true: a row that stops satisfying
// p is deleted downstream.
func (t KTable[K, V]) Filter(p Predicate[K, V], named ...Named) KTable[K, V] {
	return t.filter(p, false, named)
}

// FilterNot keeps the rows for which p is false.
func (t KTable[K, V]) FilterNot(p Predicate[K, V], named ...Named) KTable[K, V] {
	return t.filter(p, true, named)
}

func (t KTable[K, V]) filter(p Predicate[K, V], not bool, named []Named) KTable[K, V] {
	name := t.sb.name(named, tableFilterName)
	r := t.rows
	keep := func(call *call, key K, v V) (bool, error) {
		ok, err := try2(call, p, key, v)
		return ok != not, err
	}
	n := addTable(t, name, "the predicate", func(call *call, ctx processor.Context[K, Change[V]], rec processor.Record[K, Change[V]]) error {
		c := rec.Value
		var err error
		if c.HasOld {
			if c.HasOld, err = keep(call, rec.Key, c.Old); err != nil {
				return err
			}
		}
		if c.HasNew {
			if c.HasNew, err = keep(call, rec.Key, c.New); err != nil {
				return err
			}
		}
		if !c.HasNew {
			var zero V
			c.New = zero
		}
		if r.oldValues() && !c.HasOld && !c.HasNew {
			// Neither passes: downstream never had the row. Without old
			// values it may have had it, and gets the deletion.
			return nil
		}
		return ctx.Forward(rec.WithValue(c))
	})
	lookup := derivedView(t, name, "the predicate", func(c *call, key K, v V) (V, bool, error) {
		ok, err := keep(c, key, v)
		return v, ok, err
	})
	return KTable[K, V]{sb: t.sb, node: n, keySerde: t.keySerde, valueSerde: t.valueSerde, rows: t.rows, windowing: t.windowing, lookup: lookup}
}

// addTable adds a stateless table processor below t, under guard.
func addTable[K, V, K2, V2 any](t KTable[K, V], name, what string, process func(c *call, ctx processor.Context[K2, Change[V2]], rec processor.Record[K, Change[V]]) error) topology.Node[K2, Change[V2]] {
	if t.plain != nil {
		return topology.AddProcessor(t.sb.b, name, guarded(name, what, asChanges(process)), *t.plain)
	}
	return topology.AddProcessor(t.sb.b, name, guarded(name, what, process), t.node)
}

// MapValuesTable maps each row's value (old and new alike).
func MapValuesTable[K, V, V2 any](t KTable[K, V], f func(key K, value V) V2, named ...Named) KTable[K, V2] {
	name := t.sb.name(named, tableMapValuesName)
	n := addTable(t, name, "the value mapper", func(call *call, ctx processor.Context[K, Change[V2]], rec processor.Record[K, Change[V]]) error {
		c := Change[V2]{HasOld: rec.Value.HasOld, HasNew: rec.Value.HasNew}
		var err error
		if c.HasOld {
			if c.Old, err = try2(call, f, rec.Key, rec.Value.Old); err != nil {
				return err
			}
		}
		if c.HasNew {
			if c.New, err = try2(call, f, rec.Key, rec.Value.New); err != nil {
				return err
			}
		}
		return ctx.Forward(processor.Derive(rec, rec.Key, c))
	})
	lookup := derivedView(t, name, "the value mapper", func(c *call, key K, v V) (V2, bool, error) {
		v2, err := try2(c, f, key, v)
		return v2, true, err
	})
	return KTable[K, V2]{sb: t.sb, node: n, keySerde: t.keySerde, valueSerde: inherit[V2](t.valueSerde), rows: t.rows, windowing: t.windowing, lookup: lookup}
}

// ToStream is the stream of the table's updates: each update's new value,
// and for a deletion the zero V, which for a pointer value with a
// serde.Nullable serde is nil, written as a tombstone (Kafka Streams'
// null).
func (t KTable[K, V]) ToStream(named ...Named) KStream[K, V] {
	name := t.sb.name(named, tableToStreamName)
	if t.plain != nil {
		n := topology.AddProcessor(t.sb.b, name, processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, V]) error {
			return ctx.Forward(rec)
		}), *t.plain)
		return KStream[K, V]{sb: t.sb, node: n, keySerde: t.keySerde, valueSerde: t.valueSerde}
	}
	n := topology.AddProcessor(t.sb.b, name, processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, Change[V]]) error {
		return ctx.Forward(processor.Derive(rec, rec.Key, rec.Value.New))
	}), t.node)
	return KStream[K, V]{sb: t.sb, node: n, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

// maybe is a table topic's value: ok is false for a tombstone.
type maybe[V any] struct {
	v  V
	ok bool
}

// nullable reads nil bytes as a tombstone without asking the inner serde,
// which may not take them.
type nullable[V any] struct{ inner serde.Serde[V] }

func (n nullable[V]) Name() string { return n.inner.Name() }

func (n nullable[V]) Serialize(m maybe[V]) ([]byte, error) {
	if !m.ok {
		return nil, nil
	}
	return n.inner.Serialize(m.v)
}

func (n nullable[V]) Deserialize(b []byte) (maybe[V], error) {
	if b == nil {
		return maybe[V]{}, nil
	}
	v, err := n.inner.Deserialize(b)
	return maybe[V]{v: v, ok: err == nil}, err
}
