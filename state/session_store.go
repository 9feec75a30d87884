package state

import (
	"bytes"
	"fmt"
	"iter"
	"time"

	"github.com/gostreams/streams/serde"
)

// sessionStore is the typed SessionStore over a SegmentedBytesStore keyed by
// session keys. Its errors name the store and the operation and wrap the
// cause.
type sessionStore[K, V any] struct {
	inner      SegmentedBytesStore
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// recorder records the changes for a subscription, keyed by session.
	recorder[Windowed[K], V]
	txnLayer
	metering
}

var (
	_ SessionStore[string, int64] = (*sessionStore[string, int64])(nil)
	_ restorer                    = (*sessionStore[string, int64])(nil)
	_ DroppedRecordsCounter       = (*sessionStore[string, int64])(nil)
)

func newSessionStore[K, V any](inner SegmentedBytesStore, ks serde.Serde[K], vs serde.Serde[V]) *sessionStore[K, V] {
	s := &sessionStore[K, V]{inner: inner, keySerde: ks, valueSerde: vs}
	s.txnLayer = newTxnLayer(inner, s.discard, s.wrap)
	return s
}

// CommittedView implements stateproto.CommittedViewer.
func (s *sessionStore[K, V]) CommittedView() Store {
	below := belowSegmentCache(s.inner)
	if below == s.inner {
		return s
	}
	return newSessionStore(below, s.keySerde, s.valueSerde)
}

func (s *sessionStore[K, V]) wrap(op string, err error) error {
	return fmt.Errorf("state: session store %q: %s: %w", s.inner.Name(), op, err)
}

func (s *sessionStore[K, V]) Name() string          { return s.inner.Name() }
func (s *sessionStore[K, V]) Persistent() bool      { return s.inner.Persistent() }
func (s *sessionStore[K, V]) DroppedRecords() int64 { return s.inner.DroppedRecords() }

func (s *sessionStore[K, V]) Init(ctx StoreContext) error {
	s.now = ctx.RecordTime
	if err := s.inner.Init(ctx); err != nil {
		return s.wrap("init", err)
	}
	return nil
}

func (s *sessionStore[K, V]) Flush() error {
	if m := s.sensors; m != nil {
		defer m.Flush.Done(time.Now())
	}
	if err := s.inner.Flush(); err != nil {
		return s.wrap("flush", err)
	}
	return nil
}

func (s *sessionStore[K, V]) Close() error {
	if err := s.inner.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// Restore implements stateproto.Restorer: it writes the changelog records to the
// backend, below any change-logging layer; records of expired sessions are
// skipped.
func (s *sessionStore[K, V]) Restore(batch []KeyValue[[]byte, []byte]) error {
	if m := s.sensors; m != nil {
		defer m.Restore.Done(time.Now())
	}
	if m := s.sensors; m != nil {
		m.RestoredRecords.Add(int64(len(batch)))
	}
	if err := restoreTarget(s.inner).Write(batch); err != nil {
		return s.wrap("restore", err)
	}
	return nil
}

// Wipe implements stateproto.Restorer.
func (s *sessionStore[K, V]) Wipe() error {
	if err := restoreTarget(s.inner).Wipe(); err != nil {
		return s.wrap("wipe", err)
	}
	return nil
}

// sessionKey encodes session's key, checking that it does not end before
// it starts.
func (s *sessionStore[K, V]) sessionKey(op string, session Windowed[K]) ([]byte, error) {
	start, end := toMs(session.Start), toMs(session.End)
	if start > end {
		return nil, s.wrap(op, fmt.Errorf("session %v ends at %s, before it starts at %s; a session spans [Start, End], both inclusive",
			session.Key, session.End.Format(time.RFC3339Nano), session.Start.Format(time.RFC3339Nano)))
	}
	k, err := s.keySerde.Serialize(session.Key)
	if err != nil {
		return nil, s.wrap(op+": serialize key", err)
	}
	return encodeSessionKey(nil, k, end, start), nil
}

func (s *sessionStore[K, V]) Put(session Windowed[K], value V) error {
	if m := s.sensors; m != nil {
		defer m.Put.Done(time.Now())
	}
	k, err := s.sessionKey("put", session)
	if err != nil {
		return err
	}
	v, err := s.valueSerde.Serialize(value)
	if err != nil {
		return s.wrap("put: serialize value", err)
	}
	var c Change[Windowed[K], V]
	if s.observing() {
		c = Change[Windowed[K], V]{Key: sessionBounds(session), New: value}
		if c.Old, c.HadOld, err = s.FetchSession(session.Key, session.Start, session.End); err != nil {
			return err
		}
	}
	stored, err := s.inner.Put(k, v)
	if err != nil {
		return s.wrap("put", err)
	}
	if stored && s.observing() {
		s.add(c)
	}
	return nil
}

// sessionBounds is session with its bounds as the store keeps them: whole
// milliseconds, UTC.
func sessionBounds[K any](session Windowed[K]) Windowed[K] {
	return Windowed[K]{Key: session.Key, Start: fromMs(toMs(session.Start)), End: fromMs(toMs(session.End))}
}

func (s *sessionStore[K, V]) Remove(session Windowed[K]) error {
	if m := s.sensors; m != nil {
		defer m.Delete.Done(time.Now())
	}
	k, err := s.sessionKey("remove", session)
	if err != nil {
		return err
	}
	old, had, err := s.inner.Delete(k)
	if err != nil {
		return s.wrap("remove", err)
	}
	if had && s.observing() {
		v, err := s.valueSerde.Deserialize(old)
		if err != nil {
			return s.wrap("remove: the session was removed, but its old value failed to deserialize", err)
		}
		s.add(Change[Windowed[K], V]{Key: sessionBounds(session), Old: v, HadOld: true, Deleted: true})
	}
	return nil
}

func (s *sessionStore[K, V]) FetchSession(key K, start, end time.Time) (V, bool, error) {
	if m := s.sensors; m != nil {
		defer m.Get.Done(time.Now())
	}
	var zero V
	if toMs(start) > toMs(end) {
		return zero, false, nil // no such session can exist
	}
	k, err := s.sessionKey("fetch session", Windowed[K]{Key: key, Start: start, End: end})
	if err != nil {
		return zero, false, err
	}
	b, ok, err := s.inner.Get(k)
	if err != nil {
		return zero, false, s.wrap("fetch session", err)
	}
	if !ok {
		return zero, false, nil
	}
	v, err := s.valueSerde.Deserialize(b)
	if err != nil {
		return zero, false, s.wrap("fetch session: deserialize value", err)
	}
	return v, true, nil
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.find("find sessions", key, toMs(earliestSessionEnd), toMs(latestSessionStart), false)
}

func (s *sessionStore[K, V]) BackwardFindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.find("backward find sessions", key, toMs(earliestSessionEnd), toMs(latestSessionStart), true)
}

