package state

import (
	"maps"

	"github.com/gostreams/streams/serde"
)

// storeSettings are the runtime settings both builders record.
type storeSettings struct {
	logging   bool
	logConfig map[string]string
	caching   bool
}

func defaultSettings() storeSettings { return storeSettings{logging: true} }

func (s *storeSettings) enableLogging(topicConfig map[string]string) {
	s.logging = true
	s.logConfig = maps.Clone(topicConfig)
}

func (s *storeSettings) disableLogging() {
	s.logging = false
	s.logConfig = nil
}

// copyLogConfig never returns nil, so a caller may add to the copy.
func (s *storeSettings) copyLogConfig() map[string]string {
	c := make(map[string]string, len(s.logConfig))
	maps.Copy(c, s.logConfig)
	return c
}

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

// KeyValueStoreBuilder builds KeyValueStore[K,V] stores over the backend a
// KeyValueBytesStoreSupplier makes. Create one with NewKeyValueStoreBuilder.
//
// Configure a builder while the topology is being built, from one
// goroutine; once configured, Build and the getters are safe for concurrent
// use.
type KeyValueStoreBuilder[K, V any] struct {
	supplier   KeyValueBytesStoreSupplier
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	settings   storeSettings
}

var _ StoreBuilder = (*KeyValueStoreBuilder[string, int64])(nil)

