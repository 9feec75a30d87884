package kstream

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

const suppressName = "KTABLE-SUPPRESS-"

// Suppressed says what KTable.Suppress holds back: make one with
// UntilWindowCloses or UntilTimeLimit.
type Suppressed struct {
	finalResults bool
	limit        time.Duration
	buffer       BufferConfig
	name         string
}

// UntilWindowCloses holds each window's updates back until the window
// closes, then emits its final result once: for a windowed table only.
// A window closes as its aggregation closes it (package window): a time
// window when stream time reaches its end plus the grace period, as Kafka
// Streams' Suppressed.untilWindowCloses; a sliding window or a session,
// whose ends are inclusive, once stream time is past its end plus the grace
// (and the gap), a millisecond after Kafka Streams emits them, which is
// when its aggregation stops changing them. The buffer must not emit early (a result
// emitted early is not final): Build reports one that does.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{finalResults: true, buffer: buffer}
}

// UntilTimeLimit holds each key's updates back for limit of stream time
// after the first one it holds, then emits the latest, as Kafka Streams'
// Suppressed.untilTimeLimit.
func UntilTimeLimit(limit time.Duration, buffer BufferConfig) Suppressed {
	return Suppressed{limit: limit, buffer: buffer}
}

// WithName names the suppression's processor, and its buffer store
// "<name>-store".
func (s Suppressed) WithName(name string) Suppressed { s.name = name; return s }

// BufferConfig bounds a suppression's buffer. The zero value is unbounded
// and shuts down when full (which it never is).
type BufferConfig struct {
	// MaxRecords and MaxBytes bound the buffer: the keys it holds, and
	// their serialized size. 0: no bound.
	MaxRecords int
	MaxBytes   int64
	// WhenFull is what happens when a bound is passed. Default
	// ShutDownWhenFull.
	WhenFull BufferFullStrategy
	// LoggingDisabled keeps the buffer out of a changelog topic: what it
	// holds is lost with the instance. By default it is change-logged and
	// restored, so a restart emits nothing twice and loses nothing.
	LoggingDisabled bool
}

// BufferFullStrategy is what a full suppression buffer does.
type BufferFullStrategy int

const (
	// ShutDownWhenFull fails the task with an error naming the
	// suppression and its bounds.
	ShutDownWhenFull BufferFullStrategy = iota
	// EmitEarlyWhenFull emits the oldest keys until the buffer is within
	// its bounds again.
	EmitEarlyWhenFull
)

// ErrBufferFull is wrapped by the error of a suppression whose buffer,
// configured with ShutDownWhenFull, passed its bounds.
var ErrBufferFull = errors.New("kstream: suppression buffer full")

// windowing is how a windowed table's keys close: for Suppress.
type windowing[K any] struct {
	// end is a key's window end.
	end func(K) time.Time
	// wait is how long after its end a window closes: its grace, and for
	// sessions the gap too.
	wait time.Duration
	// For sessions: sessionOf is the serialized record key of a session
	// (the buffer indexes sessions by it), and replaces reports whether a
	// session of that key contains an older one, which it merged. A
	// session's update comes after the retraction of each session it
	// replaced, and the retraction's zero value must not be emitted as a
	// final result.
	sessionOf func(K) (string, error)
	replaces  func(newer, older K) bool
}

