package state

import (
	"bytes"
	"fmt"
	"github.com/gostreams/streams/internal/metrics"
	"iter"
	"sync"
	"time"

	"github.com/gostreams/streams/serde"
)

// keyValueStore is the typed KeyValueStore over a KeyValueBytesStore: it
// serializes keys and values with its serdes and leaves ordering, snapshots
// and concurrency to the bytes store. The builders return it as a Store;
// with a timestampedSerde as value serde it is also a
// TimestampedKeyValueStore.
//
// Every error it returns names the store and the operation, and wraps the
// cause, so errors.Is(err, ErrStoreClosed) and errors.As(err, &*serde.Error)
// keep working.
type keyValueStore[K, V any] struct {
	inner      KeyValueBytesStore
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// shared is inner when it lends out its stored slices, else nil.
	shared sharedReader
	// keyApp and valueApp are the serdes' Appenders, or nil. The write
	// methods, which only the owning task calls, encode through them into
	// scratch instead of allocating: the bytes store copies what it keeps.
	keyApp   serde.Appender[K]
	valueApp serde.Appender[V]
	scratch  []byte

	recorder[K, V]
	txnLayer

	// sensors, when metrics are on, time the store's operations.
	sensors *metrics.StoreSensors
}

// SetSensors turns the store's metrics on (stateproto.Metered).
func (s *keyValueStore[K, V]) SetSensors(m *metrics.StoreSensors) {
	s.sensors = m
	if c, ok := s.inner.(*cachedStore); ok && m != nil && c.caching {
		c.hits = m.HitRatio
	}
}

// Caching reports whether the store has a record cache.
func (s *keyValueStore[K, V]) Caching() bool {
	c, ok := s.inner.(*cachedStore)
	return ok && c.caching
}

var (
	_ KeyValueStore[string, int64]            = (*keyValueStore[string, int64])(nil)
	_ TimestampedKeyValueStore[string, int64] = (*keyValueStore[string, ValueAndTimestamp[int64]])(nil)
)

