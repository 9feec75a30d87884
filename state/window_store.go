package state

import (
	"bytes"
	"fmt"
	"iter"
	"time"

	"github.com/gostreams/streams/serde"
)

// windowStore is the typed WindowStore over a SegmentedBytesStore keyed by
// window keys. With a timestampedSerde as value serde it is also a
// TimestampedWindowStore.
//
// Every error it returns names the store and the operation and wraps the
// cause, so errors.Is(err, ErrStoreClosed) and errors.As(err, &*serde.Error)
// keep working.
type windowStore[K, V any] struct {
	inner      SegmentedBytesStore
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	windowSize time.Duration
	dups       bool
	// seq is the last sequence number given to a duplicate. Only the
	// owning task touches it (Put, Restore, Init). It wraps after 2³²
	// Puts, after which the duplicates of one window may come back out of
	// insertion order.
	seq uint32
	// recorder records the changes for a subscription, keyed by window.
	recorder[Windowed[K], V]
	txnLayer
	metering
}

var (
	_ WindowStore[string, int64]            = (*windowStore[string, int64])(nil)
	_ TimestampedWindowStore[string, int64] = (*windowStore[string, ValueAndTimestamp[int64]])(nil)
	_ restorer                              = (*windowStore[string, int64])(nil)
	_ DroppedRecordsCounter                 = (*windowStore[string, int64])(nil)
)

func newWindowStore[K, V any](inner SegmentedBytesStore, ks serde.Serde[K], vs serde.Serde[V], windowSize time.Duration, dups bool) *windowStore[K, V] {
	s := &windowStore[K, V]{inner: inner, keySerde: ks, valueSerde: vs, windowSize: windowSize, dups: dups}
	s.txnLayer = newTxnLayer(inner, s.discard, s.wrap)
	return s
}

// CommittedView implements stateproto.CommittedViewer.
func (s *windowStore[K, V]) CommittedView() Store {
	below := belowSegmentCache(s.inner)
	if below == s.inner {
		return s
	}
	return newWindowStore(below, s.keySerde, s.valueSerde, s.windowSize, s.dups)
}

func (s *windowStore[K, V]) wrap(op string, err error) error {
	return fmt.Errorf("state: window store %q: %s: %w", s.inner.Name(), op, err)
}

func (s *windowStore[K, V]) Name() string          { return s.inner.Name() }
func (s *windowStore[K, V]) Persistent() bool      { return s.inner.Persistent() }
func (s *windowStore[K, V]) DroppedRecords() int64 { return s.inner.DroppedRecords() }

// Init opens the backend. A persistent store that retains duplicates reads
// every key it holds to continue the sequence numbers after the largest:
// a duplicate put after a restart must neither overwrite an older one nor
// sort before it.
func (s *windowStore[K, V]) Init(ctx StoreContext) error {
	s.now = ctx.RecordTime
	if err := s.inner.Init(ctx); err != nil {
		return s.wrap("init", err)
	}
	if s.dups && s.inner.Persistent() {
		for kv, err := range s.inner.Scan(KeyRange{}, minMs, maxMs, false) {
			if err != nil {
				return s.wrap("init: find the last sequence number", err)
			}
			s.noteSeq(kv.Key)
		}
	}
	return nil
}

// noteSeq makes the next sequence number follow that of key.
func (s *windowStore[K, V]) noteSeq(key []byte) {
	if _, _, seq, err := decodeWindowKey(key); err == nil && seq > s.seq {
		s.seq = seq
	}
}

func (s *windowStore[K, V]) Flush() error {
	if m := s.sensors; m != nil {
		defer m.Flush.Done(time.Now())
	}
	if err := s.inner.Flush(); err != nil {
		return s.wrap("flush", err)
	}
	return nil
}

