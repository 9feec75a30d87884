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
//   - WriteAheadLog: false; SyncWrites: false.
//   - WriteBatchSize: 16 MiB of writes kept in Go memory between commits
//     (see below).
//   - Every store also keeps a Bloom filter (10 bits per key) in its files,
//     and at most three RocksDB info logs of 4 MiB.
//
// # Durability and Flush
//
// By default a store keeps no write-ahead log, as in Kafka Streams: the
// changelog topic makes the store durable, and the runtime restores a store
// that was not closed cleanly from its changelog (a clean close writes a
// checkpoint; without one the runtime wipes the store and restores it all).
// Close writes the memtables to files; a crash loses what was only in
// memory, which the restore replaces.
//
// # The write batch: one RocksDB write per key and commit
//
// Without the log, a store keeps its writes in Go memory, a hash map of
// each key's latest value or deletion, and applies them to RocksDB as one
// sorted write batch at every commit (Flush), when they reach
// Options.WriteBatchSize, before a range loop takes its snapshot, and at
// Close. Get reads the map first, so a processor reads its own writes; a
// range loop sees every write made before it starts; a PutAll or Write
// enters the map under one lock and is applied in one RocksDB batch, so no
// reader sees half of it. Readers on other goroutines see the same.
//
// Why: a RocksDB write goes to the memtable, a skiplist, and on a small
// cloud machine a skiplist insert of a random key costs 3 to 4 µs, mostly
// cache misses; RocksDB's own C++ Put costs the same with no Go in between.
// A stateful processor writes the same keys again and again (a count per
// word, an aggregate per customer): the map makes the writes of a commit
// one RocksDB write per distinct key. A restore goes through it too, so a
// changelog holding many versions of each key writes each key about once
// per WriteBatchSize of restored data; a compacted changelog, one record per
// key, restores at the skiplist's rate.
//
// What is given up: nothing that the store had. RocksDB's memtables are
// lost in a crash just as the map is, and the runtime restores a store that
// was not closed cleanly from its changelog either way. With WriteAheadLog,
// where each write must be in the log when it returns, and under
// exactly-once, where the store already writes one batch per commit with its
// changelog offset, there is no map. Its memory is bounded by
// WriteBatchSize per store, beside the memtables.
//
// With Options.WriteAheadLog every write goes to the log before it
// returns, in the operating system's page cache unless SyncWrites is set;
// Flush then syncs the log when anything was written since the previous
// Flush, and Close does the same.
package rocksdb