func newKeyValueStore[K, V any](inner KeyValueBytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *keyValueStore[K, V] {
	// Reads pass through the logging layer, not through a cache, which
	// lends out its own values.
	var shared sharedReader
	if c, ok := inner.(*cachedStore); ok {
		shared = c
	} else {
		shared, _ = backend(inner).(sharedReader)
	}
	s := &keyValueStore[K, V]{inner: inner, keySerde: keySerde, valueSerde: valueSerde, shared: shared}
	s.keyApp, _ = keySerde.(serde.Appender[K])
	s.valueApp, _ = valueSerde.(serde.Appender[V])
	s.txnLayer = newTxnLayer(inner, s.discard, s.wrap)
	return s
}

// maxScratch bounds the scratch buffer kept between writes, and a buffer
// kept in readKeys.
const maxScratch = 64 << 10

// readKeys holds buffers (*[]byte, never nil) that Get encodes keys into.
var readKeys = sync.Pool{New: func() any { b := make([]byte, 0, 64); return &b }}

// writeKey encodes key for a write. The result is only valid until the next
// write.
func (s *keyValueStore[K, V]) writeKey(op string, key K) ([]byte, error) {
	if s.keyApp == nil {
		return s.serializeKey(op, key)
	}
	b, err := s.keyApp.AppendSerialize(s.scratch[:0], key)
	if err != nil {
		return nil, s.wrap(op+": serialize key", err)
	}
	s.keep(b)
	return b, nil
}

// writeEntry encodes key and value for a write. The results are only valid
// until the next write.
func (s *keyValueStore[K, V]) writeEntry(op string, key K, value V) (k, v []byte, err error) {
	if s.keyApp == nil || s.valueApp == nil {
		if k, err = s.serializeKey(op, key); err != nil {
			return nil, nil, err
		}
		if v, err = s.valueSerde.Serialize(value); err != nil {
			return nil, nil, s.wrap(op+": serialize value", err)
		}
		return k, v, nil
	}
	b, err := s.keyApp.AppendSerialize(s.scratch[:0], key)
	if err != nil {
		return nil, nil, s.wrap(op+": serialize key", err)
	}
	kl := len(b)
	if b, err = s.valueApp.AppendSerialize(b, value); err != nil {
		return nil, nil, s.wrap(op+": serialize value", err)
	}
	s.keep(b)
	return b[:kl:kl], b[kl:], nil
}

func (s *keyValueStore[K, V]) keep(b []byte) {
	if cap(b) <= maxScratch {
		s.scratch = b[:0]
	}
}

// record notes a change before it is written: it reads the old value.
func (s *keyValueStore[K, V]) record(key K, value V, deleted bool) error {
	old, had, err := s.Get(key)
	if err != nil {
		return err
	}
	s.add(Change[K, V]{Key: key, Old: old, HadOld: had, New: value, Deleted: deleted})
	return nil
}

// dropCache empties the store's cache, if it has one, before the backend
// changes underneath it.
func (s *keyValueStore[K, V]) dropCache() {
	if c, ok := s.inner.(*cachedStore); ok {
		c.drop()
	}
}

// CommittedView implements stateproto.CommittedViewer: a store over the layers below
// the cache, sharing the backend and the serdes.
func (s *keyValueStore[K, V]) CommittedView() Store {
	below := belowCache(s.inner)
	if below == s.inner {
		return s
	}
	return newKeyValueStore(below, s.keySerde, s.valueSerde)
}

// Restore implements stateproto.Restorer: it writes to the backend, below any caching
// and change-logging layers.
func (s *keyValueStore[K, V]) Restore(batch []KeyValue[[]byte, []byte]) error {
	if m := s.sensors; m != nil {
		defer m.Restore.Done(time.Now())
		m.RestoredRecords.Add(int64(len(batch)))
	}
	if err := restoreInto(s.inner, batch); err != nil {
		return s.wrap("restore", err)
	}
	return nil
}

// restoreInto writes a batch of changelog records to the backend under
// inner's caching and change-logging layers, dropping the cache first.
func restoreInto(inner KeyValueBytesStore, batch []KeyValue[[]byte, []byte]) error {
	if c, ok := inner.(*cachedStore); ok {
		c.drop()
	}
	b := backend(inner)
	if r, ok := b.(interface {
		restoreWrite([]KeyValue[[]byte, []byte]) error
	}); ok {
		return r.restoreWrite(batch)
	}
	return b.Write(batch)
}

// Wipe implements stateproto.Restorer.
func (s *keyValueStore[K, V]) Wipe() error {
	if err := wipeBackend(s.inner); err != nil {
		return s.wrap("wipe", err)
	}
	return nil
}

// wipeBackend deletes everything in the backend under inner's layers, and
// what it recorded of its changelog offset.
func wipeBackend(inner KeyValueBytesStore) error {
	if c, ok := inner.(*cachedStore); ok {
		c.drop()
	}
	if err := wipeAll(backend(inner)); err != nil {
		return err
	}
	return forgetChangelogOffset(backend(inner))
}

// wrap names the store and the failed operation in err.
func (s *keyValueStore[K, V]) wrap(op string, err error) error {
	return fmt.Errorf("state: store %q: %s: %w", s.inner.Name(), op, err)
}

func (s *keyValueStore[K, V]) Name() string     { return s.inner.Name() }
func (s *keyValueStore[K, V]) Persistent() bool { return s.inner.Persistent() }

func (s *keyValueStore[K, V]) Init(ctx StoreContext) error {
	s.now = ctx.RecordTime
	if err := s.inner.Init(ctx); err != nil {
		return s.wrap("init", err)
	}
	return nil
}

func (s *keyValueStore[K, V]) Flush() error {
	if m := s.sensors; m != nil {
		defer m.Flush.Done(time.Now())
	}
	if err := s.inner.Flush(); err != nil {
		return s.wrap("flush", err)
	}
	return nil
}

func (s *keyValueStore[K, V]) Close() error {
	if err := s.inner.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

func (s *keyValueStore[K, V]) serializeKey(op string, key K) ([]byte, error) {
	b, err := s.keySerde.Serialize(key)
	if err != nil {
		return nil, s.wrap(op+": serialize key", err)
	}
	return b, nil
}

func (s *keyValueStore[K, V]) decodeValue(op string, b []byte) (V, error) {
	v, err := s.valueSerde.Deserialize(b)
	if err != nil {
		var zero V
		return zero, s.wrap(op+": deserialize value", err)
	}
	return v, nil
}

// getBytes reads the stored value of k, which only a Deserialize may read.
func (s *keyValueStore[K, V]) getBytes(k []byte) ([]byte, bool, error) {
	if s.shared != nil {
		return s.shared.getShared(k)
	}
	return s.inner.Get(k)
}

func (s *keyValueStore[K, V]) Get(key K) (V, bool, error) {
	if m := s.sensors; m != nil {
		defer m.Get.Done(time.Now())
	}
	if s.keyApp == nil {
		k, err := s.serializeKey("get", key)
		if err != nil {
			var zero V
			return zero, false, err
		}
		return s.getEncoded(k)
	}
	// Get may run on any goroutine, so it cannot use scratch: it borrows
	// a buffer from readKeys (the bytes store copies what it keeps of a
	// key) and gives it back once the read is done.
	bp := readKeys.Get().(*[]byte)
	k, err := s.keyApp.AppendSerialize((*bp)[:0], key)
	if err != nil {
		readKeys.Put(bp)
		var zero V
		return zero, false, s.wrap("get: serialize key", err)
	}
	v, ok, err := s.getEncoded(k)
	if cap(k) <= maxScratch {
		*bp = k[:0]
	}
	readKeys.Put(bp)
	return v, ok, err
}

// getEncoded is Get of an encoded key.
func (s *keyValueStore[K, V]) getEncoded(k []byte) (V, bool, error) {
	var zero V
	b, ok, err := s.getBytes(k)
	if err != nil {
		return zero, false, s.wrap("get", err)
	}
	if !ok {
		return zero, false, nil
	}
	v, err := s.decodeValue("get", b)
	if err != nil {
		return zero, false, err
	}
	return v, true, nil
}

func (s *keyValueStore[K, V]) Put(key K, value V) error {
	if m := s.sensors; m != nil {
		defer m.Put.Done(time.Now())
	}
	if s.observing() {
		if err := s.record(key, value, false); err != nil {
			return err
		}
	}
	k, v, err := s.writeEntry("put", key, value)
	if err != nil {
		return err
	}
	if err := s.inner.Put(k, v); err != nil {
		return s.wrap("put", err)
	}
	return nil
}

// PutIfAbsent reads, then writes. That is atomic only because the owning task
// is the store's single writer; readers on other goroutines see either no
// value or the new one.
func (s *keyValueStore[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	var zero V
	k, err := s.serializeKey("put if absent", key)
	if err != nil {
		return zero, false, err
	}
	old, ok, err := s.getBytes(k)
	if err != nil {
		return zero, false, s.wrap("put if absent", err)
	}
	if ok {
		v, err := s.decodeValue("put if absent", old)
		if err != nil {
			return zero, false, err
		}
		return v, true, nil
	}
	v, err := s.valueSerde.Serialize(value)
	if err != nil {
		return zero, false, s.wrap("put if absent: serialize value", err)
	}
	if err := s.inner.Put(k, v); err != nil {
		return zero, false, s.wrap("put if absent", err)
	}
	if s.observing() {
		s.add(Change[K, V]{Key: key, New: value})
	}
	return zero, false, nil
}

// PutAll serializes every entry first, so a serde error writes nothing.
func (s *keyValueStore[K, V]) PutAll(entries []KeyValue[K, V]) error {
	if m := s.sensors; m != nil {
		defer m.Put.Done(time.Now())
	}
	bs := make([]KeyValue[[]byte, []byte], len(entries))
	for i, e := range entries {
		k, err := s.serializeKey("put all", e.Key)
		if err != nil {
			return err
		}
		v, err := s.valueSerde.Serialize(e.Value)
		if err != nil {
			return s.wrap(fmt.Sprintf("put all: serialize value of entry %d", i), err)
		}
		bs[i] = KeyValue[[]byte, []byte]{Key: k, Value: v}
	}
	var changes []Change[K, V]
	if s.observing() {
		// A key listed twice: its second change's old value is the first's
		// new one, not what the store had.
		last := map[string]int{}
		for i, e := range entries {
			c := Change[K, V]{Key: e.Key, New: e.Value, Timestamp: s.stamp()}
			if j, seen := last[string(bs[i].Key)]; seen {
				c.Old, c.HadOld = changes[j].New, true
			} else {
				old, had, err := s.Get(e.Key)
				if err != nil {
					return err
				}
				c.Old, c.HadOld = old, had
			}
			last[string(bs[i].Key)] = len(changes)
			changes = append(changes, c)
		}
	}
	if err := s.inner.PutAll(bs); err != nil {
		return s.wrap("put all", err)
	}
	s.pending = append(s.pending, changes...)
	return nil
}

// Delete removes the key even when its old value cannot be decoded, so that
// a corrupt entry can always be removed; the error then says so.
func (s *keyValueStore[K, V]) Delete(key K) (V, bool, error) {
	if m := s.sensors; m != nil {
		defer m.Delete.Done(time.Now())
	}
	var zero V
	k, err := s.writeKey("delete", key)
	if err != nil {
		return zero, false, err
	}
	old, ok, err := s.inner.Delete(k)
	if err != nil {
		return zero, false, s.wrap("delete", err)
	}
	if !ok {
		return zero, false, nil
	}
	v, err := s.valueSerde.Deserialize(old)
	if err != nil {
		return zero, false, s.wrap("delete: the key was removed, but its old value failed to deserialize", err)
	}
	if s.observing() {
		s.add(Change[K, V]{Key: key, Old: v, HadOld: true, Deleted: true})
	}
	return v, true, nil
}

func (s *keyValueStore[K, V]) ApproximateNumEntries() (int64, error) {
	n, err := s.inner.ApproximateNumEntries()
	if err != nil {
		return 0, s.wrap("approximate num entries", err)
	}
	return n, nil
}

func (s *keyValueStore[K, V]) Range(from, to *K) iter.Seq2[KeyValue[K, V], error] {
	return s.rangeSeq("range", from, to, false)
}

func (s *keyValueStore[K, V]) ReverseRange(from, to *K) iter.Seq2[KeyValue[K, V], error] {
	return s.rangeSeq("reverse range", from, to, true)
}

func (s *keyValueStore[K, V]) All() iter.Seq2[KeyValue[K, V], error] {
	return s.scan("all", KeyRange{}, false, nil)
}

func (s *keyValueStore[K, V]) ReverseAll() iter.Seq2[KeyValue[K, V], error] {
	return s.scan("reverse all", KeyRange{}, true, nil)
}

// rangeSeq serializes the bounds when the loop starts, so that a serde error
// is yielded like any other.
func (s *keyValueStore[K, V]) rangeSeq(op string, from, to *K, reverse bool) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		var r KeyRange
		if from != nil {
			b, err := s.keySerde.Serialize(*from)
			if err != nil {
				yield(KeyValue[K, V]{}, s.wrap(op+": serialize lower bound", err))
				return
			}
			r.Lower, r.HasLower = b, true
		}
		if to != nil {
			b, err := s.keySerde.Serialize(*to)
			if err != nil {
				yield(KeyValue[K, V]{}, s.wrap(op+": serialize upper bound", err))
				return
			}
			r.Upper, r.HasUpper = b, true
		}
		s.scan(op, r, reverse, nil)(yield)
	}
}

// PrefixScan scans [prefix, successor(prefix)]. The bytes store only knows
// inclusive bounds, and the one key equal to the successor does not start
// with the prefix, so the scan stops at the first key without the prefix.
func (s *keyValueStore[K, V]) PrefixScan(prefix K) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		p, err := s.keySerde.Serialize(prefix)
		if err != nil {
			yield(KeyValue[K, V]{}, s.wrap("prefix scan: serialize prefix", err))
			return
		}
		r := KeyRange{Lower: p, HasLower: true}
		r.Upper, r.HasUpper = prefixSuccessor(p)
		s.scan("prefix scan", r, false, p)(yield)
	}
}