func (s *windowStore[K, V]) Close() error {
	if err := s.inner.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// Restore implements stateproto.Restorer: it writes the changelog records to the
// backend, below any change-logging layer; records of expired windows are
// skipped.
func (s *windowStore[K, V]) Restore(batch []KeyValue[[]byte, []byte]) error {
	if m := s.sensors; m != nil {
		defer m.Restore.Done(time.Now())
	}
	if m := s.sensors; m != nil {
		m.RestoredRecords.Add(int64(len(batch)))
	}
	if err := restoreTarget(s.inner).Write(batch); err != nil {
		return s.wrap("restore", err)
	}
	if s.dups {
		for _, e := range batch {
			s.noteSeq(e.Key)
		}
	}
	return nil
}

// Wipe implements stateproto.Restorer.
func (s *windowStore[K, V]) Wipe() error {
	if err := restoreTarget(s.inner).Wipe(); err != nil {
		return s.wrap("wipe", err)
	}
	s.seq = 0
	return nil
}

func (s *windowStore[K, V]) serializeKey(op string, key K) ([]byte, error) {
	b, err := s.keySerde.Serialize(key)
	if err != nil {
		return nil, s.wrap(op+": serialize key", err)
	}
	return b, nil
}

func (s *windowStore[K, V]) Put(key K, value V, windowStart time.Time) error {
	if m := s.sensors; m != nil {
		defer m.Put.Done(time.Now())
	}
	k, err := s.serializeKey("put", key)
	if err != nil {
		return err
	}
	v, err := s.valueSerde.Serialize(value)
	if err != nil {
		return s.wrap("put: serialize value", err)
	}
	var seq uint32
	if s.dups {
		s.seq++
		seq = s.seq
	}
	var c Change[Windowed[K], V]
	if s.observing() {
		c = Change[Windowed[K], V]{Key: s.windowed(key, windowStart), New: value}
		if !s.dups { // a duplicate replaces nothing
			if c.Old, c.HadOld, err = s.FetchOne(key, windowStart); err != nil {
				return err
			}
		}
	}
	stored, err := s.inner.Put(encodeWindowKey(nil, k, toMs(windowStart), seq), v)
	if err != nil {
		return s.wrap("put", err)
	}
	if stored && s.observing() {
		s.add(c)
	}
	return nil
}

// windowed is the window of key that starts at start.
func (s *windowStore[K, V]) windowed(key K, start time.Time) Windowed[K] {
	start = fromMs(toMs(start))
	return Windowed[K]{Key: key, Start: start, End: start.Add(s.windowSize)}
}

// windowRange is the range of the window keys of k with starts in
// [from, to].
func windowRange(k []byte, from, to int64) KeyRange {
	return KeyRange{
		Lower: encodeWindowKey(nil, k, from, 0), HasLower: true,
		Upper: encodeWindowKey(nil, k, to, maxSeq), HasUpper: true,
	}
}

func (s *windowStore[K, V]) Delete(key K, windowStart time.Time) error {
	if m := s.sensors; m != nil {
		defer m.Delete.Done(time.Now())
	}
	k, err := s.serializeKey("delete", key)
	if err != nil {
		return err
	}
	ms := toMs(windowStart)
	if !s.dups {
		old, had, err := s.inner.Delete(encodeWindowKey(nil, k, ms, 0))
		if err != nil {
			return s.wrap("delete", err)
		}
		if had && s.observing() {
			return s.recordDeletion(key, windowStart, old)
		}
		return nil
	}
	// Every duplicate of the window, in one write.
	var batch []KeyValue[[]byte, []byte]
	var olds [][]byte
	for kv, err := range s.inner.Scan(windowRange(k, ms, ms), ms, ms, false) {
		if err != nil {
			return s.wrap("delete", err)
		}
		if wk, _, _, err := decodeWindowKey(kv.Key); err == nil && bytes.Equal(wk, k) {
			batch = append(batch, KeyValue[[]byte, []byte]{Key: kv.Key})
			olds = append(olds, kv.Value)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := s.inner.Write(batch); err != nil {
		return s.wrap("delete", err)
	}
	if s.observing() {
		for _, old := range olds {
			if err := s.recordDeletion(key, windowStart, old); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordDeletion records that the window of key at start, which held old,
// was deleted.
func (s *windowStore[K, V]) recordDeletion(key K, start time.Time, old []byte) error {
	v, err := s.decodeValue("delete", old)
	if err != nil {
		return err
	}
	s.add(Change[Windowed[K], V]{Key: s.windowed(key, start), Old: v, HadOld: true, Deleted: true})
	return nil
}

func (s *windowStore[K, V]) decodeValue(op string, b []byte) (V, error) {
	v, err := s.valueSerde.Deserialize(b)
	if err != nil {
		var zero V
		return zero, s.wrap(op+": deserialize value", err)
	}
	return v, nil
}

func (s *windowStore[K, V]) FetchOne(key K, windowStart time.Time) (V, bool, error) {
	if m := s.sensors; m != nil {
		defer m.Get.Done(time.Now())
	}
	var zero V
	k, err := s.serializeKey("fetch", key)
	if err != nil {
		return zero, false, err
	}
	ms := toMs(windowStart)
	if !s.dups {
		b, ok, err := s.inner.Get(encodeWindowKey(nil, k, ms, 0))
		if err != nil {
			return zero, false, s.wrap("fetch", err)
		}
		if !ok {
			return zero, false, nil
		}
		v, err := s.decodeValue("fetch", b)
		return v, err == nil, err
	}
	for kv, err := range s.fetch("fetch", k, ms, ms, true) {
		if err != nil {
			return zero, false, err
		}
		return kv.Value, true, nil // the latest duplicate
	}
	return zero, false, nil
}

func (s *windowStore[K, V]) Fetch(key K, from, to time.Time) iter.Seq2[KeyValue[time.Time, V], error] {
	return s.fetchKey("fetch", key, from, to, false)
}

func (s *windowStore[K, V]) BackwardFetch(key K, from, to time.Time) iter.Seq2[KeyValue[time.Time, V], error] {
	return s.fetchKey("backward fetch", key, from, to, true)
}

// fetchKey serializes key when the loop starts, so that a serde error is
// yielded like any other.
func (s *windowStore[K, V]) fetchKey(op string, key K, from, to time.Time, reverse bool) iter.Seq2[KeyValue[time.Time, V], error] {
	return func(yield func(KeyValue[time.Time, V], error) bool) {
		k, err := s.serializeKey(op, key)
		if err != nil {
			yield(KeyValue[time.Time, V]{}, err)
			return
		}
		s.fetch(op, k, toMs(from), toMs(to), reverse)(yield)
	}
}

// fetch yields the windows of the serialized key k with starts in
// [from, to].
func (s *windowStore[K, V]) fetch(op string, k []byte, from, to int64, reverse bool) iter.Seq2[KeyValue[time.Time, V], error] {
	return func(yield func(KeyValue[time.Time, V], error) bool) {
		if from > to {
			return
		}
		if m := s.sensors; m != nil {
			defer m.Range.Done(time.Now())
		}
		for kv, err := range s.inner.Scan(windowRange(k, from, to), from, to, reverse) {
			if err != nil {
				yield(KeyValue[time.Time, V]{}, s.wrap(op, err))
				return
			}
			wk, start, _, err := decodeWindowKey(kv.Key)
			if err != nil {
				yield(KeyValue[time.Time, V]{}, s.wrap(op, err))
				return
			}
			if !bytes.Equal(wk, k) {
				continue // a longer key that starts with k
			}
			v, err := s.decodeValue(op, kv.Value)
			if err != nil {
				yield(KeyValue[time.Time, V]{}, err)
				return
			}
			if !yield(KeyValue[time.Time, V]{Key: fromMs(start), Value: v}, nil) {
				return
			}
		}
	}
}

func (s *windowStore[K, V]) FetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("fetch range", keyFrom, keyTo, toMs(from), toMs(to), false)
}

func (s *windowStore[K, V]) BackwardFetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("backward fetch range", keyFrom, keyTo, toMs(from), toMs(to), true)
}

func (s *windowStore[K, V]) FetchAll(from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("fetch all", nil, nil, toMs(from), toMs(to), false)
}

func (s *windowStore[K, V]) BackwardFetchAll(from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("backward fetch all", nil, nil, toMs(from), toMs(to), true)
}

func (s *windowStore[K, V]) All() iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("all", nil, nil, minMs, maxMs, false)
}

func (s *windowStore[K, V]) BackwardAll() iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("backward all", nil, nil, minMs, maxMs, true)
}

// keyBounds serializes the key bounds of a range read; nil stays nil.
func keyBounds[K any](keySerde serde.Serde[K], keyFrom, keyTo *K) (kf, kt []byte, err error) {
	if keyFrom != nil {
		if kf, err = keySerde.Serialize(*keyFrom); err != nil {
			return nil, nil, fmt.Errorf("serialize lower key bound: %w", err)
		}
		if kf == nil {
			kf = []byte{}
		}
	}
	if keyTo != nil {
		if kt, err = keySerde.Serialize(*keyTo); err != nil {
			return nil, nil, fmt.Errorf("serialize upper key bound: %w", err)
		}
		if kt == nil {
			kt = []byte{}
		}
	}
	return kf, kt, nil
}

// keyRangeFor is the range of encoded keys that holds every entry of the
// serialized keys in [kf, kt] (nil: open) whose suffix is at most suffix.
// It also holds entries of other keys, which the caller filters out. ok is
// false when the range is empty.
func keyRangeFor(kf, kt, suffix []byte) (r KeyRange, ok bool) {
	if kf != nil && kt != nil && bytes.Compare(kf, kt) > 0 {
		return r, false
	}
	if kf != nil {
		// kf itself, not kf‖from: a longer key that starts with kf sorts
		// above kf but its encodings may sort below kf‖from.
		r.Lower, r.HasLower = kf, true
	}
	if kt != nil {
		r.Upper, r.HasUpper = upperBoundFor(kf, kt, suffix), true
	}
	return r, true
}

// inKeyRange reports whether k lies in [kf, kt] (nil: open).
func inKeyRange(k, kf, kt []byte) bool {
	return (kf == nil || bytes.Compare(k, kf) >= 0) && (kt == nil || bytes.Compare(k, kt) <= 0)
}

func (s *windowStore[K, V]) fetchRange(op string, keyFrom, keyTo *K, from, to int64, reverse bool) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return func(yield func(KeyValue[Windowed[K], V], error) bool) {
		kf, kt, err := keyBounds(s.keySerde, keyFrom, keyTo)
		if err != nil {
			yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
			return
		}
		r, ok := keyRangeFor(kf, kt, maxWindowSuffix(to))
		if !ok || from > to {
			return
		}
		if m := s.sensors; m != nil {
			defer m.Range.Done(time.Now())
		}
		for kv, err := range s.inner.Scan(r, from, to, reverse) {
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
				return
			}
			wk, start, _, err := decodeWindowKey(kv.Key)
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
				return
			}
			if !inKeyRange(wk, kf, kt) {
				continue
			}
			key, err := s.keySerde.Deserialize(wk)
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op+": deserialize key", err))
				return
			}
			v, err := s.valueSerde.Deserialize(kv.Value)
			if err != nil { // the key is formatted only on failure: this is the per-entry path
				yield(KeyValue[Windowed[K], V]{}, s.wrap(fmt.Sprintf("%s: key %x: deserialize value", op, kv.Key), err))
				return
			}
			st := fromMs(start)
			w := Windowed[K]{Key: key, Start: st, End: st.Add(s.windowSize)}
			if !yield(KeyValue[Windowed[K], V]{Key: w, Value: v}, nil) {
				return
			}
		}
	}
}
