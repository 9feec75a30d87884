package kstream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' foreign-key join (KTableImpl).
const (
	fkRegistrationName = "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-"
	fkResponseName     = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-"
	fkStoreName        = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-"
	fkProcessorName    = "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-"
	fkResolverName     = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-"
	fkOutputName       = "KTABLE-FK-JOIN-OUTPUT-"
	tableSinkName      = "KTABLE-SINK-"
	fkTopicSuffix      = "-topic"
)

// ForeignKeyJoin joins each row of left with the row of right whose key
// is foreignKey of the left row's value, as Kafka Streams' KTable.join
// with a foreign-key extractor (KIP-213): the result, keyed as left, has a
// row for each left row whose foreign key has a row in right,
// joiner(key, value, foreignValue). A left row with a nil foreign key (of a pointer, slice,
// map or interface KO) joins nothing and is dropped, counted as a dropped
// record.
//
// The two tables need not be co-partitioned. Each left row subscribes to
// its foreign key through the internal topic
// "<application.id>-<name>-subscription-registration-topic", partitioned
// as right's topic, where the tasks of right keep the subscriptions in a
// store; a change of right's row is sent to every left row subscribed to
// it, and a subscription is answered with right's current row, through
// "<application.id>-<name>-subscription-response-topic", partitioned as
// left's topic, to the task of the left row, which joins it with the row's
// current value. A left row that changed while its answer was on its way
// (its value's hash, sent with the subscription, no longer matches) drops
// the stale answer: the answer to the row's latest value follows. When a
// left row's foreign key changes, it unsubscribes from the old one; a
// deleted left row unsubscribes and deletes its result; a deleted or
// changed right row re-joins every left row subscribed to it.
//
// Both tables are materialized (left's to send a changed row's old
// foreign key, and to join an answer with the row's current value;
// right's to answer a subscription); the join needs both tables' key and
// value serdes. The result is a table whose store is added only when
// materialized asks for it (a Name or a store) or an operation downstream
// needs it, as Table's. Materialized.Named names the join's nodes and
// topics after it (Kafka Streams' TableJoined.withName): "<Named>-result",
// "<Named>-subscription-registration-topic" and so on, in place of
// KTABLE-FK-JOIN-OUTPUT-… and KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-…
// The result's updates carry old values once it is materialized.
func ForeignKeyJoin[K, V, KO, VO, VR any](left KTable[K, V], right KTable[KO, VO], foreignKey func(value V) KO, joiner func(key K, value V, foreign VO) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	return fkJoin(false, left, right, foreignKey, func(key K, v V, vo VO, _ bool) VR { return joiner(key, v, vo) }, materialized0(materialized))
}

// ForeignKeyLeftJoin is ForeignKeyJoin that keeps every row of left, as
// Kafka Streams' KTable.leftJoin with a foreign-key extractor: a row whose
// foreign key is nil or has no row in right gives joiner(key, value, zero,
// false).
func ForeignKeyLeftJoin[K, V, KO, VO, VR any](left KTable[K, V], right KTable[KO, VO], foreignKey func(value V) KO, joiner func(key K, value V, foreign VO, hasForeign bool) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	return fkJoin(true, left, right, foreignKey, joiner, materialized0(materialized))
}

