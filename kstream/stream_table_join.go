package kstream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' stream-table joins.
const (
	joinName     = "KSTREAM-JOIN-"
	leftJoinName = "KSTREAM-LEFTJOIN-"
)

// Joined says how a stream is joined to a table.
type Joined[K, V, VT any] struct {
	// Name names the join's processor in place of KSTREAM-JOIN-… (or
	// KSTREAM-LEFTJOIN-…), and the repartition topic of a stream whose
	// key changed ("<Name>-repartition"); its grace buffer is the store
	// "<Name>-Buffer".
	Name string
	// KeySerde and ValueSerde encode the stream's records when they go
	// through a repartition topic or the grace buffer. Default: the
	// stream's.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// GracePeriod, when positive, holds each stream record back until
	// stream time has passed its timestamp by GracePeriod, and joins the
	// held records in timestamp order (Kafka Streams' KIP-923), so that a
	// table update that comes a little after a stream record, but is
	// older than it, still meets it. The table must be versioned, with a
	// history of at least GracePeriod. A stream record older than the
	// grace period when it comes is joined at once. Default 0: no
	// buffering.
	GracePeriod time.Duration
}

// JoinTable joins each record of s to the row of t with its key, and
// forwards joiner's result, with the record's key and timestamp. A record
// whose key has no row is dropped, as is one with a nil key or value. If
// t is versioned (Materialized.Versioned), the record meets the row as it
// was at the record's timestamp; otherwise, as it is when the record is
// processed. Updates of t join nothing: only stream records trigger the
// join. If an operation may have changed s's key, s goes through a
// repartition topic first, so that each record reaches the task of its
// key's table partition; s's topic and t's must have the same number of
// partitions.
func JoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(key K, value V, row VT) VR, joined ...Joined[K, V, VT]) KStream[K, VR] {
	return streamTableJoin(s, t, func(k K, v V, row VT, _ bool) VR { return joiner(k, v, row) }, false, joined)
}

// LeftJoinTable is JoinTable that also forwards the records that meet no
// row, and the records with a nil key: joiner gets hasRow false and the
// zero VT for them.
func LeftJoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(key K, value V, row VT, hasRow bool) VR, joined ...Joined[K, V, VT]) KStream[K, VR] {
	return streamTableJoin(s, t, joiner, true, joined)
}

func streamTableJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(K, V, VT, bool) VR, left bool, joined []Joined[K, V, VT]) KStream[K, VR] {
	var j Joined[K, V, VT]
	if len(joined) > 0 {
		j = joined[0]
	}
	ks, vs := or(j.KeySerde, s.keySerde), or(j.ValueSerde, s.valueSerde)
	// Kafka Streams' order: the repartition (named after the join, or
	// after the node before it) draws its names before the join does.
	if s.keyChanged {
		s = joinRepartition(s, j.Name, "", "Joined", ks, vs)
	}
	prefix := joinName
	if left {
		prefix = leftJoinName
	}
	name := s.sb.name([]Named{Named(j.Name)}, prefix)
	get := t.valueView()
	if get == nil {
		s.sb.problem("%s: the table has no rows to join to (a windowed or suppressed table); join its ToStream instead, or a table made from it", name)
		return KStream[K, VR]{sb: s.sb, keySerde: s.keySerde}
	}
	if j.GracePeriod < 0 {
		s.sb.problem("%s: Joined.GracePeriod is negative (%v)", name, j.GracePeriod)
	}
	buffer := ""
	if j.GracePeriod > 0 {
		switch {
		case !get.versioned:
			s.sb.problem("%s: a grace period needs a versioned table (Materialized.Versioned), to join each record to the row as of its time", name)
		case get.history < j.GracePeriod:
			s.sb.problem("%s: the grace period (%v) is longer than the table's history retention (%v): the rows a held record needs may be gone", name, j.GracePeriod, get.history)
		}
		buffer = name + "-Buffer"
		s.sb.needSerdes(buffer, "Joined", ks == nil, vs == nil)
		if ks != nil && vs != nil {
			s.sb.b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(buffer), serde.Bytes(), serde.Bytes()))
		}
	}
	isNilK, isNilV := nilTest[K](), nilTest[V]()
	grace := j.GracePeriod
	n := topology.AddProcessor(s.sb.b, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoiner[K, V, VT, VR]{
			call: call{name: name, what: "the joiner"}, left: left, get: get, joiner: joiner,
			isNilK: isNilK, isNilV: isNilV, grace: grace, bufferStore: buffer, ks: ks, vs: vs,
		}
	}, s.node)
	stores := slices.Clone(get.stores)
	if buffer != "" {
		stores = append(stores, buffer)
	}
	s.sb.b.ConnectProcessorAndStateStores(name, stores...)
	return KStream[K, VR]{sb: s.sb, node: n, keySerde: or(j.KeySerde, s.keySerde)}
}

