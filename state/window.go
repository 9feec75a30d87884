package state

import (
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/gostreams/streams/serde"
)

// Windowed is a key together with the window or session it belongs to.
//
// For a window store the window is half-open, [Start, End): Start is the
// window start the entry was put with and End is Start plus the store's
// window size. For a session store both bounds are inclusive, [Start, End]:
// Start is the time of the session's first record and End that of its last,
// so a session of one record has Start == End.
//
// Stores keep times in Unix milliseconds: the times they return are in UTC,
// with sub-millisecond digits dropped.
type Windowed[K any] struct {
	Key        K
	Start, End time.Time
}

// ReadOnlyWindowStore is the read side of a window store: values per key and
// window start.
//
// Time bounds are inclusive and refer to window starts. Reads never return a
// window that has expired, that is one whose start is at or before the
// store's observed stream time minus its retention (see
// SegmentedBytesStore).
//
// Order: Fetch and BackwardFetch yield one key's windows by window start.
// FetchRange, FetchAll and All yield in the byte order of the encoded
// store key, serialized key then window start, then insertion order for the
// duplicates of a store that retains them; where one serialized key is a
// proper prefix of another ("a" and "ab"), the windows of the two may
// interleave. The Backward variants yield the exact reverse.
//
// Iterators behave as those of ReadOnlyKeyValueStore: each range loop reads
// a consistent snapshot taken when it starts, across all the segments it
// reads, is safe on any goroutine while the owner writes, releases what it
// holds when it ends, by break included, and yields an error at most once,
// as its last element.
type ReadOnlyWindowStore[K, V any] interface {
	// FetchOne returns the value of key in the window starting at
	// windowStart. In a store that retains duplicates it returns the one
	// put last.
	FetchOne(key K, windowStart time.Time) (V, bool, error)
	// Fetch yields the values of key in the windows whose start lies in
	// [from, to], oldest first, keyed by window start.
	Fetch(key K, from, to time.Time) iter.Seq2[KeyValue[time.Time, V], error]
	// BackwardFetch is Fetch, newest first.
	BackwardFetch(key K, from, to time.Time) iter.Seq2[KeyValue[time.Time, V], error]
	// FetchRange yields the windows of the keys between keyFrom and keyTo
	// (serialized, inclusive; nil is open) whose start lies in [from, to].
	FetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardFetchRange is FetchRange in reverse.
	BackwardFetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// FetchAll yields the windows of every key whose start lies in
	// [from, to].
	FetchAll(from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardFetchAll is FetchAll in reverse.
	BackwardFetchAll(from, to time.Time) iter.Seq2[KeyValue[Windowed[K], V], error]
	// All yields every live window.
	All() iter.Seq2[KeyValue[Windowed[K], V], error]
	// BackwardAll is All in reverse.
	BackwardAll() iter.Seq2[KeyValue[Windowed[K], V], error]
}

// WindowStore is a typed window store: values per key and window start,
// kept for a retention period behind the latest window start put.
type WindowStore[K, V any] interface {
	Store
	ReadOnlyWindowStore[K, V]
	// Put stores value for key in the window starting at windowStart. A
	// store that retains duplicates adds an entry per Put; any other
	// replaces the window's value. A Put for a window that has already
	// expired is ignored, not an error: DroppedRecords counts it.
	Put(key K, value V, windowStart time.Time) error
	// Delete removes key's value in the window starting at windowStart;
	// in a store that retains duplicates, every value of that window.
	Delete(key K, windowStart time.Time) error
}

// TimestampedWindowStore is a window store whose values carry the timestamp
// of the record that wrote them.
type TimestampedWindowStore[K, V any] interface {
	WindowStore[K, ValueAndTimestamp[V]]
}

// DroppedRecordsCounter is implemented by the window and session stores the
// builders make. DroppedRecords counts the Puts the store ignored because
// their window or session had expired, since the store was built; it may be
// called from any goroutine. The runtime reports it as Kafka Streams'
// dropped-records metric.
type DroppedRecordsCounter interface {
	DroppedRecords() int64
}

// WindowBytesStoreSupplier makes the backend of a window store: a fresh,
// unopened SegmentedBytesStore per task, keyed by window keys. Create one
// with InMemoryWindowStore, rocksdb.WindowStore or NewWindowBytesStoreSupplier.
type WindowBytesStoreSupplier interface {
	Name() string
	Get() SegmentedBytesStore
	// Retention is how long a window is kept behind the latest window
	// start put.
	Retention() time.Duration
	// WindowSize is the length of the windows: a window starting at s ends
	// at s + WindowSize.
	WindowSize() time.Duration
	// RetainDuplicates reports whether every Put adds an entry instead of
	// replacing the window's value (for stream-stream joins).
	RetainDuplicates() bool
}

// InMemoryWindowStore returns a supplier of in-memory window stores named
// name. retention is how long a window is kept behind the latest window
// start the store has seen; windowSize is the length of the windows; with
// retainDuplicates every Put adds an entry instead of replacing.
//
// The stores keep their windows in segments of max(retention/2, 1 minute)
// (see SegmentedBytesStore), each an InMemoryKeyValueStore named
// "<name>.<segment start in Unix ms>", and drop a segment once all of it
// has expired. Nothing is kept on disk: a logged store is rebuilt from its
// changelog when its task starts.
//
// retention and windowSize must be at least a millisecond, and retention at
// least windowSize; NewWindowStoreBuilder panics otherwise, and a store's
// Init returns the error.
func InMemoryWindowStore(name string, retention, windowSize time.Duration, retainDuplicates bool) WindowBytesStoreSupplier {
	return NewWindowBytesStoreSupplier(name, inMemorySegments, retention, windowSize, retainDuplicates)
}

// NewWindowBytesStoreSupplier returns a supplier of window stores named name
// whose segments come from segments: a backend's constructor (as
// rocksdb.WindowStore) calls it with its SegmentFactory. The settings are
// those of InMemoryWindowStore.
func NewWindowBytesStoreSupplier(name string, segments SegmentFactory, retention, windowSize time.Duration, retainDuplicates bool) WindowBytesStoreSupplier {
	sup := windowSupplier{name: name, segments: segments, retention: retention, windowSize: windowSize, dups: retainDuplicates}
	switch {
	case windowSize < time.Millisecond:
		sup.err = fmt.Errorf("window size %v is less than a millisecond", windowSize)
	case retention < windowSize:
		sup.err = fmt.Errorf("retention %v is shorter than the window size %v, so windows would expire before they end; use a retention of at least the window size plus the grace period",
			retention, windowSize)
	}
	return sup
}

type windowSupplier struct {
	name       string
	segments   SegmentFactory
	retention  time.Duration
	windowSize time.Duration
	dups       bool
	err        error
}

func (s windowSupplier) Name() string              { return s.name }
func (s windowSupplier) Retention() time.Duration  { return s.retention }
func (s windowSupplier) WindowSize() time.Duration { return s.windowSize }
func (s windowSupplier) RetainDuplicates() bool    { return s.dups }

func (s windowSupplier) Get() SegmentedBytesStore {
	st := newSegmentedStore(s.name, windowSchema{}, s.segments, s.retention)
	if s.err != nil {
		st.config = s.err
	}
	return st
}

// validate reports what is wrong with the settings.
func (s windowSupplier) validate() error {
	if s.err != nil {
		return s.err
	}
	return newSegmentedStore(s.name, windowSchema{}, s.segments, s.retention).config
}

// validator is implemented by the suppliers of this package.
type validator interface{ validate() error }

// ChangelogAdditionalRetention is how much longer than its store the
// changelog topic of a window or session store keeps records, as in Kafka
// Streams: retention.ms = store retention + 1 day, so that a restore still
// finds every window the store keeps.
const ChangelogAdditionalRetention = 24 * time.Hour

// WindowedStoreBuilder is implemented by the builders of window and session
// stores. The runtime asserts it on a StoreBuilder to create the store's
// changelog topic with cleanup.policy=compact,delete and retention.ms =
// Retention() + ChangelogAdditionalRetention.
type WindowedStoreBuilder interface {
	StoreBuilder
	// Retention is how long the stores keep a window or session.
	Retention() time.Duration
}

// WindowedBuilder is the Builder of window and session stores: a Builder
// that knows its stores' retention. Its With… methods return it, so that a
// configured builder still implements WindowedStoreBuilder.
type WindowedBuilder[S Store] struct {
	*Builder[S]
	retention time.Duration
}

var _ WindowedStoreBuilder = (*WindowedBuilder[WindowStore[string, int64]])(nil)

// Retention is how long the stores keep a window or session behind the
// latest one put.
func (b *WindowedBuilder[S]) Retention() time.Duration { return b.retention }

// LogConfig returns a copy of the changelog topic configuration: the one
// given to WithLoggingEnabled, plus cleanup.policy=compact,delete and
// retention.ms = Retention() + ChangelogAdditionalRetention unless it sets
// them. Empty when logging is disabled.
func (b *WindowedBuilder[S]) LogConfig() map[string]string {
	c := b.Builder.LogConfig()
	if !b.logging {
		return c
	}
	if _, ok := c["cleanup.policy"]; !ok {
		c["cleanup.policy"] = "compact,delete"
	}
	if _, ok := c["retention.ms"]; !ok {
		c["retention.ms"] = strconv.FormatInt((b.retention + ChangelogAdditionalRetention).Milliseconds(), 10)
	}
	return c
}

// WithLoggingEnabled is Builder.WithLoggingEnabled; it returns b.
func (b *WindowedBuilder[S]) WithLoggingEnabled(topicConfig map[string]string) *WindowedBuilder[S] {
	b.Builder.WithLoggingEnabled(topicConfig)
	return b
}

// WithLoggingDisabled is Builder.WithLoggingDisabled; it returns b.
func (b *WindowedBuilder[S]) WithLoggingDisabled() *WindowedBuilder[S] {
	b.Builder.WithLoggingDisabled()
	return b
}

// WithCaching is Builder.WithCaching; it returns b.
func (b *WindowedBuilder[S]) WithCaching() *WindowedBuilder[S] {
	b.Builder.WithCaching()
	return b
}

// WithCachingDisabled is Builder.WithCachingDisabled; it returns b.
func (b *WindowedBuilder[S]) WithCachingDisabled() *WindowedBuilder[S] {
	b.Builder.WithCachingDisabled()
	return b
}

// segmentedBackendFor returns a new backend from get, under the
// change-logging layer when b logs, under the caching layer when b caches.
func (b *Builder[S]) segmentedBackendFor(get func() SegmentedBytesStore, schema keySchema) SegmentedBytesStore {
	inner := get()
	if b.logging {
		inner = newLoggedSegmentedStore(inner)
	}
	return newCachedSegmentedStore(inner, schema, b.caching)
}

// mustBeValid panics with a message naming the constructor for a wiring
// mistake: a nil supplier or serde, or invalid supplier settings. It must
// show up when the topology is built, not later on a task's goroutine.
func mustBeValid(ctor string, supplierNil, keyNil, valueNil bool, supplier interface{ Name() string }) {
	switch {
	case supplierNil:
		panic("state: " + ctor + ": nil supplier")
	case keyNil:
		panic("state: " + ctor + ": nil key serde")
	case valueNil:
		panic("state: " + ctor + ": nil value serde")
	}
	if v, ok := supplier.(validator); ok {
		if err := v.validate(); err != nil {
			panic(fmt.Sprintf("state: %s: store %q: %v", ctor, supplier.Name(), err))
		}
	}
}

// NewWindowStoreBuilder returns a builder of WindowStore[K,V] stores named
// supplier.Name(), whose keys and values are written with keySerde and
// valueSerde. Defaults: change-logging enabled, to a changelog topic with
// cleanup.policy=compact,delete and retention.ms = retention + 1 day (see
// WindowedBuilder.LogConfig); caching disabled.
//
// It panics if supplier or a serde is nil, or the supplier's settings are
// invalid.
func NewWindowStoreBuilder[K, V any](supplier WindowBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *WindowedBuilder[WindowStore[K, V]] {
	mustBeValid("NewWindowStoreBuilder", supplier == nil, keySerde == nil, valueSerde == nil, supplier)
	var b *Builder[WindowStore[K, V]]
	b = newBuilder(supplier.Name(), func() WindowStore[K, V] {
		return newWindowStore(b.segmentedBackendFor(supplier.Get, windowSchema{}), keySerde, valueSerde, supplier.WindowSize(), supplier.RetainDuplicates())
	})
	return &WindowedBuilder[WindowStore[K, V]]{Builder: b, retention: supplier.Retention()}
}

// NewTimestampedWindowStoreBuilder returns a builder of
// TimestampedWindowStore[K,V] stores named supplier.Name(). A
// ValueAndTimestamp is written as in NewTimestampedKeyValueStoreBuilder:
// the timestamp in Unix milliseconds, 8 bytes big-endian, then valueSerde's
// bytes. Defaults as NewWindowStoreBuilder.
//
// It panics if supplier or a serde is nil, or the supplier's settings are
// invalid.
func NewTimestampedWindowStoreBuilder[K, V any](supplier WindowBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *WindowedBuilder[TimestampedWindowStore[K, V]] {
	mustBeValid("NewTimestampedWindowStoreBuilder", supplier == nil, keySerde == nil, valueSerde == nil, supplier)
	vs := newTimestampedSerde(valueSerde)
	var b *Builder[TimestampedWindowStore[K, V]]
	b = newBuilder(supplier.Name(), func() TimestampedWindowStore[K, V] {
		return newWindowStore[K, ValueAndTimestamp[V]](b.segmentedBackendFor(supplier.Get, windowSchema{}), keySerde, vs, supplier.WindowSize(), supplier.RetainDuplicates())
	})
	return &WindowedBuilder[TimestampedWindowStore[K, V]]{Builder: b, retention: supplier.Retention()}
}