func fkJoin[K, V, KO, VO, VR any](leftJoin bool, left KTable[K, V], right KTable[KO, VO], foreignKey func(V) KO, joiner func(K, V, VO, bool) VR, m Materialized[K, VR]) KTable[K, VR] {
	sb := left.sb
	named := string(m.Named)
	// Kafka Streams draws every name, named or not, in this order.
	name := func(suffix, prefix string) string {
		generated := sb.newName(prefix)
		if named != "" {
			return named + suffix
		}
		return generated
	}
	subTopic := name("-subscription-registration", fkRegistrationName) + fkTopicSuffix
	regN := name("-subscription-registration-processor", fkRegistrationName)
	subSinkN := name("-subscription-registration-sink", tableSinkName)
	subSourceN := name("-subscription-registration-source", tableSourceName)
	store := name("-subscription-store", fkStoreName)
	receiveN := name("-subscription-receive", fkProcessorName)
	joinForeignN := name("-subscription-join-foreign", fkProcessorName)
	foreignJoinN := name("-foreign-join-subscription", fkProcessorName)
	respTopic := name("-subscription-response", fkResponseName) + fkTopicSuffix
	respSinkN := name("-subscription-response-sink", tableSinkName)
	respSourceN := name("-subscription-response-source", tableSourceName)
	resolverN := name("-subscription-response-resolver", fkResolverName)
	outputN := name("-result", fkOutputName)
	outStore := m.storeName(sb, fkOutputName)

	res := KTable[K, VR]{sb: sb, keySerde: or(m.KeySerde, left.keySerde), valueSerde: or(m.ValueSerde, inherit[VR](left.valueSerde))}
	if right.sb != sb {
		sb.problem("%s: the two tables of a join come from different StreamsBuilders", outputN)
		return res
	}
	leftView, rightView := left.valueView(), right.valueView()
	if leftView == nil || rightView == nil || left.plain != nil || right.plain != nil {
		sb.problem("%s: a foreign-key join looks up both tables' rows, and a windowed aggregation's or a suppressed table keeps none to look up", outputN)
		return res
	}
	ks, vs, kos, vos := left.keySerde, left.valueSerde, right.keySerde, right.valueSerde
	if ks == nil || vs == nil || kos == nil || vos == nil {
		sb.problem("%s: a foreign-key join writes both tables' keys and values to its topics and hashes the left table's values, so it needs the serdes of both; give the missing ones in the tables' Consumed or Materialized", outputN)
		return res
	}

	subSerde := subscriptionSerde[K]{ks}
	reg := topology.AddProcessor(sb.b, regN, func() processor.Processor[K, Change[V], []byte, subscription[K]] {
		return &fkRegistration[K, V, KO]{call: call{name: regN, what: "the foreign key extractor"}, left: leftJoin,
			foreignKey: foreignKey, isNilFK: nilTest[KO](), fkSerde: kos, valueSerde: vs}
	}, left.node)
	subscriptions := topology.AddInternalTopic(sb.b, subTopic, topology.InternalTopic[[]byte, subscription[K]]{
		KeySerde: serde.Bytes(), ValueSerde: subSerde, SinkName: subSinkN, SourceName: subSourceN, PartitionedLikeReader: true,
		Partitioner: func(_ string, _ []byte, s subscription[K], n int) (int, bool) {
			if s.HasForeignKey {
				return 0, false // as right's topic: murmur2 of the foreign key's bytes
			}
			// A left join's row with no foreign key comes straight back:
			// any partition will do.
			return int(s.Partition) % n, true
		},
	}, reg)
	sb.b.AddStateStore(state.NewTimestampedKeyValueStoreBuilder(state.InMemoryKeyValueStore(store), serde.Bytes(), serde.Serde[subscription[K]](subSerde)))
	received := topology.AddProcessor(sb.b, receiveN, func() processor.Processor[[]byte, subscription[K], []byte, subscription[K]] {
		return &fkReceiver[K]{store: store, keySerde: ks}
	}, subscriptions)
	answered := topology.AddProcessor(sb.b, joinForeignN, func() processor.Processor[[]byte, subscription[K], K, response[VO]] {
		return &fkSubscriptionJoiner[K, KO, VO]{view: rightView, fkSerde: kos}
	}, received)
	changed := topology.AddProcessor(sb.b, foreignJoinN, func() processor.Processor[KO, Change[VO], K, response[VO]] {
		return &fkForeignChange[K, KO, VO]{store: store, fkSerde: kos, isNil: nilTest[KO]()}
	}, right.node)
	sb.b.ConnectProcessorAndStateStores(receiveN, store)
	sb.b.ConnectProcessorAndStateStores(joinForeignN, rightView.stores...)
	sb.b.ConnectProcessorAndStateStores(foreignJoinN, store)
	responses := topology.AddInternalTopic(sb.b, respTopic, topology.InternalTopic[K, response[VO]]{
		KeySerde: ks, ValueSerde: responseSerde[VO]{vos}, SinkName: respSinkN, SourceName: respSourceN, PartitionedLikeReader: true,
		// Back to the task of the left row, whatever partitioned its
		// table.
		Partitioner: func(_ string, _ K, r response[VO], n int) (int, bool) {
			if int(r.Partition) >= n {
				return 0, false
			}
			return int(r.Partition), true
		},
	}, answered, changed)
	resolved := topology.AddProcessor(sb.b, resolverN, func() processor.Processor[K, response[VO], K, maybe[VR]] {
		return &fkResolver[K, V, VO, VR]{call: call{name: resolverN, what: "the joiner"}, left: leftJoin, view: leftView, valueSerde: vs, joiner: joiner}
	}, responses)
	sb.b.ConnectProcessorAndStateStores(resolverN, leftView.stores...)

	res.rows = &rows{store: outStore, materialized: m.asksForStore()}
	isNilR := nilTest[VR]()
	res.node = upsert(sb, outputN, res.rows, resolved, func(r maybe[VR]) (VR, bool) { return r.v, r.ok && !null(isNilR, r.v) })
	res.store = outStore
	res.addStoreLater(m, outputN)
	return res
}

