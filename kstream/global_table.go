package kstream

import (
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// globalJoinName prefixes the generated name of a stream–global-table
// join, inner or left: Kafka Streams' KStreamImpl.globalTableJoin draws it
// with LEFTJOIN_NAME for both, so an inner join is "KSTREAM-LEFTJOIN-…"
// too.
const globalJoinName = "KSTREAM-LEFTJOIN-"

// GlobalKTable is a table whose every row is on every instance of the
// app: it reads all partitions of its topic (topology.AddGlobalStore), so
// a stream joins it by any key it can compute from its records, with no
// repartition and no co-partitioning (JoinGlobal, LeftJoinGlobal).
type GlobalKTable[K, V any] struct {
	sb         *StreamsBuilder
	store      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// StoreName is the name of the table's store, queryable on every instance
// with streams.QueryKeyValue (values alone, or with V =
// state.ValueAndTimestamp[X] for their timestamps).
func (t GlobalKTable[K, V]) StoreName() string { return t.store }

// GlobalTable reads every partition of topic into a global table, as Kafka
// Streams' StreamsBuilder.globalTable: a record upserts its key's row, a
// nil value deletes it, a record with a nil key is dropped. The table is
// kept in a timestamped key-value store (in memory unless materialized
// says otherwise) named after materialized, or "<topic>-STATE-STORE-n",
// which writes no changelog: topic is its changelog. Every instance
// restores it to the topic's end before its tasks process anything.
// consumed's serdes are required; an OffsetReset does not apply (a global
// table always reads its topic whole).
func GlobalTable[K, V any](sb *StreamsBuilder, topic string, consumed Consumed[K, V], materialized ...Materialized[K, V]) GlobalKTable[K, V] {
	mm := materialized0(materialized)
	// Kafka Streams' order, as for Table: the store's name, the source's,
	// the table source processor's.
	store := mm.storeName(sb, topic+"-")
	srcName := sb.newName(sourceName)
	name := sb.newName(tableSourceName)
	if consumed.Name != "" {
		srcName, name = consumed.Name+"-source", consumed.Name
	}
	t := GlobalKTable[K, V]{sb: sb, store: store, keySerde: or(mm.KeySerde, consumed.KeySerde), valueSerde: or(mm.ValueSerde, consumed.ValueSerde)}
	if consumed.KeySerde == nil || consumed.ValueSerde == nil {
		sb.problem("GlobalTable(%q) needs a key serde and a value serde; give them in its Consumed", topic)
		return t
	}
	if consumed.OffsetReset != topology.DefaultReset {
		sb.problem("GlobalTable(%q): Consumed.OffsetReset does not apply to a global table, which always reads its topic whole; leave it unset", topic)
	}
	if mm.LogConfig != nil || mm.LoggingDisabled {
		sb.problem("GlobalTable(%q): store %q has no changelog to configure or disable; %q is its changelog", topic, store, topic)
	}
	var ex topology.TimestampExtractor[K, maybe[V]]
	if consumed.TimestampExtractor != nil {
		inner := consumed.TimestampExtractor
		ex = func(rec processor.Record[K, maybe[V]], partitionTime time.Time) (time.Time, error) {
			return inner(processor.Derive(rec, rec.Key, rec.Value.v), partitionTime)
		}
	}
	b := mm.keyValueStore(store, t.keySerde, t.valueSerde)
	b.WithLoggingDisabled()
	isNil := nilTest[K]()
	topology.AddGlobalStore(sb.b, b, srcName, topology.GlobalSource[K, maybe[V]]{
		Topic: topic, KeySerde: consumed.KeySerde, ValueSerde: nullable[V]{consumed.ValueSerde}, TimestampExtractor: ex,
	}, name, func() processor.Processor[K, maybe[V], struct{}, struct{}] {
		return &globalUpserter[K, V]{store: store, isNil: isNil}
	})
	return t
}

// globalUpserter is a global table's state-update processor (Kafka
// Streams' KTableSource, with nowhere to forward).
type globalUpserter[K, V any] struct {
	store string
	isNil func(K) bool
	ctx   processor.Context[struct{}, struct{}]
	rows  state.TimestampedKeyValueStore[K, V]
}

func (u *globalUpserter[K, V]) Init(ctx processor.Context[struct{}, struct{}]) error {
	u.ctx = ctx
	var err error
	u.rows, err = processor.GetStore[state.TimestampedKeyValueStore[K, V]](ctx, u.store)
	return err
}

func (u *globalUpserter[K, V]) Process(rec processor.Record[K, maybe[V]]) error {
	if null(u.isNil, rec.Key) {
		u.ctx.DroppedRecord()
		return nil
	}
	if !rec.Value.ok {
		_, _, err := u.rows.Delete(rec.Key)
		return err
	}
	return u.rows.Put(rec.Key, state.ValueAndTimestamp[V]{Value: rec.Value.v, Timestamp: rec.Timestamp})
}

func (u *globalUpserter[K, V]) Close() error { return nil }

// JoinGlobal joins each record of s with the row of t whose key keyMapper
// computes from the record, as Kafka Streams' KStream.join(GlobalKTable):
// the result keeps the record's key and timestamp, with joiner's value of
// the record's key and value and the row. A record with no row, a nil mapped
// key, or a nil value is dropped (the last two are counted as dropped
// records). The row is what the global store holds when the record is
// processed: the global thread updates it on its own, with no
// synchronization with the stream's time. The join is named
// "KSTREAM-LEFTJOIN-n", as Kafka Streams names it, unless named.
func JoinGlobal[K, V, GK, GV, VR any](s KStream[K, V], t GlobalKTable[GK, GV], keyMapper func(key K, value V) GK, joiner func(key K, value V, row GV) VR, named ...Named) KStream[K, VR] {
	var j func(K, V, GV, bool) VR
	if joiner != nil {
		j = func(k K, v V, row GV, _ bool) VR { return joiner(k, v, row) }
	}
	return joinGlobal(s, t, keyMapper, j, false, "JoinGlobal", named)
}

// LeftJoinGlobal is JoinGlobal that keeps the records with no row: joiner
// gets hasRow false and the zero GV for them. As in Kafka Streams, a
// nil mapped key or a nil value still drops the record, except a record
// with a nil key and a value, which is joined with the zero GV.
func LeftJoinGlobal[K, V, GK, GV, VR any](s KStream[K, V], t GlobalKTable[GK, GV], keyMapper func(key K, value V) GK, joiner func(key K, value V, row GV, hasRow bool) VR, named ...Named) KStream[K, VR] {
	return joinGlobal(s, t, keyMapper, joiner, true, "LeftJoinGlobal", named)
}

func joinGlobal[K, V, GK, GV, VR any](s KStream[K, V], t GlobalKTable[GK, GV], keyMapper func(K, V) GK, joiner func(K, V, GV, bool) VR, left bool, op string, named []Named) KStream[K, VR] {
	name := s.sb.name(named, globalJoinName)
	if keyMapper == nil || joiner == nil {
		s.sb.problem("%s %q needs a key mapper and a joiner", op, name)
	}
	if t.sb != s.sb {
		s.sb.problem("%s %q: the global table comes from another StreamsBuilder", op, name)
	}
	isNilK, isNilV, isNilGK := nilTest[K](), nilTest[V](), nilTest[GK]()
	store := t.store
	n := topology.AddProcessor(s.sb.b, name, func() processor.Processor[K, V, K, VR] {
		return &globalJoin[K, V, GK, GV, VR]{
			store: store, left: left, keyMapper: keyMapper, joiner: joiner,
			isNilK: isNilK, isNilV: isNilV, isNilGK: isNilGK,
			mapCall:  call{name: name, what: op + "'s key mapper"},
			joinCall: call{name: name, what: op + "'s joiner"},
		}
	}, s.node)
	return derived(s, n, s.keySerde, inherit[VR](s.valueSerde), s.keyChanged)
}

// globalJoin is Kafka Streams' KStreamKTableJoinProcessor over a global
// table's store.
type globalJoin[K, V, GK, GV, VR any] struct {
	store             string
	left              bool
	keyMapper         func(K, V) GK
	joiner            func(K, V, GV, bool) VR
	isNilK            func(K) bool
	isNilV            func(V) bool
	isNilGK           func(GK) bool
	mapCall, joinCall call
	ctx               processor.Context[K, VR]
	rows              state.KeyValueStore[GK, state.ValueAndTimestamp[GV]]
}

func (j *globalJoin[K, V, GK, GV, VR]) Init(ctx processor.Context[K, VR]) error {
	j.ctx, j.mapCall.ctx, j.joinCall.ctx = ctx, ctx, ctx
	var err error
	j.rows, err = processor.GetStore[state.KeyValueStore[GK, state.ValueAndTimestamp[GV]]](ctx, j.store)
	return err
}

func (j *globalJoin[K, V, GK, GV, VR]) Process(rec processor.Record[K, V]) error {
	mapped, err := try2(&j.mapCall, j.keyMapper, rec.Key, rec.Value)
	if err != nil {
		return err
	}
	nilMapped := null(j.isNilGK, mapped)
	nilValue := null(j.isNilV, rec.Value)
	// A left join keeps a record with a nil key and a value (Kafka
	// Streams' relaxed null-key join, KIP-962); otherwise a nil mapped key
	// or value has nothing to join.
	keep := j.left && null(j.isNilK, rec.Key) && !nilValue
	if !keep && (nilMapped || nilValue) {
		j.ctx.DroppedRecord()
		return nil
	}
	var row GV
	found := false
	if !nilMapped {
		vt, ok, err := j.rows.Get(mapped)
		if err != nil {
			return err
		}
		row, found = vt.Value, ok
	}
	if !found && !j.left {
		return nil
	}
	out, err := try4(&j.joinCall, j.joiner, rec.Key, rec.Value, row, found)
	if err != nil {
		return err
	}
	return j.ctx.Forward(processor.Derive(rec, rec.Key, out))
}

func (j *globalJoin[K, V, GK, GV, VR]) Close() error { return nil }