// Suppress holds the table's updates back, as s says, and emits them
// later, each key's latest (with the value before it was held as the old
// value). Its buffer is a store, change-logged unless
// s's BufferConfig.LoggingDisabled, so that it survives a restart.
func (t KTable[K, V]) Suppress(s Suppressed) KTable[K, V] {
	sb := t.sb
	name := s.name
	if name == "" {
		name = sb.newName(suppressName)
	}
	store := s.name + "-store"
	if s.name == "" {
		store = sb.newStoreName(suppressName)
	}
	cfg := suppressConfig[K]{limit: s.limit, buffer: s.buffer}
	switch {
	case s.finalResults && t.windowing == nil:
		sb.problem("%s: UntilWindowCloses suppresses a windowed table's updates; this table is not windowed (use UntilTimeLimit)", name)
	case s.finalResults && s.buffer.WhenFull == EmitEarlyWhenFull:
		sb.problem("%s: UntilWindowCloses needs a buffer that does not emit early (ShutDownWhenFull): a result emitted early is not final", name)
	case !s.finalResults && s.limit < 0:
		sb.problem("%s: UntilTimeLimit's limit is %v; it cannot be negative", name, s.limit)
	}
	if s.finalResults && t.windowing != nil {
		cfg.final = t.windowing
	}
	sb.needSerdes(store, "table's Materialized (the suppression buffer writes keys and values)", t.keySerde == nil, t.valueSerde == nil)
	ks, vs := t.keySerde, t.valueSerde
	supplier := func() processor.Processor[K, Change[V], K, Change[V]] {
		return &suppressor[K, V]{name: name, storeName: store, cfg: cfg, ks: ks, vs: vs}
	}
	var n topology.Node[K, Change[V]]
	if t.plain != nil {
		n = topology.AddProcessor(sb.b, name, func() processor.Processor[K, V, K, Change[V]] {
			return plainInput[K, V, K, Change[V]]{supplier()}
		}, *t.plain)
	} else {
		n = topology.AddProcessor(sb.b, name, supplier, t.node)
	}
	if ks != nil && vs != nil {
		b := state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(store), serde.Bytes(), serde.Bytes())
		if s.buffer.LoggingDisabled {
			b.WithLoggingDisabled()
		}
		sb.b.AddStateStore(b, name)
	}
	return KTable[K, V]{sb: sb, node: n, keySerde: ks, valueSerde: vs}
}

// plainInput adapts a processor of Changes to a plain table's new values.
type plainInput[K, V, KOut, VOut any] struct {
	p processor.Processor[K, Change[V], KOut, VOut]
}

func (p plainInput[K, V, KOut, VOut]) Init(ctx processor.Context[KOut, VOut]) error {
	return p.p.Init(ctx)
}
func (p plainInput[K, V, KOut, VOut]) Process(rec processor.Record[K, V]) error {
	return p.p.Process(processor.Derive(rec, rec.Key, Change[V]{New: rec.Value, HasNew: true}))
}
func (p plainInput[K, V, KOut, VOut]) Close() error { return p.p.Close() }

type suppressConfig[K any] struct {
	limit  time.Duration
	buffer BufferConfig
	final  *windowing[K] // set for UntilWindowCloses
}

// suppressor is Kafka Streams' KTableSuppressProcessor: it buffers each
// key's latest change under the time it entered the buffer (a window's end
// for final results, the first record's time otherwise; an update keeps
// its key's place) and emits, after each record, every key whose time is at
// or before stream time minus the wait.
type suppressor[K, V any] struct {
	name, storeName string
	cfg             suppressConfig[K]
	ks              serde.Serde[K]
	vs              serde.Serde[V]
	ctx             processor.Context[K, Change[V]]
	store           state.KeyValueStore[[]byte, []byte]
	// byKey and queue index the buffer: byKey by serialized key, queue by
	// buffer time, then arrival.
	byKey map[string]*buffered[K, V]
	queue bufferQueue[K, V]
	// sessions indexes the buffered sessions by their record key, for
	// final results over sessions (windowing.sessionOf).
	sessions map[string][]*buffered[K, V]
	seq      uint64
	bytes    int64
	observed time.Time
}

type buffered[K, V any] struct {
	key      K
	keyBytes string
	session  string    // windowing.sessionOf(key), for sessions
	time     time.Time // buffer time
	seq      uint64
	index    int // in the queue
	prior    V   // the value before the key was buffered
	hasPrior bool
	value    V
	hasValue bool
	ts       time.Time // the latest record's
	headers  []processor.Header
	size     int64
}