// instruction is what a subscription asks of the right table's task
// (Kafka Streams' SubscriptionWrapper.Instruction).
type instruction byte

const (
	// unsubscribe: the left row's foreign key changed; the subscription to
	// the new one answers.
	unsubscribe instruction = iota
	// unsubscribeAndAnswer: the left row lost its foreign key (or was
	// deleted); answer that there is no right row, so that its result
	// goes.
	unsubscribeAndAnswer
	// subscribeAndAnswer: answer with the right row, or that there is
	// none (the result the row had under its old foreign key goes).
	subscribeAndAnswer
	// subscribeAndAnswerIfFound: a first subscription of an inner join:
	// answer only if there is a right row.
	subscribeAndAnswerIfFound
)

// valueHash is the hash of a left row's serialized value: FNV-1a, 128
// bits (Kafka Streams uses MurmurHash3's 128 bits; any hash does, as only
// this library compares them).
type valueHash [16]byte

func hashOf(b []byte) valueHash {
	h := fnv.New128a()
	h.Write(b)
	var out valueHash
	h.Sum(out[:0])
	return out
}

// subscription is a left row's message to the right table's task, keyed
// by its foreign key's bytes (empty when it has none).
type subscription[K any] struct {
	Instruction instruction
	// Hash is the hash of the left row's value when it was sent; HasHash is
	// false for a deleted row.
	Hash    valueHash
	HasHash bool
	// HasForeignKey is false for a left join's row that has no foreign key:
	// its record's key is empty and it is answered at once.
	HasForeignKey bool
	// Partition is the left row's task's partition, which the answer goes
	// back to.
	Partition  int32
	PrimaryKey K
}

// response is the answer to a subscription, keyed by the left row's key.
type response[VO any] struct {
	// Hash is the subscription's.
	Hash    valueHash
	HasHash bool
	// Value is the right row; HasValue is false when there is none.
	Value    VO
	HasValue bool
	// Partition is where the answer goes. It is not written: the sink's
	// partitioner reads it.
	Partition int32
}

// The encodings of the subscription and response topics and of the
// subscription store, which only this library reads:
//
//	subscription: version 0 (1 byte), instruction (1 byte), flags (1 byte:
//	              1 = hash, 2 = foreign key), partition (int32 big-endian),
//	              the hash (16 bytes) if flagged, then the left key's bytes.
//	response:     version 0 (1 byte), flags (1 byte: 1 = hash, 2 = value),
//	              the hash (16 bytes) if flagged, then the right value's
//	              bytes if flagged.
//	store key:    the foreign key's length (uint32 big-endian), its bytes,
//	              then the left key's bytes: a prefix scan on the first two
//	              finds every left row subscribed to a foreign key.
const fkVersion = 0

type subscriptionSerde[K any] struct{ key serde.Serde[K] }

func (s subscriptionSerde[K]) Name() string { return "fk-subscription[" + s.key.Name() + "]" }

func (s subscriptionSerde[K]) Serialize(sub subscription[K]) ([]byte, error) {
	pk, err := s.key.Serialize(sub.PrimaryKey)
	if err != nil {
		return nil, err
	}
	var flags byte
	if sub.HasHash {
		flags |= 1
	}
	if sub.HasForeignKey {
		flags |= 2
	}
	b := make([]byte, 0, 7+len(valueHash{})+len(pk))
	b = append(b, fkVersion, byte(sub.Instruction), flags)
	b = binary.BigEndian.AppendUint32(b, uint32(sub.Partition))
	if sub.HasHash {
		b = append(b, sub.Hash[:]...)
	}
	return append(b, pk...), nil
}

