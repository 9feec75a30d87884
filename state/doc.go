// Package state holds the state stores a processor reads and writes: their
// interfaces, the builders a topology keeps for them, and the in-memory
// backend.
//
// # Key-value stores
//
// KeyValueStore[K,V] is a typed, ordered key-value store. Keys and values are
// written with a serde.Serde each, and ranges follow the byte order of the
// serialized keys, so serde.Int64 keys come back in numeric order and
// serde.String keys in byte-wise lexical order. TimestampedKeyValueStore[K,V]
// is the same store whose values are ValueAndTimestamp[V], kept with
// millisecond precision.
//
// # Builders
//
// A topology does not hold stores but StoreBuilders, from which the runtime
// builds one store per task:
//
//	counts := state.NewKeyValueStoreBuilder(
//		state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64())
//
// NewKeyValueStoreBuilder and NewTimestampedKeyValueStoreBuilder take a
// KeyValueBytesStoreSupplier, the backend (InMemoryKeyValueStore here), and
// record whether the store is change-logged (default: yes) and cached
// (default: no). Build returns an unopened Store; the runtime calls Init,
// then Flush on every commit and Close at the end. Code that builds a store
// by hand asserts its type and calls Init itself:
//
//	store := counts.Build().(state.KeyValueStore[string, int64])
//	if err := store.Init(state.StoreContext{TaskID: "0_0"}); err != nil { ... }
//	defer store.Close()
//
// # Iteration
//
// Range, ReverseRange, All, ReverseAll and PrefixScan return an
// iter.Seq2[KeyValue[K,V], error]. Range over it and check the error first:
//
//	for kv, err := range store.All() {
//		if err != nil {
//			return err // the store was closed, or an entry failed to deserialize
//		}
//		fmt.Println(kv.Key, kv.Value)
//	}
//
// An error is yielded at most once, with a zero KeyValue, as the last element;
// an iterator never swallows one and never panics.
//
// Every range loop reads a consistent snapshot taken when the loop starts
// (a copy-on-write clone of the tree in memory, a RocksDB snapshot on disk):
//
//   - it is safe on any goroutine while the owning task keeps writing, and
//     never blocks that task for longer than taking the snapshot;
//   - it sees no write made after it started, by the loop's own body
//     included, and never half of a PutAll: an interactive query never sees
//     a half-applied commit;
//   - it releases the snapshot when the loop ends, by break or return
//     included. There is nothing to close.
//
// The sequence itself holds no snapshot: each range loop over the same
// sequence takes a new one.
//
// A store has exactly one writer, the goroutine of the task that owns it.
// Get, ApproximateNumEntries and the iterators may be called from any
// goroutine.
//
// # Errors
//
// Errors name the store and the operation and wrap their cause: use
// errors.Is with ErrStoreClosed or ErrStoreNotInitialized, and errors.As
// with *serde.Error for a value that failed to serialize or deserialize.
//
// # Layers
//
// Under every typed store is a KeyValueBytesStore, which deals in bytes
// ordered by bytes.Compare. Backends implement it; the change-logging layer
// (on by default) wraps it and sends every change to the task's changelog.
// WithCaching adds a caching layer on top: writes stay in memory until the
// task commits (or the cache, StoreContext.CacheMaxBytes, fills), so a key
// written many times between commits reaches the backend and the changelog
// once; the task reads its own writes. Interactive queries read a store
// below the cache: what the task has committed. Window and session stores
// have the same layers.
//
// # Window and session stores
//
// A WindowStore keeps values per key and window start (NewWindowStoreBuilder
// with InMemoryWindowStore, or rocksdb.WindowStore); a SessionStore keeps
// values per key and session (NewSessionStoreBuilder). Both keep their
// entries in time segments of max(retention/2, 60s): the store tracks the
// largest time put (window start or session end), drops a segment once all
// of it is older than that minus the retention, ignores (and counts, see
// DroppedRecordsCounter) puts for expired times, and never returns expired
// entries. Their changelogs are compacted and deleted, with retention.ms set
// to the store's retention plus ChangelogAdditionalRetention. A window is
// half-open, [Start, End); a session's bounds are both inclusive.
package state
