package state

import (
	"maps"
	"strconv"
	"time"

	"github.com/gostreams/streams/serde"
)

// mustNotBeNil panics with a message naming the constructor: a missing
// supplier or serde is a wiring mistake that must show up when the topology
// is built, not later on a task's goroutine.
func mustNotBeNil(ctor string, supplier KeyValueBytesStoreSupplier, keyNil, valueNil bool) {
	switch {
	case supplier == nil:
		panic("state: " + ctor + ": nil supplier; pass InMemoryKeyValueStore(name) or a persistent supplier")
	case keyNil:
		panic("state: " + ctor + ": nil key serde")
	case valueNil:
		panic("state: " + ctor + ": nil value serde")
	}
}

// Builder builds stores of type S, for example KeyValueStore[K, V], and
// records the settings the runtime applies to them: change-logging and
// caching. It is the StoreBuilder that topology.Builder.AddStateStore takes.
// Create one with NewKeyValueStoreBuilder or
// NewTimestampedKeyValueStoreBuilder.
//
// Configure a builder while the topology is being built, from one
// goroutine; once configured, Build and the getters are safe for concurrent
// use.
type Builder[S Store] struct {
	name        string
	build       func() S
	logging     bool
	logConfig   map[string]string
	caching     bool
	timestamped bool
	versioned   bool
	history     time.Duration // of a versioned store
}

var _ StoreBuilder = (*Builder[KeyValueStore[string, int64]])(nil)

func newBuilder[S Store](name string, build func() S) *Builder[S] {
	return &Builder[S]{name: name, build: build, logging: true}
}

// backendFor returns a new backend from supplier, under the change-logging
// layer when b logs, under the caching layer when b caches.
func (b *Builder[S]) backendFor(supplier KeyValueBytesStoreSupplier) KeyValueBytesStore {
	inner := supplier.Get()
	if b.logging {
		inner = newLoggedStore(inner)
	}
	// The caching layer is always there: under ExactlyOnce it keeps every
	// store's writes until the commit; otherwise, without caching, it
	// passes calls through.
	return newCachedStore(inner, b.caching)
}

// NewKeyValueStoreBuilder returns a builder of KeyValueStore[K,V] stores
// named supplier.Name(), whose keys and values are written with keySerde and
// valueSerde. The order of Range and PrefixScan is the byte order of
// keySerde's output. Defaults: change-logging enabled with no extra topic
// configuration, caching disabled.
//
// It panics if supplier or a serde is nil.
func NewKeyValueStoreBuilder[K, V any](supplier KeyValueBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *Builder[KeyValueStore[K, V]] {
	mustNotBeNil("NewKeyValueStoreBuilder", supplier, keySerde == nil, valueSerde == nil)
	var b *Builder[KeyValueStore[K, V]]
	b = newBuilder(supplier.Name(), func() KeyValueStore[K, V] {
		return newKeyValueStore(b.backendFor(supplier), keySerde, valueSerde)
	})
	return b
}

// NewTimestampedKeyValueStoreBuilder returns a builder of
// TimestampedKeyValueStore[K,V] stores named supplier.Name(). Keys are
// written with keySerde. A ValueAndTimestamp is written as its timestamp in
// Unix milliseconds, 8 bytes big-endian, followed by valueSerde's bytes for
// the value, as in Kafka Streams: timestamps are kept with millisecond
// precision and read back in UTC. Defaults: change-logging enabled with no
// extra topic configuration, caching disabled.
//
// It panics if supplier or a serde is nil.
func NewTimestampedKeyValueStoreBuilder[K, V any](supplier KeyValueBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *Builder[TimestampedKeyValueStore[K, V]] {
	mustNotBeNil("NewTimestampedKeyValueStoreBuilder", supplier, keySerde == nil, valueSerde == nil)
	vs := newTimestampedSerde(valueSerde)
	var b *Builder[TimestampedKeyValueStore[K, V]]
	b = newBuilder(supplier.Name(), func() TimestampedKeyValueStore[K, V] {
		return newKeyValueStore[K, ValueAndTimestamp[V]](b.backendFor(supplier), keySerde, vs)
	})
	b.timestamped = true
	return b
}

// Timestamped reports whether the stores keep each value's timestamp with
// it (NewTimestampedKeyValueStoreBuilder): their bytes are the timestamp, 8
// bytes big-endian Unix milliseconds, then the value serde's bytes.
func (b *Builder[S]) Timestamped() bool { return b.timestamped }

// Name is the name every built store has.
func (b *Builder[S]) Name() string { return b.name }

// Build returns a new, unopened store on a fresh backend. Its dynamic type
// implements S, which is what processor.GetStore asserts.
func (b *Builder[S]) Build() Store { return b.build() }

// BuildStore is Build, typed.
func (b *Builder[S]) BuildStore() S { return b.build() }

// WithLoggingEnabled turns on change-logging, with topicConfig added to the
// changelog topic's configuration (the map is copied). Logging is enabled by
// default, with no extra configuration. It returns b.
func (b *Builder[S]) WithLoggingEnabled(topicConfig map[string]string) *Builder[S] {
	b.logging = true
	b.logConfig = maps.Clone(topicConfig)
	return b
}

// WithLoggingDisabled turns off change-logging and forgets any topic
// configuration: the store is then not restored after a restart or a
// rebalance. Logging is enabled by default. It returns b.
func (b *Builder[S]) WithLoggingDisabled() *Builder[S] {
	b.logging = false
	b.logConfig = nil
	return b
}

// WithCaching turns on caching: the stores keep their writes in memory
// until the task commits, so repeated writes to a key between commits reach
// the backend and the changelog topic once, with the last value, and
// recently read values are served from memory. A cache holds at most
// Config.StoreCacheMaxBytes (StoreContext.CacheMaxBytes); when writes fill
// it, it writes them down before the commit. Interactive queries read what
// was written down, never the cache. Caching is disabled by default. It
// returns b.
func (b *Builder[S]) WithCaching() *Builder[S] {
	b.caching = true
	return b
}

// WithCachingDisabled turns off caching, the default. It returns b.
func (b *Builder[S]) WithCachingDisabled() *Builder[S] {
	b.caching = false
	return b
}

// LoggingEnabled reports whether the stores' changes go to the changelog
// topic. Default true.
func (b *Builder[S]) LoggingEnabled() bool { return b.logging }

// LogConfig returns a copy of the extra changelog topic configuration; empty
// by default and when logging is disabled, except that a versioned store's
// has min.compaction.lag.ms = history retention +
// ChangelogAdditionalRetention unless it was set. It never returns nil, so a caller
// may add to the copy.
func (b *Builder[S]) LogConfig() map[string]string {
	c := make(map[string]string, len(b.logConfig))
	maps.Copy(c, b.logConfig)
	if _, ok := c["min.compaction.lag.ms"]; b.versioned && b.logging && !ok {
		// Compaction keeps a key's latest record only: the versions
		// must stay for as long as the store answers for them.
		c["min.compaction.lag.ms"] = strconv.FormatInt((b.history + ChangelogAdditionalRetention).Milliseconds(), 10)
	}
	return c
}

// CachingEnabled reports whether caching is on. Default false.
func (b *Builder[S]) CachingEnabled() bool { return b.caching }