func (s subscriptionSerde[K]) Deserialize(b []byte) (subscription[K], error) {
	var sub subscription[K]
	if len(b) < 7 || b[0] != fkVersion || b[1] > byte(subscribeAndAnswerIfFound) || b[2]&^3 != 0 {
		return sub, malformed(s.Name(), "no valid header")
	}
	sub.Instruction, sub.HasHash, sub.HasForeignKey = instruction(b[1]), b[2]&1 != 0, b[2]&2 != 0
	sub.Partition = int32(binary.BigEndian.Uint32(b[3:7]))
	rest := b[7:]
	if sub.HasHash {
		if len(rest) < len(sub.Hash) {
			return sub, malformed(s.Name(), "short hash")
		}
		rest = rest[copy(sub.Hash[:], rest):]
	}
	pk, err := s.key.Deserialize(rest)
	if err != nil {
		return sub, err
	}
	sub.PrimaryKey = pk
	return sub, nil
}

type responseSerde[VO any] struct{ value serde.Serde[VO] }

func (s responseSerde[VO]) Name() string { return "fk-response[" + s.value.Name() + "]" }

func (s responseSerde[VO]) Serialize(r response[VO]) ([]byte, error) {
	var v []byte
	var flags byte
	if r.HasHash {
		flags |= 1
	}
	if r.HasValue {
		flags |= 2
		var err error
		if v, err = s.value.Serialize(r.Value); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 2+len(valueHash{})+len(v))
	b = append(b, fkVersion, flags)
	if r.HasHash {
		b = append(b, r.Hash[:]...)
	}
	return append(b, v...), nil
}

func (s responseSerde[VO]) Deserialize(b []byte) (response[VO], error) {
	var r response[VO]
	if len(b) < 2 || b[0] != fkVersion || b[1]&^3 != 0 {
		return r, malformed(s.Name(), "no valid header")
	}
	r.HasHash, r.HasValue = b[1]&1 != 0, b[1]&2 != 0
	rest := b[2:]
	if r.HasHash {
		if len(rest) < len(r.Hash) {
			return r, malformed(s.Name(), "short hash")
		}
		rest = rest[copy(r.Hash[:], rest):]
	}
	if !r.HasValue {
		if len(rest) > 0 {
			return r, malformed(s.Name(), "bytes after a response with no value")
		}
		return r, nil
	}
	v, err := s.value.Deserialize(rest)
	if err != nil {
		return r, err
	}
	r.Value = v
	return r, nil
}

func malformed(name, what string) error {
	return fmt.Errorf("kstream: %s: %w: %s", name, serde.ErrMalformed, what)
}

// subscriptionKey is the subscription store's key of a foreign key and a
// left key (their bytes); fkPrefix is its first part.
func subscriptionKey(fk, pk []byte) []byte {
	return append(fkPrefix(fk, len(pk)), pk...)
}

func fkPrefix(fk []byte, extra int) []byte {
	b := make([]byte, 0, 4+len(fk)+extra)
	b = binary.BigEndian.AppendUint32(b, uint32(len(fk)))
	return append(b, fk...)
}

// fkRegistration sends a left row's subscriptions when it changes (Kafka
// Streams' SubscriptionSendProcessorSupplier).
type fkRegistration[K, V, KO any] struct {
	call
	left       bool
	foreignKey func(V) KO
	isNilFK    func(KO) bool
	fkSerde    serde.Serde[KO]
	valueSerde serde.Serde[V]
	ctx        processor.Context[[]byte, subscription[K]]
}

func (r *fkRegistration[K, V, KO]) Init(ctx processor.Context[[]byte, subscription[K]]) error {
	r.ctx, r.call.ctx = ctx, ctx
	return nil
}

// extract returns the bytes of v's foreign key, and false when it has
// none.
func (r *fkRegistration[K, V, KO]) extract(v V) ([]byte, bool, error) {
	fk, err := try1(&r.call, r.foreignKey, v)
	if err != nil || null(r.isNilFK, fk) {
		return nil, false, err
	}
	b, err := r.fkSerde.Serialize(fk)
	return b, err == nil, err
}