func (s *suppressor[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	s.ctx = ctx
	var err error
	if s.store, err = processor.GetStore[state.KeyValueStore[[]byte, []byte]](ctx, s.storeName); err != nil {
		return err
	}
	s.byKey = map[string]*buffered[K, V]{}
	s.sessions = map[string][]*buffered[K, V]{}
	// The buffer as the store has it, after a restart from its changelog.
	for kv, err := range s.store.All() {
		if err != nil {
			return err
		}
		b, err := s.decode(kv.Key, kv.Value)
		if err == nil {
			err = s.setSession(b)
		}
		if err != nil {
			return fmt.Errorf("kstream: %s: buffer store %q: %w", s.name, s.storeName, err)
		}
		s.index(b)
		if b.ts.After(s.observed) {
			s.observed = b.ts
		}
	}
	return nil
}

// setSession sets b's session index key, for final results over
// sessions.
func (s *suppressor[K, V]) setSession(b *buffered[K, V]) error {
	if s.cfg.final == nil || s.cfg.final.sessionOf == nil {
		return nil
	}
	var err error
	b.session, err = s.cfg.final.sessionOf(b.key)
	return err
}

// index adds a new entry to the buffer, last among those of its time.
func (s *suppressor[K, V]) index(b *buffered[K, V]) {
	s.seq++
	b.seq = s.seq
	s.byKey[b.keyBytes] = b
	heap.Push(&s.queue, b)
	s.bytes += b.size
	if b.session != "" {
		s.sessions[b.session] = append(s.sessions[b.session], b)
	}
}

func (s *suppressor[K, V]) Process(rec processor.Record[K, Change[V]]) error {
	if rec.Timestamp.After(s.observed) {
		s.observed = rec.Timestamp
	}
	kb, err := s.ks.Serialize(rec.Key)
	if err != nil {
		return fmt.Errorf("kstream: %s: key serde %s: %w", s.name, s.ks.Name(), err)
	}
	b := s.byKey[string(kb)]
	if b == nil {
		b = &buffered[K, V]{key: rec.Key, keyBytes: string(kb), prior: rec.Value.Old, hasPrior: rec.Value.HasOld, time: rec.Timestamp}
		if s.cfg.final != nil {
			b.time = s.cfg.final.end(rec.Key)
		}
		if err := s.setSession(b); err != nil {
			return fmt.Errorf("kstream: %s: key serde: %w", s.name, err)
		}
		if err := s.dropReplaced(b); err != nil {
			return err
		}
	}
	// An update keeps its key's place: same buffer time, same arrival.
	b.value, b.hasValue, b.ts, b.headers = rec.Value.New, rec.Value.HasNew, rec.Timestamp, rec.Headers
	if err := s.write(b); err != nil {
		return err
	}
	return s.enforce()
}

// dropReplaced removes from the buffer the sessions of b's key that b, a
// new session, replaces (it merged them): their retractions are not final
// results. It looks only at the sessions of that key.
func (s *suppressor[K, V]) dropReplaced(b *buffered[K, V]) error {
	if b.session == "" {
		return nil
	}
	var replaced []*buffered[K, V]
	for _, o := range s.sessions[b.session] {
		if s.cfg.final.replaces(b.key, o.key) {
			replaced = append(replaced, o)
		}
	}
	for _, o := range replaced {
		if err := s.removeAndDelete(o); err != nil {
			return err
		}
	}
	return nil
}

func (s *suppressor[K, V]) removeAndDelete(b *buffered[K, V]) error {
	s.remove(b)
	_, _, err := s.store.Delete([]byte(b.keyBytes))
	return err
}

func (s *suppressor[K, V]) remove(b *buffered[K, V]) {
	heap.Remove(&s.queue, b.index)
	delete(s.byKey, b.keyBytes)
	s.bytes -= b.size
	if b.session != "" {
		of := s.sessions[b.session]
		if i := slices.Index(of, b); i >= 0 {
			of = slices.Delete(of, i, i+1)
		}
		if len(of) == 0 {
			delete(s.sessions, b.session)
		} else {
			s.sessions[b.session] = of
		}
	}
}

// write stores b in the buffer store and, if it is new, indexes it; an
// entry already buffered only changes its size.
func (s *suppressor[K, V]) write(b *buffered[K, V]) error {
	v, err := s.encode(b)
	if err != nil {
		return err
	}
	if err := s.store.Put([]byte(b.keyBytes), v); err != nil {
		return err
	}
	size := int64(len(b.keyBytes) + len(v))
	if b.seq == 0 {
		b.size = size
		s.index(b)
		return nil
	}
	s.bytes += size - b.size
	b.size = size
	return nil
}

// enforce emits what has waited long enough, then what a full buffer
// must give up (or fails, for ShutDownWhenFull).
func (s *suppressor[K, V]) enforce() error {
	wait := s.cfg.limit
	if s.cfg.final != nil {
		wait = s.cfg.final.wait
	}
	expiry := s.observed.Add(-wait)
	for len(s.queue) > 0 && !s.queue[0].time.After(expiry) {
		if err := s.emit(s.queue[0]); err != nil {
			return err
		}
	}
	for s.full() {
		if s.cfg.buffer.WhenFull != EmitEarlyWhenFull {
			return fmt.Errorf("%w: %s holds %d keys (at most %d) in %d bytes (at most %d); raise BufferConfig's bounds or emit early",
				ErrBufferFull, s.name, len(s.byKey), s.cfg.buffer.MaxRecords, s.bytes, s.cfg.buffer.MaxBytes)
		}
		if err := s.emit(s.queue[0]); err != nil {
			return err
		}
	}
	return nil
}

func (s *suppressor[K, V]) full() bool {
	b := s.cfg.buffer
	return (b.MaxRecords > 0 && len(s.byKey) > b.MaxRecords) || (b.MaxBytes > 0 && s.bytes > b.MaxBytes)
}

// emit forwards b, with the time and headers of its latest record, and
// takes it out of the buffer. A final result that is a deletion is not
// forwarded, as Kafka Streams drops its tombstones.
func (s *suppressor[K, V]) emit(b *buffered[K, V]) error {
	if err := s.removeAndDelete(b); err != nil {
		return err
	}
	if s.cfg.final != nil && !b.hasValue {
		return nil
	}
	return s.ctx.Forward(processor.Record[K, Change[V]]{
		Key: b.key, Value: Change[V]{Old: b.prior, HasOld: b.hasPrior, New: b.value, HasNew: b.hasValue},
		Timestamp: b.ts, Headers: b.headers,
	})
}

func (s *suppressor[K, V]) Close() error { return nil }

// encode writes a buffered entry for the store: buffer time and record
// time (Unix ns, 8 bytes each), flags (1: prior, 2: value), the prior's
// length (uvarint) and bytes, the value's length and bytes, then the
// headers: their count, and each key's and value's length and bytes.
func (s *suppressor[K, V]) encode(b *buffered[K, V]) ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, uint64(b.time.UnixNano()))
	out = binary.BigEndian.AppendUint64(out, uint64(b.ts.UnixNano()))
	var flags byte
	if b.hasPrior {
		flags |= 1
	}
	if b.hasValue {
		flags |= 2
	}
	out = append(out, flags)
	for _, part := range []struct {
		has bool
		v   V
	}{{b.hasPrior, b.prior}, {b.hasValue, b.value}} {
		if !part.has {
			continue
		}
		vb, err := s.vs.Serialize(part.v)
		if err != nil {
			return nil, fmt.Errorf("kstream: %s: value serde %s: %w", s.name, s.vs.Name(), err)
		}
		out = appendBytes(out, vb)
	}
	return appendHeaders(out, b.headers), nil
}

