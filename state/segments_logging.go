package state

import (
	"iter"
	"math"
	"time"
)

// loggedSegmentedStore is the change-logging layer of window and session
// stores: it passes every operation to the backend and sends every change
// that the backend made to the changelog writer of the task that opened it,
// keyed by the full encoded window or session key, so that a changelog
// record identifies its window. Reads pass straight through.
type loggedSegmentedStore struct {
	inner SegmentedBytesStore
	changelog
}

var _ SegmentedBytesStore = (*loggedSegmentedStore)(nil)

func newLoggedSegmentedStore(inner SegmentedBytesStore) *loggedSegmentedStore {
	return &loggedSegmentedStore{inner: inner}
}

func (s *loggedSegmentedStore) Name() string             { return s.inner.Name() }
func (s *loggedSegmentedStore) Persistent() bool         { return s.inner.Persistent() }
func (s *loggedSegmentedStore) Flush() error             { return s.inner.Flush() }
func (s *loggedSegmentedStore) Close() error             { return s.inner.Close() }
func (s *loggedSegmentedStore) Wipe() error              { return s.inner.Wipe() }
func (s *loggedSegmentedStore) Retention() time.Duration { return s.inner.Retention() }
func (s *loggedSegmentedStore) DroppedRecords() int64    { return s.inner.DroppedRecords() }

func (s *loggedSegmentedStore) Init(ctx StoreContext) error {
	s.open(ctx, s.inner.Name())
	return s.inner.Init(ctx)
}

func (s *loggedSegmentedStore) Get(key []byte) ([]byte, bool, error) { return s.inner.Get(key) }

// Put logs only what the backend stored: a record dropped because its
// window expired is not sent to the changelog either.
func (s *loggedSegmentedStore) Put(key, value []byte) (bool, error) {
	stored, err := s.inner.Put(key, value)
	if err != nil || !stored {
		return stored, err
	}
	if value == nil {
		value = []byte{} // a put of an empty value is not a tombstone
	}
	return true, s.change(key, value)
}

// Delete logs a tombstone when there was a value to delete.
func (s *loggedSegmentedStore) Delete(key []byte) ([]byte, bool, error) {
	old, ok, err := s.inner.Delete(key)
	if err != nil || !ok {
		return old, ok, err
	}
	return old, ok, s.change(key, nil)
}

// Write logs every entry of the batch, tombstones included.
func (s *loggedSegmentedStore) Write(batch []KeyValue[[]byte, []byte]) error {
	if err := s.inner.Write(batch); err != nil {
		return err
	}
	return s.changes(batch)
}

func (s *loggedSegmentedStore) Scan(r KeyRange, from, to int64, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.inner.Scan(r, from, to, reverse)
}

// restoreTarget empties any caching layer of s, whose backend is about to
// change underneath it (a restore or a wipe), and returns that backend.
func restoreTarget(s SegmentedBytesStore) SegmentedBytesStore {
	if c, ok := s.(*cachedSegmentedStore); ok {
		c.drop()
	}
	return belowSegmentLogging(s)
}

func (s *loggedSegmentedStore) admit(t int64) (bool, error) {
	e, ok := s.inner.(expiry)
	if !ok {
		return true, nil
	}
	return e.admit(t)
}

func (s *loggedSegmentedStore) observed() (int64, bool) {
	if e, ok := s.inner.(expiry); ok {
		return e.observed()
	}
	return 0, false
}

func (s *loggedSegmentedStore) retentionMillis() int64 {
	if e, ok := s.inner.(expiry); ok {
		return e.retentionMillis()
	}
	return math.MaxInt64
}

func (s *loggedSegmentedStore) countDropped() {
	if e, ok := s.inner.(expiry); ok {
		e.countDropped()
	}
}

func (s *loggedSegmentedStore) liveFrom() (int64, bool) {
	e, ok := s.inner.(expiry)
	if !ok {
		return 0, false
	}
	return e.liveFrom()
}

// belowSegmentCache returns the store under any caching layer: what has been
// written down.
func belowSegmentCache(s SegmentedBytesStore) SegmentedBytesStore {
	if c, ok := s.(*cachedSegmentedStore); ok {
		return c.inner
	}
	return s
}

// belowSegmentLogging returns the store under any caching and change-logging
// layers, leaving the cache as it is.
func belowSegmentLogging(s SegmentedBytesStore) SegmentedBytesStore {
	if c, ok := s.(*cachedSegmentedStore); ok {
		s = c.inner
	}
	if l, ok := s.(*loggedSegmentedStore); ok {
		return l.inner
	}
	return s
}