// prefixSuccessor returns the smallest key greater than every key that
// starts with p: p with its trailing 0xff bytes dropped and its last byte
// incremented. There is none when p is empty or all 0xff.
func prefixSuccessor(p []byte) ([]byte, bool) {
	i := len(p)
	for i > 0 && p[i-1] == 0xff {
		i--
	}
	if i == 0 {
		return nil, false
	}
	succ := append([]byte(nil), p[:i]...)
	succ[i-1]++
	return succ, true
}

// scan decodes what the bytes store yields. Any error is yielded once, with
// a zero KeyValue, and ends the iteration. With a non-nil prefix it stops at
// the first key that does not start with it.
func (s *keyValueStore[K, V]) scan(op string, r KeyRange, reverse bool, prefix []byte) iter.Seq2[KeyValue[K, V], error] {
	scan := s.inner.Scan
	if s.shared != nil {
		scan = s.shared.scanShared // only Deserialize reads what it yields
	}
	return func(yield func(KeyValue[K, V], error) bool) {
		if m := s.sensors; m != nil {
			defer m.Range.Done(time.Now())
		}
		for kv, err := range scan(r, reverse) {
			if err != nil {
				yield(KeyValue[K, V]{}, s.wrap(op, err))
				return
			}
			if prefix != nil && !bytes.HasPrefix(kv.Key, prefix) {
				return
			}
			k, err := s.keySerde.Deserialize(kv.Key)
			if err != nil {
				yield(KeyValue[K, V]{}, s.wrap(op+": deserialize key", err))
				return
			}
			v, err := s.valueSerde.Deserialize(kv.Value)
			if err != nil {
				yield(KeyValue[K, V]{}, s.wrap(fmt.Sprintf("%s: deserialize value of key %x", op, kv.Key), err))
				return
			}
			if !yield(KeyValue[K, V]{Key: k, Value: v}, nil) {
				return
			}
		}
	}
}

// metering holds a window or session store's sensors, when metrics are on
// (stateproto.Metered). Those stores have no record cache of their own.
type metering struct{ sensors *metrics.StoreSensors }

// SetSensors turns the store's metrics on.
func (m *metering) SetSensors(s *metrics.StoreSensors) { m.sensors = s }

// Caching reports that the store has no record cache.
func (m *metering) Caching() bool { return false }
