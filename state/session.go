package state

import (
	"iter"
	"time"

	"github.com/gostreams/streams/serde"
)

// ReadOnlySessionStore is the read side of a session store: values per key
// and session, a session being the inclusive span [Start, End] from its
// first record to its last (see Windowed).
//
// Reads never return a session that has expired, that is one whose end is
// at or before the store's observed stream time (the latest session end
// put) minus its retention.
//
// Order: the sessions of one key come by session end, then start; for the
// sessions a session-window aggregation keeps, which never overlap, that is
// also their order by start. FetchRange yields in the byte order of the
// encoded store key: serialized key, then end, then start (a key that is a
// proper prefix of another may interleave with it, as in a window store).
// The Backward variants yield the exact reverse.
//
// Iterators behave as those of ReadOnlyWindowStore: each range loop reads a
// consistent snapshot taken when it starts, is safe on any goroutine while
// the owner writes, releases what it holds when it ends, by break included,
// and yields an error at most once, as its last element.
type ReadOnlySessionStore[K, V any] interface {
	// FindSessions yields the sessions of key that end at or after
	// earliestSessionEnd and start at or before latestSessionStart: those
	// that overlap [earliestSessionEnd, latestSessionStart], touching
	// included. A session-window aggregation passes (record time − gap,
	// record time + gap) to find the sessions a record merges.
	FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardFindSessions is FindSessions in reverse.
	BackwardFindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// FetchSession returns the value of key's session that starts at start
	// and ends at end exactly.
	FetchSession(key K, start, end time.Time) (V, bool, error)
	// Fetch yields every session of key.
	Fetch(key K) iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardFetch is Fetch in reverse.
	BackwardFetch(key K) iter.Seq2[KeyValue[Windowed[K], V], error]
	// FetchRange yields every session of the keys between keyFrom and
	// keyTo (serialized, inclusive; nil is open).
	FetchRange(keyFrom, keyTo *K) iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardFetchRange is FetchRange in reverse.
	BackwardFetchRange(keyFrom, keyTo *K) iter.Seq2[KeyValue[Windowed[K], V], error]
}

// SessionStore is a typed session store, kept for a retention period
// behind the latest session end put.
type SessionStore[K, V any] interface {
	Store
	ReadOnlySessionStore[K, V]
	// Put stores value for the session, replacing the value of the same
	// key, start and end. A session that ends before it starts is an
	// error. A Put for a session that has already expired is ignored, not
	// an error: DroppedRecords counts it.
	Put(session Windowed[K], value V) error
	// Remove removes the session with exactly that key, start and end.
	Remove(session Windowed[K]) error
}

// SessionBytesStoreSupplier makes the backend of a session store: a fresh,
// unopened SegmentedBytesStore per task, keyed by session keys. Create one
// with InMemorySessionStore, rocksdb.SessionStore or
// NewSessionBytesStoreSupplier.
type SessionBytesStoreSupplier interface {
	Name() string
	Get() SegmentedBytesStore
	// Retention is how long a session is kept behind the latest session
	// end put.
	Retention() time.Duration
}

// InMemorySessionStore returns a supplier of in-memory session stores named
// name, which keep a session for retention behind the latest session end
// they have seen. Segments and persistence are as for InMemoryWindowStore:
// segments of max(retention/2, 1 minute) by session end, nothing on disk.
//
// retention must be at least a millisecond; NewSessionStoreBuilder panics
// otherwise, and a store's Init returns the error.
func InMemorySessionStore(name string, retention time.Duration) SessionBytesStoreSupplier {
	return NewSessionBytesStoreSupplier(name, inMemorySegments, retention)
}

// NewSessionBytesStoreSupplier returns a supplier of session stores named
// name whose segments come from segments: a backend's constructor (as
// rocksdb.SessionStore) calls it with its SegmentFactory.
func NewSessionBytesStoreSupplier(name string, segments SegmentFactory, retention time.Duration) SessionBytesStoreSupplier {
	return sessionSupplier{name: name, segments: segments, retention: retention}
}

type sessionSupplier struct {
	name      string
	segments  SegmentFactory
	retention time.Duration
}

func (s sessionSupplier) Name() string             { return s.name }
func (s sessionSupplier) Retention() time.Duration { return s.retention }

func (s sessionSupplier) Get() SegmentedBytesStore {
	return newSegmentedStore(s.name, sessionSchema{}, s.segments, s.retention)
}

func (s sessionSupplier) validate() error {
	return newSegmentedStore(s.name, sessionSchema{}, s.segments, s.retention).config
}

// NewSessionStoreBuilder returns a builder of SessionStore[K,V] stores named
// supplier.Name(), whose keys and values are written with keySerde and
// valueSerde. Defaults as NewWindowStoreBuilder: change-logging enabled to a
// compact,delete topic keeping records for retention + 1 day, caching
// disabled.
//
// It panics if supplier or a serde is nil, or the supplier's settings are
// invalid.
func NewSessionStoreBuilder[K, V any](supplier SessionBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *WindowedBuilder[SessionStore[K, V]] {
	mustBeValid("NewSessionStoreBuilder", supplier == nil, keySerde == nil, valueSerde == nil, supplier)
	var b *Builder[SessionStore[K, V]]
	b = newBuilder(supplier.Name(), func() SessionStore[K, V] {
		return newSessionStore(b.segmentedBackendFor(supplier.Get, sessionSchema{}), keySerde, valueSerde)
	})
	return &WindowedBuilder[SessionStore[K, V]]{Builder: b, retention: supplier.Retention()}
}