func (s *sessionStore[K, V]) Fetch(key K) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.find("fetch", key, minMs, maxMs, false)
}

func (s *sessionStore[K, V]) BackwardFetch(key K) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.find("backward fetch", key, minMs, maxMs, true)
}

// find yields the sessions of key with end >= earliestEnd and start <=
// latestStart. The key range holds exactly the sessions of key (and of
// longer keys that start with it) that end at or after earliestEnd; the
// start bound is a filter, since an earlier start does not mean an earlier
// end.
func (s *sessionStore[K, V]) find(op string, key K, earliestEnd, latestStart int64, reverse bool) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return func(yield func(KeyValue[Windowed[K], V], error) bool) {
		if m := s.sensors; m != nil {
			defer m.Range.Done(time.Now())
		}
		k, err := s.keySerde.Serialize(key)
		if err != nil {
			yield(KeyValue[Windowed[K], V]{}, s.wrap(op+": serialize key", err))
			return
		}
		r := KeyRange{
			Lower: encodeSessionKey(nil, k, earliestEnd, minMs), HasLower: true,
			Upper: encodeSessionKey(nil, k, maxMs, maxMs), HasUpper: true,
		}
		s.scan(op, r, earliestEnd, latestStart, reverse, func(sk []byte) bool { return bytes.Equal(sk, k) })(yield)
	}
}

func (s *sessionStore[K, V]) FetchRange(keyFrom, keyTo *K) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("fetch range", keyFrom, keyTo, false)
}

func (s *sessionStore[K, V]) BackwardFetchRange(keyFrom, keyTo *K) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return s.fetchRange("backward fetch range", keyFrom, keyTo, true)
}

func (s *sessionStore[K, V]) fetchRange(op string, keyFrom, keyTo *K, reverse bool) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return func(yield func(KeyValue[Windowed[K], V], error) bool) {
		kf, kt, err := keyBounds(s.keySerde, keyFrom, keyTo)
		if err != nil {
			yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
			return
		}
		r, ok := keyRangeFor(kf, kt, maxSessionSuffix())
		if !ok {
			return
		}
		s.scan(op, r, minMs, maxMs, reverse, func(sk []byte) bool { return inKeyRange(sk, kf, kt) })(yield)
	}
}

// scan yields the live sessions in r that end at or after earliestEnd,
// start at or before latestStart and whose serialized key passes keep.
func (s *sessionStore[K, V]) scan(op string, r KeyRange, earliestEnd, latestStart int64, reverse bool, keep func([]byte) bool) iter.Seq2[KeyValue[Windowed[K], V], error] {
	return func(yield func(KeyValue[Windowed[K], V], error) bool) {
		for kv, err := range s.inner.Scan(r, earliestEnd, maxMs, reverse) {
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
				return
			}
			sk, start, end, err := decodeSessionKey(kv.Key)
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op, err))
				return
			}
			if start > latestStart || !keep(sk) {
				continue
			}
			k, err := s.keySerde.Deserialize(sk)
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(op+": deserialize key", err))
				return
			}
			v, err := s.valueSerde.Deserialize(kv.Value)
			if err != nil {
				yield(KeyValue[Windowed[K], V]{}, s.wrap(fmt.Sprintf("%s: deserialize value of key %x", op, kv.Key), err))
				return
			}
			w := Windowed[K]{Key: k, Start: fromMs(start), End: fromMs(end)}
			if !yield(KeyValue[Windowed[K], V]{Key: w, Value: v}, nil) {
				return
			}
		}
	}
}
