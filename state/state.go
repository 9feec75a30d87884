package state

import (
	"iter"
	"time"
)

// Store is what every state store has, whatever its key and value types.
//
// The runtime owns a store's life cycle: it builds one per task from the
// topology's StoreBuilder, calls Init before the task processes anything,
// Flush on every commit and Close when the task goes away. Before Init every
// method but Name, Persistent and Close returns ErrStoreNotInitialized; after
// Close, ErrStoreClosed.
type Store interface {
	// Name is the store's name, unique within a topology.
	Name() string
	// Init opens the store for one task.
	Init(ctx StoreContext) error
	// Flush makes every write so far durable in the backend.
	Flush() error
	// Close releases the store. It is idempotent.
	Close() error
	// Persistent reports whether the store keeps its data on disk.
	Persistent() bool
}

// StoreContext tells a store which task it belongs to and where that task
// keeps its files.
type StoreContext struct {
	ApplicationID string
	// TaskID is the owning task, formatted "<subtopology>_<partition>".
	TaskID string
	// Partition is the task's input partition, which is also the partition
	// of the store's changelog topic.
	Partition int32
	// Dir is the task's state directory,
	// <state.dir>/<application.id>/<task>. A persistent store puts its
	// files below it. Empty for tasks that have no state directory.
	Dir string
	// Changelog receives every change of a store built with logging
	// enabled; nil for a runtime that keeps no changelog.
	Changelog ChangelogWriter
	// RecordTime returns the time of the record (or punctuation) being
	// processed, which stamps the store's changes; nil for none.
	RecordTime func() time.Time
	// CacheMaxBytes bounds the cache of a store built WithCaching; 0 means
	// DefaultCacheMaxBytes. With Transactional it is how much a commit's
	// writes may take before the store reports itself Full.
	CacheMaxBytes int64
	// Transactional asks the stores the builders make to keep every write
	// until the runtime commits it (ExactlyOnce): nothing reaches the
	// backend or the changelog before.
	Transactional bool
}

// ChangelogOffsetKeeper is implemented by persistent backends that keep,
// atomically with their data, how far their changelog partition they
// reflect, so that a restart after a crash restores only the changelog's
// tail instead of wiping the store.
type ChangelogOffsetKeeper interface {
	// WriteWithOffset applies batch as Write does and records changelogEnd
	// in the same atomic write.
	WriteWithOffset(batch []KeyValue[[]byte, []byte], changelogEnd int64) error
	// ChangelogOffset returns the last offset recorded, and false when
	// none was.
	ChangelogOffset() (changelogEnd int64, ok bool, err error)
}

// ChangelogWriter takes the changes of logged stores to their changelog
// topic. The runtime's task implements it.
type ChangelogWriter interface {
	// LogChange records that store's key now has value; a nil value means
	// the key was deleted (a tombstone). key and value are the caller's:
	// the writer copies what it keeps.
	LogChange(store string, key, value []byte) error
}

// KeyValue is one entry of a key-value store.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// ReadOnlyKeyValueStore is the read side of a key-value store: what a
// processor that only reads, and an interactive query, may do.
//
// Every iterator reads a consistent snapshot taken when the iteration
// starts; it is safe to use from any goroutine while the owning task keeps
// writing, and it releases its resources when the range loop ends, by break
// included. An iterator yields a non-nil error at most once, as its last
// element, and never swallows one.
type ReadOnlyKeyValueStore[K, V any] interface {
	// Get returns the value stored for key and whether there was one.
	Get(key K) (V, bool, error)
	// Range yields the entries whose serialized key lies between from and
	// to, both inclusive, in ascending serialized-key order. A nil bound is
	// open. from > to yields nothing.
	Range(from, to *K) iter.Seq2[KeyValue[K, V], error]
	// ReverseRange is Range in descending order.
	ReverseRange(from, to *K) iter.Seq2[KeyValue[K, V], error]
	// All yields every entry in ascending serialized-key order.
	All() iter.Seq2[KeyValue[K, V], error]
	// ReverseAll yields every entry in descending serialized-key order.
	ReverseAll() iter.Seq2[KeyValue[K, V], error]
	// PrefixScan yields, in ascending order, the entries whose serialized
	// key starts with the serialized prefix.
	PrefixScan(prefix K) iter.Seq2[KeyValue[K, V], error]
	// ApproximateNumEntries estimates the number of entries.
	ApproximateNumEntries() (int64, error)
}

