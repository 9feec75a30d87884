// Package rocksdb is the persistent backend of the state stores: key-value
// stores kept in RocksDB (through github.com/linxGnu/grocksdb, linked
// against the system's librocksdb), under the typed stores of package state.
// It is the only package of the module that uses cgo.
//
// # Core types
//
// KeyValueStore returns a state.KeyValueBytesStoreSupplier: give it to
// state.NewKeyValueStoreBuilder (or NewTimestampedKeyValueStoreBuilder) as
// you would state.InMemoryKeyValueStore, and the runtime builds one RocksDB
// store per task:
//
//	counts := state.NewKeyValueStoreBuilder(
//		rocksdb.KeyValueStore("Counts", rocksdb.Options{}), serde.String(), serde.Int64())
//
// Options configures the stores of a supplier; its zero value is usable.
// Cache is a block cache that stores share, so that memory stays bounded
// however many stores a process opens.
//
// # Where the files live
//
// A store's Init opens, or creates, one RocksDB database in
// <StoreContext.Dir>/rocksdb/<name>, where Dir is the task's state
// directory, <state.dir>/<application.id>/<task>. A store reopened on the
// same directory, after a restart or when its task comes back, finds the
// data it held. Init fails with a clear error when Dir is empty, and when
// another store holds the same directory open.
//
// # Reads from any goroutine
//
// One goroutine, the owning task, writes; Get, ApproximateNumEntries and
// range loops may run on any goroutine at the same time, as with the
// in-memory store:
//
//   - Every range loop (Scan, and Range, All, PrefixScan… above it) reads a
//     RocksDB snapshot taken when the loop starts. It sees no write made
//     after that, by its own loop body included, and never half of a
//     PutAll or Write, which each apply as one RocksDB write batch: an
//     interactive query never sees a half-applied commit.
//   - The yielded keys and values are copies, the caller's to keep.
//   - The loop releases its iterator and snapshot when it ends, by break,
//     return or panic included. There is nothing to close.
//   - Close waits for running Gets and range loops to end before it closes
//     the database, and a loop that starts after Close yields
//     state.ErrStoreClosed as its only element. So never call Close from
//     inside a range loop over the same store: it would wait for itself.
//
// # Options and defaults
//
//   - Cache: nil means DefaultCache(), one process-wide LRU cache of 64 MiB
//     (DefaultCacheSize), created on first use. Data, index and filter
//     blocks all go through it.
//   - WriteBufferSize: 16 MiB per memtable, and MaxWriteBuffers: 3
//     memtables per store, as in Kafka Streams. Memtables are not part of
//     the cache: each open store may use up to WriteBufferSize ×
//     MaxWriteBuffers of memory for them.
//   - Compression: LZ4. None, Snappy and Zstd are available too.
//   - SyncWrites: false.
//   - Every store also keeps a Bloom filter (10 bits per key) in its files,
//     and at most three RocksDB info logs of 4 MiB.
//
// # Durability and Flush
//
// Every write goes to RocksDB's write-ahead log before it returns. With
// SyncWrites false (the default) the log is in the operating system's page
// cache by then: a crash of the process loses nothing, while a crash of the
// machine may lose the writes made since the last Flush. Flush, which the
// runtime calls on every commit, syncs the log to stable storage when
// anything was written since the previous Flush (one fsync; nothing
// otherwise), so that after it returns every write so far survives a machine
// crash too. It does not write memtables out to files: recovery replays the
// log. Close syncs the same way before it closes the database. With
// SyncWrites true every write syncs the log itself, and Flush has nothing
// left to do.
package rocksdb
