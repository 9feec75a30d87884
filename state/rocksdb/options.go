package rocksdb

import (
	"errors"
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// Defaults of Options. A zero field means its default.
const (
	// DefaultCacheSize is the capacity of the block cache that stores share
	// when Options.Cache is nil: 64 MiB.
	DefaultCacheSize = 64 << 20
	// DefaultWriteBufferSize is the default Options.WriteBufferSize: 16 MiB,
	// as in Kafka Streams.
	DefaultWriteBufferSize = 16 << 20
	// DefaultMaxWriteBuffers is the default Options.MaxWriteBuffers: 3, as
	// in Kafka Streams.
	DefaultMaxWriteBuffers = 3
	// DefaultCompression is the compression of a zero Options.Compression:
	// LZ4, fast enough to cost less than the I/O it saves.
	DefaultCompression = CompressionLZ4

	// DefaultWriteBatchSize is the default Options.WriteBatchSize: 16 MiB.
	DefaultWriteBatchSize = defaultWriteBatchSize

	// minWriteBufferSize is the smallest WriteBufferSize Validate accepts.
	minWriteBufferSize = 64 << 10
)

// Options configures the RocksDB stores of one supplier. The zero value is
// usable: every zero field means its documented default. Options are read
// when a store is initialized, so one Options value may be shared by many
// suppliers.
//
// Memory: every store of a process that leaves Cache nil shares one block
// cache of DefaultCacheSize bytes, and index and filter blocks are kept in
// that cache too, so reads cost at most that much memory however many
// stores are open. Writes are buffered per store: each open store may hold up
// to WriteBufferSize × MaxWriteBuffers bytes of memtables (48 MiB by
// default), and between commits up to WriteBatchSize bytes of writes in Go
// memory (16 MiB by default, and only what a commit writes), so lower them
// when a process has many stores.
type Options struct {
	// Cache is the block cache the store reads through: uncompressed data
	// blocks, and the index and filter blocks of its files. Share one
	// Cache between all the stores of an app (NewCache) to bound their read
	// memory together. Default: nil, which means DefaultCache(), one
	// process-wide cache of DefaultCacheSize (64 MiB) created on first use.
	Cache *Cache

	// WriteBufferSize is the size in bytes of one memtable, the in-memory
	// buffer that writes go to before RocksDB writes them out as a sorted
	// file. At least 64 KiB. Default: 0, which means
	// DefaultWriteBufferSize (16 MiB).
	WriteBufferSize int64

	// MaxWriteBuffers is how many memtables a store may hold, the one being
	// written and those waiting to be written out; when they are all full
	// writes stall. At least 2. Default: 0, which means
	// DefaultMaxWriteBuffers (3).
	MaxWriteBuffers int

	// Compression compresses the blocks of the store's files. Default:
	// CompressionDefault, which means DefaultCompression (LZ4).
	Compression Compression

	// WriteAheadLog keeps RocksDB's write-ahead log. Default false, as in
	// Kafka Streams: the changelog topic already makes the store durable,
	// and the runtime never trusts a store after a crash (without the
	// checkpoint a clean close writes, it wipes the store and restores it
	// from the changelog), so the log would only cost a write per Put and a
	// sync per commit. Without it, Close writes the memtables to files, and
	// a crash loses what was only in memory. Set it when the store is used
	// without the runtime and must survive a crash on its own.
	WriteAheadLog bool

	// WriteBatchSize bounds the writes a store without a write-ahead log
	// keeps in Go memory before it applies them to RocksDB in one sorted
	// write batch, counted as key and value bytes plus about 64 bytes an
	// entry. The store applies them at every commit (Flush) anyway, before
	// every range loop and at Close; a key written many times between two
	// commits reaches RocksDB once. See the package doc for why this is
	// safe and what it buys. It has no effect with WriteAheadLog or under
	// exactly-once, where every write batch goes straight to RocksDB.
	// Default: 0, which means DefaultWriteBatchSize (16 MiB); a negative
	// value turns the buffering off, so that every write goes to RocksDB
	// when it is made.
	WriteBatchSize int64

	// SyncWrites, with WriteAheadLog, makes every write (Put, PutAll,
	// Write, Delete) wait until RocksDB has synced the log to stable
	// storage. Default false: a write returns once it is in the log in the
	// operating system's page cache (a crash of the process loses nothing;
	// a crash of the machine may lose the writes since the last Flush,
	// which syncs the log).
	SyncWrites bool
}

// Compression selects how the blocks of a store's files are compressed.
// The write-ahead log and the memtables are not compressed.
type Compression uint8

const (
	// CompressionDefault means DefaultCompression (LZ4).
	CompressionDefault Compression = iota
	// CompressionNone stores blocks uncompressed.
	CompressionNone
	// CompressionSnappy compresses with Snappy.
	CompressionSnappy
	// CompressionLZ4 compresses with LZ4.
	CompressionLZ4
	// CompressionZstd compresses with Zstandard: smaller files, more CPU.
	CompressionZstd
)

func (c Compression) String() string {
	switch c {
	case CompressionDefault:
		return "default"
	case CompressionNone:
		return "none"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

func (c Compression) native() grocksdb.CompressionType {
	switch c {
	case CompressionNone:
		return grocksdb.NoCompression
	case CompressionSnappy:
		return grocksdb.SnappyCompression
	case CompressionZstd:
		return grocksdb.ZSTDCompression
	}
	return grocksdb.LZ4Compression
}

// EnsureDefaults sets every zero field of o to its default. It does not
// create the default cache; a store does that when it is initialized.
func (o *Options) EnsureDefaults() {
	if o.WriteBufferSize == 0 {
		o.WriteBufferSize = DefaultWriteBufferSize
	}
	if o.MaxWriteBuffers == 0 {
		o.MaxWriteBuffers = DefaultMaxWriteBuffers
	}
	if o.Compression == CompressionDefault {
		o.Compression = DefaultCompression
	}
	if o.WriteBatchSize == 0 {
		o.WriteBatchSize = DefaultWriteBatchSize
	}
}

// Validate reports the first field of o that has an invalid value, as an
// *OptionsError. Zero fields are valid: they mean their defaults. A store's
// Init calls Validate; call it yourself to find a mistake while the topology
// is being built.
func (o Options) Validate() error {
	switch {
	case o.WriteBufferSize != 0 && o.WriteBufferSize < minWriteBufferSize:
		return &OptionsError{Field: "WriteBufferSize", Value: fmt.Sprint(o.WriteBufferSize),
			Want: "0 for the default (16 MiB) or at least 65536 (64 KiB)"}
	case o.MaxWriteBuffers != 0 && o.MaxWriteBuffers < 2:
		return &OptionsError{Field: "MaxWriteBuffers", Value: fmt.Sprint(o.MaxWriteBuffers),
			Want: "0 for the default (3) or at least 2"}
	case o.Compression > CompressionZstd:
		return &OptionsError{Field: "Compression", Value: o.Compression.String(),
			Want: "one of the Compression constants"}
	case o.SyncWrites && !o.WriteAheadLog:
		return &OptionsError{Field: "SyncWrites", Value: "true without WriteAheadLog",
			Want: "WriteAheadLog true as well: there is no log to sync without it"}
	case o.Cache != nil && o.Cache.closed():
		return &OptionsError{Field: "Cache", Value: "a closed Cache",
			Want: "an open Cache from NewCache, or nil for DefaultCache()"}
	}
	return nil
}

// OptionsError reports an invalid field of Options. Validate returns it, and
// so does a store's Init, wrapped.
type OptionsError struct {
	// Field is the name of the field, for example "WriteBufferSize".
	Field string
	// Value is the invalid value, formatted.
	Value string
	// Want says which values are valid.
	Want string
}

func (e *OptionsError) Error() string {
	return fmt.Sprintf("rocksdb: Options.%s is %s; want %s", e.Field, e.Value, e.Want)
}

// Cache is a block cache, an LRU cache of uncompressed blocks read from the
// stores' files, with a fixed capacity. Give the same Cache to the Options
// of every store that should share it; the stores of one app usually share
// one. It is safe for concurrent use.
type Cache struct {
	capacity int64

	mu struct {
		sync.RWMutex
		c *grocksdb.Cache // nil once closed
	}
}

// ErrCacheClosed is returned by NewCache's Cache methods that need the
// cache after its Close. A store whose Options name a closed Cache fails in
// Init with an *OptionsError instead.
var ErrCacheClosed = errors.New("rocksdb: cache closed")

// NewCache returns an LRU block cache of capacity bytes, which must be
// positive. Close it when no store will be initialized with it any more;
// stores already open keep using it until they close, so it is safe to
// Close it right after the stores have been initialized.
func NewCache(capacity int64) (*Cache, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("rocksdb: NewCache(%d): the capacity must be positive, in bytes", capacity)
	}
	c := &Cache{capacity: capacity}
	c.mu.c = grocksdb.NewLRUCache(uint64(capacity))
	return c, nil
}

var defaultCache struct {
	once sync.Once
	c    *Cache
}

// DefaultCache returns the process-wide block cache of DefaultCacheSize
// bytes used by every store whose Options.Cache is nil. It is created on
// first use and never closed; closing it does nothing.
func DefaultCache() *Cache {
	defaultCache.once.Do(func() {
		c, err := NewCache(DefaultCacheSize)
		if err != nil {
			panic(err) // a positive constant: unreachable
		}
		defaultCache.c = c
	})
	return defaultCache.c
}

// Capacity is the capacity the cache was created with, in bytes.
func (c *Cache) Capacity() int64 { return c.capacity }

// Usage is how many bytes the cache holds now, or 0 once it is closed.
func (c *Cache) Usage() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.c == nil {
		return 0
	}
	return int64(c.mu.c.GetUsage())
}

// Close releases this handle of the cache. Stores that are already open
// hold their own reference and keep the cache until they close; a store
// initialized afterwards with this Cache fails. Close is idempotent. Closing
// DefaultCache() does nothing.
func (c *Cache) Close() {
	if c == defaultCache.c {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.c != nil {
		c.mu.c.Destroy()
		c.mu.c = nil
	}
}

func (c *Cache) closed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.mu.c == nil
}

// nativeOptions are the RocksDB options of one database. They must outlive
// it: destroy them after closing it.
type nativeOptions struct {
	db    *grocksdb.Options
	table *grocksdb.BlockBasedTableOptions
}

func (n nativeOptions) destroy() {
	n.db.Destroy()
	n.table.Destroy()
}

// newNativeOptions translates o, with defaults filled in and validated, to
// RocksDB options. The benchmarks open their raw databases with it too, so
// that both sides are configured alike.
func newNativeOptions(o Options) (nativeOptions, error) {
	cache := o.Cache
	if cache == nil {
		cache = DefaultCache()
	}
	table := grocksdb.NewDefaultBlockBasedTableOptions()
	// Hold the cache's lock while RocksDB copies its reference, so that a
	// concurrent Close cannot free it in between.
	cache.mu.RLock()
	if cache.mu.c == nil {
		cache.mu.RUnlock()
		table.Destroy()
		return nativeOptions{}, &OptionsError{Field: "Cache", Value: "a closed Cache",
			Want: "an open Cache from NewCache, or nil for DefaultCache()"}
	}
	table.SetBlockCache(cache.mu.c)
	cache.mu.RUnlock()
	// Index and filter blocks go through the cache too, so that the cache's
	// capacity bounds them; the level-0 ones, read by every lookup, stay
	// pinned.
	table.SetCacheIndexAndFilterBlocks(true)
	table.SetPinL0FilterAndIndexBlocksInCache(true)
	// A Bloom filter spares most lookups of absent keys (PutIfAbsent,
	// first counts) a block read, as in Kafka Streams.
	table.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))

	db := grocksdb.NewDefaultOptions()
	db.SetCreateIfMissing(true)
	db.SetBlockBasedTableFactory(table)
	db.SetWriteBufferSize(uint64(o.WriteBufferSize))
	db.SetMaxWriteBufferNumber(o.MaxWriteBuffers)
	db.SetCompression(o.Compression.native())
	// RocksDB keeps 1000 info logs by default; a few are plenty here.
	db.SetKeepLogFileNum(3)
	db.SetMaxLogFileSize(4 << 20)
	return nativeOptions{db: db, table: table}, nil
}