// KeyValueStore is a typed key-value state store.
type KeyValueStore[K, V any] interface {
	Store
	ReadOnlyKeyValueStore[K, V]
	// Put stores value under key, replacing what was there.
	Put(key K, value V) error
	// PutIfAbsent stores value only when key has no value. It returns the
	// value that was already there and true, or the zero V and false when
	// it wrote.
	PutIfAbsent(key K, value V) (V, bool, error)
	// PutAll stores every entry. Readers see all of them or none.
	PutAll(entries []KeyValue[K, V]) error
	// Delete removes key and returns the value it had, if any.
	Delete(key K) (V, bool, error)
}

// ValueAndTimestamp is a value with the timestamp of the record that last
// wrote it. Stores keep the timestamp with millisecond precision, as Unix
// milliseconds like Kafka, and read it back in UTC: sub-millisecond digits
// are dropped.
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp time.Time
}

// TimestampedKeyValueStore is a key-value store whose values carry the
// timestamp of the record that wrote them.
type TimestampedKeyValueStore[K, V any] interface {
	KeyValueStore[K, ValueAndTimestamp[V]]
}

// KeyRange selects serialized keys. Bounds are inclusive; a bound whose Has
// flag is false is open, so the zero KeyRange selects every key.
type KeyRange struct {
	Lower, Upper       []byte
	HasLower, HasUpper bool
}

// KeyValueBytesStore is the serialized layer under every typed key-value
// store: the backends (in memory, RocksDB) implement it, and the
// change-logging and caching layers wrap it. Keys are ordered by
// bytes.Compare.
//
// Slices passed in are owned by the caller; slices returned are owned by
// the receiver of the call and are not changed by the store afterwards. A
// stored empty value comes back as an empty, non-nil slice: nil means a
// deletion to Write and to a changelog.
type KeyValueBytesStore interface {
	Store
	Get(key []byte) ([]byte, bool, error)
	Put(key, value []byte) error
	// PutAll applies every entry atomically with respect to readers.
	PutAll(entries []KeyValue[[]byte, []byte]) error
	// Write applies a batch of changes atomically with respect to readers:
	// an entry with a nil Value deletes its key (a changelog tombstone), any
	// other is a put (an empty non-nil Value stores an empty value). A key
	// listed twice ends as its last entry says. Restoration from a changelog
	// writes through it.
	Write(batch []KeyValue[[]byte, []byte]) error
	Delete(key []byte) ([]byte, bool, error)
	// Scan yields the entries in r from a snapshot taken when the
	// iteration starts, ascending or, with reverse, descending.
	Scan(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error]
	ApproximateNumEntries() (int64, error)
}

// KeyValueBytesStoreSupplier makes the backend of a key-value store: a
// fresh, unopened KeyValueBytesStore per task.
type KeyValueBytesStoreSupplier interface {
	Name() string
	Get() KeyValueBytesStore
}

// StoreBuilder is what a topology holds for each state store: the recipe
// from which the runtime builds one store per task, and the settings the
// runtime needs (change-logging, caching).
type StoreBuilder interface {
	// Name is the name of the stores it builds.
	Name() string
	// Build returns a new, unopened store.
	Build() Store
	// LoggingEnabled reports whether the store's changes are written to its
	// changelog topic, <application.id>-<name>-changelog. Default true.
	LoggingEnabled() bool
	// LogConfig is the topic configuration for the changelog topic, on top
	// of the defaults the runtime sets (cleanup.policy=compact).
	LogConfig() map[string]string
	// CachingEnabled reports whether repeated writes to a key between
	// commits are collapsed. Default false.
	CachingEnabled() bool
}