// NewKeyValueStoreBuilder returns a builder of KeyValueStore[K,V] stores
// named supplier.Name(), whose keys and values are written with keySerde and
// valueSerde. The order of Range and PrefixScan is the byte order of
// keySerde's output. Defaults: change-logging enabled with no extra topic
// configuration, caching disabled.
//
// It panics if supplier or a serde is nil.
func NewKeyValueStoreBuilder[K, V any](supplier KeyValueBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *KeyValueStoreBuilder[K, V] {
	mustNotBeNil("NewKeyValueStoreBuilder", supplier, keySerde == nil, valueSerde == nil)
	return &KeyValueStoreBuilder[K, V]{
		supplier:   supplier,
		keySerde:   keySerde,
		valueSerde: valueSerde,
		settings:   defaultSettings(),
	}
}

// Name is the supplier's name, which every built store has.
func (b *KeyValueStoreBuilder[K, V]) Name() string { return b.supplier.Name() }

// Build returns a new, unopened store on a fresh backend from the supplier.
// Its dynamic type implements KeyValueStore[K,V]:
//
//	kv := builder.Build().(state.KeyValueStore[string, int64])
func (b *KeyValueStoreBuilder[K, V]) Build() Store {
	return newKeyValueStore(b.supplier.Get(), b.keySerde, b.valueSerde)
}

// WithLoggingEnabled turns on change-logging, with topicConfig added to the
// changelog topic's configuration (the map is copied). Logging is enabled by
// default, with no extra configuration. It returns b.
func (b *KeyValueStoreBuilder[K, V]) WithLoggingEnabled(topicConfig map[string]string) *KeyValueStoreBuilder[K, V] {
	b.settings.enableLogging(topicConfig)
	return b
}

// WithLoggingDisabled turns off change-logging and forgets any topic
// configuration: the store is then not restored after a restart or a
// rebalance. Logging is enabled by default. It returns b.
func (b *KeyValueStoreBuilder[K, V]) WithLoggingDisabled() *KeyValueStoreBuilder[K, V] {
	b.settings.disableLogging()
	return b
}

// WithCaching turns on caching: repeated writes to a key between commits
// are collapsed into one. Caching is disabled by default. It returns b.
func (b *KeyValueStoreBuilder[K, V]) WithCaching() *KeyValueStoreBuilder[K, V] {
	b.settings.caching = true
	return b
}

// WithCachingDisabled turns off caching, the default. It returns b.
func (b *KeyValueStoreBuilder[K, V]) WithCachingDisabled() *KeyValueStoreBuilder[K, V] {
	b.settings.caching = false
	return b
}

// LoggingEnabled reports whether the stores' changes go to the changelog
// topic. Default true.
func (b *KeyValueStoreBuilder[K, V]) LoggingEnabled() bool { return b.settings.logging }

// LogConfig returns a copy of the extra changelog topic configuration; empty
// by default and when logging is disabled.
func (b *KeyValueStoreBuilder[K, V]) LogConfig() map[string]string {
	return b.settings.copyLogConfig()
}

// CachingEnabled reports whether caching is on. Default false.
func (b *KeyValueStoreBuilder[K, V]) CachingEnabled() bool { return b.settings.caching }

// TimestampedKeyValueStoreBuilder builds TimestampedKeyValueStore[K,V]
// stores. Create one with NewTimestampedKeyValueStoreBuilder.
//
// Configure a builder while the topology is being built, from one
// goroutine; once configured, Build and the getters are safe for concurrent
// use.
type TimestampedKeyValueStoreBuilder[K, V any] struct {
	supplier   KeyValueBytesStoreSupplier
	keySerde   serde.Serde[K]
	valueSerde timestampedSerde[V]
	settings   storeSettings
}

var _ StoreBuilder = (*TimestampedKeyValueStoreBuilder[string, int64])(nil)

// NewTimestampedKeyValueStoreBuilder returns a builder of
// TimestampedKeyValueStore[K,V] stores named supplier.Name(). Keys are
// written with keySerde. A ValueAndTimestamp is written as its timestamp in
// Unix milliseconds, 8 bytes big-endian, followed by valueSerde's bytes for
// the value, as in Kafka Streams: timestamps are kept with millisecond
// precision and read back in UTC. Defaults: change-logging enabled with no
// extra topic configuration, caching disabled.
//
// It panics if supplier or a serde is nil.
func NewTimestampedKeyValueStoreBuilder[K, V any](supplier KeyValueBytesStoreSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *TimestampedKeyValueStoreBuilder[K, V] {
	mustNotBeNil("NewTimestampedKeyValueStoreBuilder", supplier, keySerde == nil, valueSerde == nil)
	return &TimestampedKeyValueStoreBuilder[K, V]{
		supplier:   supplier,
		keySerde:   keySerde,
		valueSerde: newTimestampedSerde(valueSerde),
		settings:   defaultSettings(),
	}
}

// Name is the supplier's name, which every built store has.
func (b *TimestampedKeyValueStoreBuilder[K, V]) Name() string { return b.supplier.Name() }

// Build returns a new, unopened store on a fresh backend from the supplier.
// Its dynamic type implements TimestampedKeyValueStore[K,V]:
//
//	kv := builder.Build().(state.TimestampedKeyValueStore[string, int64])
func (b *TimestampedKeyValueStoreBuilder[K, V]) Build() Store {
	return newKeyValueStore[K, ValueAndTimestamp[V]](b.supplier.Get(), b.keySerde, b.valueSerde)
}

// WithLoggingEnabled turns on change-logging, with topicConfig added to the
// changelog topic's configuration (the map is copied). Logging is enabled by
// default, with no extra configuration. It returns b.
func (b *TimestampedKeyValueStoreBuilder[K, V]) WithLoggingEnabled(topicConfig map[string]string) *TimestampedKeyValueStoreBuilder[K, V] {
	b.settings.enableLogging(topicConfig)
	return b
}

// WithLoggingDisabled turns off change-logging and forgets any topic
// configuration: the store is then not restored after a restart or a
// rebalance. Logging is enabled by default. It returns b.
func (b *TimestampedKeyValueStoreBuilder[K, V]) WithLoggingDisabled() *TimestampedKeyValueStoreBuilder[K, V] {
	b.settings.disableLogging()
	return b
}

// WithCaching turns on caching: repeated writes to a key between commits
// are collapsed into one. Caching is disabled by default. It returns b.
func (b *TimestampedKeyValueStoreBuilder[K, V]) WithCaching() *TimestampedKeyValueStoreBuilder[K, V] {
	b.settings.caching = true
	return b
}

// WithCachingDisabled turns off caching, the default. It returns b.
func (b *TimestampedKeyValueStoreBuilder[K, V]) WithCachingDisabled() *TimestampedKeyValueStoreBuilder[K, V] {
	b.settings.caching = false
	return b
}

// LoggingEnabled reports whether the stores' changes go to the changelog
// topic. Default true.
func (b *TimestampedKeyValueStoreBuilder[K, V]) LoggingEnabled() bool { return b.settings.logging }

// LogConfig returns a copy of the extra changelog topic configuration; empty
// by default and when logging is disabled.
func (b *TimestampedKeyValueStoreBuilder[K, V]) LogConfig() map[string]string {
	return b.settings.copyLogConfig()
}

// CachingEnabled reports whether caching is on. Default false.
func (b *TimestampedKeyValueStoreBuilder[K, V]) CachingEnabled() bool { return b.settings.caching }