// streamTableJoiner is Kafka Streams' KStreamKTableJoinProcessor: it looks
// each stream record's key up in the table, at once or, with a grace
// period, once stream time has passed the record by it.
type streamTableJoiner[K, V, VT, VR any] struct {
	call
	left        bool
	get         *tableView[K, VT]
	latest      lookup[K, VT]
	asOf        lookupAsOf[K, VT]
	joiner      func(K, V, VT, bool) VR
	isNilK      func(K) bool
	isNilV      func(V) bool
	ctx         processor.Context[K, VR]
	grace       time.Duration
	bufferStore string
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	buffer      state.KeyValueStore[[]byte, []byte]
	streamTime  time.Time
	seq         uint64
}

func (j *streamTableJoiner[K, V, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	j.ctx, j.call.ctx = ctx, ctx
	var err error
	if j.get.openAsOf != nil {
		j.asOf, err = j.get.openAsOf(ctx)
	} else {
		j.latest, err = j.get.open(ctx)
	}
	if err != nil {
		return err
	}
	if j.bufferStore == "" {
		return nil
	}
	if j.buffer, err = processor.GetStore[state.KeyValueStore[[]byte, []byte]](ctx, j.bufferStore); err != nil {
		return err
	}
	// After a restart the buffer tells how far stream time had come (at
	// least) and which sequence numbers are taken.
	for kv, err := range j.buffer.All() {
		if err != nil {
			return fmt.Errorf("kstream: %s: reading the grace buffer: %w", j.name, err)
		}
		ts, seq, err := bufferKey(kv.Key)
		if err != nil {
			return fmt.Errorf("kstream: %s: the grace buffer: %w", j.name, err)
		}
		j.streamTime = later(j.streamTime, ts)
		j.seq = max(j.seq, seq+1)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (j *streamTableJoiner[K, V, VT, VR]) Process(rec processor.Record[K, V]) error {
	j.streamTime = later(j.streamTime, rec.Timestamp)
	nilKey := null(j.isNilK, rec.Key)
	if null(j.isNilV, rec.Value) || (nilKey && !j.left) {
		j.ctx.DroppedRecord()
		return nil
	}
	if j.buffer == nil || nilKey || rec.Timestamp.Before(j.streamTime.Add(-j.grace)) {
		return j.join(rec, nilKey)
	}
	if err := j.hold(rec); err != nil {
		return err
	}
	return j.release()
}

// join looks rec up and forwards the result, if there is one.
func (j *streamTableJoiner[K, V, VT, VR]) join(rec processor.Record[K, V], nilKey bool) error {
	var row state.ValueAndTimestamp[VT]
	found := false
	if !nilKey {
		var err error
		if j.asOf != nil {
			row, found, err = j.asOf(rec.Key, rec.Timestamp)
		} else {
			row, found, err = j.latest(rec.Key)
		}
		if err != nil {
			return err
		}
	}
	if !found && !j.left {
		return nil
	}
	out, err := try4(&j.call, j.joiner, rec.Key, rec.Value, row.Value, found)
	if err != nil {
		return err
	}
	return j.ctx.Forward(processor.Derive(rec, rec.Key, out))
}

// The grace buffer holds a record under its timestamp (Unix ms, 8 bytes
// big-endian with the sign bit flipped) and a sequence number (8 bytes),
// so that records come out in timestamp order and, within a millisecond,
// in the order they came. The entry holds the record's timestamp in Unix
// ns, the key's and the value's bytes (each after its length, a uvarint)
// and the headers.
func appendBufferKey(dst []byte, ts time.Time, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts.UnixMilli())^(1<<63))
	return binary.BigEndian.AppendUint64(dst, seq)
}

func bufferKey(b []byte) (time.Time, uint64, error) {
	if len(b) != 16 {
		return time.Time{}, 0, fmt.Errorf("%w: a buffer key of %d bytes, want 16", serde.ErrMalformed, len(b))
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b) ^ (1 << 63))).UTC(), binary.BigEndian.Uint64(b[8:]), nil
}