func (s *suppressor[K, V]) decode(kb, v []byte) (*buffered[K, V], error) {
	malformed := fmt.Errorf("%w: a buffered entry of %d bytes", serde.ErrMalformed, len(v))
	if len(v) < 17 {
		return nil, malformed
	}
	key, err := s.ks.Deserialize(kb)
	if err != nil {
		return nil, err
	}
	b := &buffered[K, V]{key: key, keyBytes: string(kb), size: int64(len(kb) + len(v)),
		time: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(),
		ts:   time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC()}
	flags, rest := v[16], v[17:]
	for i, dst := range []*V{&b.prior, &b.value} {
		if flags&(1<<i) == 0 {
			continue
		}
		var vb []byte
		var ok bool
		if vb, rest, ok = readBytes(rest); !ok {
			return nil, malformed
		}
		if *dst, err = s.vs.Deserialize(vb); err != nil {
			return nil, err
		}
	}
	b.hasPrior, b.hasValue = flags&1 != 0, flags&2 != 0
	var ok bool
	if b.headers, rest, ok = readHeaders(rest); !ok || len(rest) != 0 {
		return nil, malformed
	}
	return b, nil
}

// bufferQueue orders buffered entries by buffer time, then arrival.
type bufferQueue[K, V any] []*buffered[K, V]

func (q bufferQueue[K, V]) Len() int { return len(q) }
func (q bufferQueue[K, V]) Less(i, j int) bool {
	if !q[i].time.Equal(q[j].time) {
		return q[i].time.Before(q[j].time)
	}
	return q[i].seq < q[j].seq
}
func (q bufferQueue[K, V]) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *bufferQueue[K, V]) Push(x any) {
	b := x.(*buffered[K, V])
	b.index = len(*q)
	*q = append(*q, b)
}
func (q *bufferQueue[K, V]) Pop() any {
	old := *q
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return b
}