func (r *fkRegistration[K, V, KO]) Process(rec processor.Record[K, Change[V]]) error {
	c := rec.Value
	var oldFK, newFK []byte
	var hasOld, hasNew bool
	var err error
	if c.HasOld {
		if oldFK, hasOld, err = r.extract(c.Old); err != nil {
			return err
		}
	}
	if c.HasNew {
		if newFK, hasNew, err = r.extract(c.New); err != nil {
			return err
		}
	}
	sub := subscription[K]{PrimaryKey: rec.Key, Partition: int32(r.ctx.TaskID().Partition)}
	if c.HasNew {
		v, err := r.valueSerde.Serialize(c.New)
		if err != nil {
			return err
		}
		sub.Hash, sub.HasHash = hashOf(v), true
	}
	send := func(fk []byte, hasFK bool, ins instruction) error {
		s := sub
		s.Instruction, s.HasForeignKey = ins, hasFK
		return r.ctx.Forward(processor.Record[[]byte, subscription[K]]{Key: fk, Value: s, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	moved := hasOld && (!hasNew || !bytes.Equal(oldFK, newFK))
	if moved {
		ins := unsubscribeAndAnswer // the answer deletes the result, or joins a left join's row with nothing
		if hasNew {
			ins = unsubscribe // the new subscription answers
		}
		if err := send(oldFK, true, ins); err != nil {
			return err
		}
	}
	switch {
	case hasNew:
		ins := subscribeAndAnswer // a result the row had may have to go
		if !r.left && !hasOld {
			ins = subscribeAndAnswerIfFound // an inner join's row that had no result
		}
		return send(newFK, true, ins)
	case moved:
		return nil
	case r.left && (c.HasNew || c.HasOld):
		// A left join's row with no foreign key, before or after: its
		// result is its value joined with nothing, or gone.
		return send([]byte{}, false, subscribeAndAnswer)
	case c.HasNew:
		// An inner join's row with no foreign key joins nothing: Kafka
		// Streams drops it too.
		r.ctx.DroppedRecord()
	}
	return nil
}

func (r *fkRegistration[K, V, KO]) Close() error { return nil }

// fkReceiver keeps the subscriptions of the right table's partition
// (Kafka Streams' SubscriptionReceiveProcessorSupplier).
type fkReceiver[K any] struct {
	store    string
	keySerde serde.Serde[K]
	kv       state.TimestampedKeyValueStore[[]byte, subscription[K]]
	ctx      processor.Context[[]byte, subscription[K]]
}

func (f *fkReceiver[K]) Init(ctx processor.Context[[]byte, subscription[K]]) error {
	f.ctx = ctx
	var err error
	f.kv, err = processor.GetStore[state.TimestampedKeyValueStore[[]byte, subscription[K]]](ctx, f.store)
	return err
}

func (f *fkReceiver[K]) Process(rec processor.Record[[]byte, subscription[K]]) error {
	s := rec.Value
	if !s.HasForeignKey {
		if s.Instruction != subscribeAndAnswer {
			f.ctx.DroppedRecord()
			return nil
		}
		return f.ctx.Forward(rec) // nothing to keep: answered at once
	}
	pk, err := f.keySerde.Serialize(s.PrimaryKey)
	if err != nil {
		return err
	}
	key := subscriptionKey(rec.Key, pk)
	switch s.Instruction {
	case unsubscribe, unsubscribeAndAnswer:
		_, _, err = f.kv.Delete(key)
	default:
		err = f.kv.Put(key, state.ValueAndTimestamp[subscription[K]]{Value: s, Timestamp: rec.Timestamp})
	}
	if err != nil {
		return err
	}
	return f.ctx.Forward(rec)
}

func (f *fkReceiver[K]) Close() error { return nil }

// fkSubscriptionJoiner answers a subscription with the right row of its
// foreign key (Kafka Streams' SubscriptionJoinProcessorSupplier).
type fkSubscriptionJoiner[K, KO, VO any] struct {
	view    *tableView[KO, VO]
	fkSerde serde.Serde[KO]
	get     lookup[KO, VO]
	ctx     processor.Context[K, response[VO]]
}

func (j *fkSubscriptionJoiner[K, KO, VO]) Init(ctx processor.Context[K, response[VO]]) error {
	j.ctx = ctx
	var err error
	j.get, err = j.view.open(ctx)
	return err
}

func (j *fkSubscriptionJoiner[K, KO, VO]) Process(rec processor.Record[[]byte, subscription[K]]) error {
	s := rec.Value
	if s.Instruction == unsubscribe {
		return nil
	}
	var row state.ValueAndTimestamp[VO]
	var found bool
	if s.HasForeignKey && s.Instruction != unsubscribeAndAnswer {
		fk, err := j.fkSerde.Deserialize(rec.Key)
		if err != nil {
			return err
		}
		if row, found, err = j.get(fk); err != nil {
			return err
		}
	}
	if s.Instruction == subscribeAndAnswerIfFound && !found {
		return nil
	}
	ts := rec.Timestamp
	if found && row.Timestamp.After(ts) {
		ts = row.Timestamp
	}
	r := response[VO]{Hash: s.Hash, HasHash: s.HasHash, Value: row.Value, HasValue: found, Partition: s.Partition}
	return j.ctx.Forward(processor.Record[K, response[VO]]{Key: s.PrimaryKey, Value: r, Timestamp: ts, Headers: rec.Headers})
}

func (j *fkSubscriptionJoiner[K, KO, VO]) Close() error { return nil }

// fkForeignChange sends a right row's change to every left row subscribed
// to it (Kafka Streams' ForeignTableJoinProcessorSupplier).
type fkForeignChange[K, KO, VO any] struct {
	store   string
	fkSerde serde.Serde[KO]
	isNil   func(KO) bool
	kv      state.TimestampedKeyValueStore[[]byte, subscription[K]]
	ctx     processor.Context[K, response[VO]]
}

func (f *fkForeignChange[K, KO, VO]) Init(ctx processor.Context[K, response[VO]]) error {
	f.ctx = ctx
	var err error
	f.kv, err = processor.GetStore[state.TimestampedKeyValueStore[[]byte, subscription[K]]](ctx, f.store)
	return err
}

func (f *fkForeignChange[K, KO, VO]) Process(rec processor.Record[KO, Change[VO]]) error {
	if null(f.isNil, rec.Key) {
		return nil
	}
	fk, err := f.fkSerde.Serialize(rec.Key)
	if err != nil {
		return err
	}
	c := rec.Value
	for e, err := range f.kv.PrefixScan(fkPrefix(fk, 0)) {
		if err != nil {
			return err
		}
		s := e.Value.Value
		r := response[VO]{Hash: s.Hash, HasHash: s.HasHash, Value: c.New, HasValue: c.HasNew, Partition: s.Partition}
		if err := f.ctx.Forward(processor.Record[K, response[VO]]{Key: s.PrimaryKey, Value: r, Timestamp: rec.Timestamp, Headers: rec.Headers}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fkForeignChange[K, KO, VO]) Close() error { return nil }

// fkResolver joins an answer with the left row's current value, unless
// the row changed since it subscribed (Kafka Streams'
// ResponseJoinProcessorSupplier).
type fkResolver[K, V, VO, VR any] struct {
	call
	left       bool
	view       *tableView[K, V]
	valueSerde serde.Serde[V]
	joiner     func(K, V, VO, bool) VR
	get        lookup[K, V]
	ctx        processor.Context[K, maybe[VR]]
}

func (r *fkResolver[K, V, VO, VR]) Init(ctx processor.Context[K, maybe[VR]]) error {
	r.ctx, r.call.ctx = ctx, ctx
	var err error
	r.get, err = r.view.open(ctx)
	return err
}

func (r *fkResolver[K, V, VO, VR]) Process(rec processor.Record[K, response[VO]]) error {
	row, found, err := r.get(rec.Key)
	if err != nil {
		return err
	}
	var h valueHash
	if found {
		b, err := r.valueSerde.Serialize(row.Value)
		if err != nil {
			return err
		}
		h = hashOf(b)
	}
	resp := rec.Value
	if resp.HasHash != found || resp.Hash != h {
		return nil // stale: the answer to the row's current value follows
	}
	out := processor.Record[K, maybe[VR]]{Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers}
	if resp.HasValue || (r.left && found) {
		v, err := try4(&r.call, r.joiner, rec.Key, row.Value, resp.Value, resp.HasValue)
		if err != nil {
			return err
		}
		out.Value = maybe[VR]{v: v, ok: true}
	}
	return r.ctx.Forward(out)
}

func (r *fkResolver[K, V, VO, VR]) Close() error { return nil }