// hold puts rec in the buffer.
func (j *streamTableJoiner[K, V, VT, VR]) hold(rec processor.Record[K, V]) error {
	kb, err := j.ks.Serialize(rec.Key)
	if err != nil {
		return fmt.Errorf("kstream: %s: buffering a record: key serde %s: %w", j.name, j.ks.Name(), err)
	}
	vb, err := j.vs.Serialize(rec.Value)
	if err != nil {
		return fmt.Errorf("kstream: %s: buffering a record: value serde %s: %w", j.name, j.vs.Name(), err)
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(rec.Timestamp.UnixNano()))
	v = appendBytes(v, kb)
	v = appendBytes(v, vb)
	v = appendHeaders(v, rec.Headers)
	key := appendBufferKey(nil, rec.Timestamp, j.seq)
	j.seq++
	return j.buffer.Put(key, v)
}

// release joins, in timestamp order, the buffered records stream time has
// passed by the grace period, and takes them out of the buffer.
func (j *streamTableJoiner[K, V, VT, VR]) release() error {
	upTo := j.streamTime.Add(-j.grace)
	hi := appendBufferKey(nil, upTo, math.MaxUint64)
	var due []state.KeyValue[[]byte, []byte]
	for kv, err := range j.buffer.Range(nil, &hi) {
		if err != nil {
			return fmt.Errorf("kstream: %s: reading the grace buffer: %w", j.name, err)
		}
		due = append(due, state.KeyValue[[]byte, []byte]{Key: bytes.Clone(kv.Key), Value: bytes.Clone(kv.Value)})
	}
	for _, kv := range due {
		rec, err := j.decode(kv.Value)
		if err != nil {
			return err
		}
		if _, _, err := j.buffer.Delete(kv.Key); err != nil {
			return err
		}
		if err := j.join(rec, false); err != nil {
			return err
		}
	}
	return nil
}

func (j *streamTableJoiner[K, V, VT, VR]) decode(b []byte) (processor.Record[K, V], error) {
	var rec processor.Record[K, V]
	malformed := fmt.Errorf("kstream: %s: %w: a grace buffer entry of %d bytes", j.name, serde.ErrMalformed, len(b))
	if len(b) < 8 {
		return rec, malformed
	}
	rec.Timestamp = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	rest := b[8:]
	kb, rest, ok1 := readBytes(rest)
	vb, rest, ok2 := readBytes(rest)
	headers, rest, ok3 := readHeaders(rest)
	if !ok1 || !ok2 || !ok3 || len(rest) != 0 {
		return rec, malformed
	}
	var err error
	if rec.Key, err = j.ks.Deserialize(kb); err != nil {
		return rec, fmt.Errorf("kstream: %s: a buffered key: %w", j.name, err)
	}
	if rec.Value, err = j.vs.Deserialize(vb); err != nil {
		return rec, fmt.Errorf("kstream: %s: a buffered value: %w", j.name, err)
	}
	rec.Headers = headers
	return rec, nil
}

func (j *streamTableJoiner[K, V, VT, VR]) Close() error { return nil }
