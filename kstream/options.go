package kstream

import (
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// Consumed says how Stream and Table read their topics.
type Consumed[K, V any] struct {
	// KeySerde and ValueSerde decode the records. Required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// TimestampExtractor gives each record its event time. Default: the
	// record's timestamp.
	TimestampExtractor topology.TimestampExtractor[K, V]
	// OffsetReset applies to partitions with no committed offset. Default:
	// the app's setting.
	OffsetReset topology.OffsetReset
	// Name names the source node in place of KSTREAM-SOURCE-….
	Name string
}

// Produced says how To writes a topic. A zero Produced uses the stream's
// serdes, where they are known.
type Produced[K, V any] struct {
	// KeySerde and ValueSerde encode the records. Default: the stream's,
	// which it has when its types come from a Consumed, Grouped or
	// Materialized without a change since.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks each record's partition. Default: murmur2 of the
	// serialized key, as Kafka's clients do.
	Partitioner topology.Partitioner[K, V]
	// Name names the sink node in place of KSTREAM-SINK-….
	Name string
}

// Grouped says how GroupBy and GroupByKey group a stream: the serdes of the
// repartition topic, when one is needed, and its name.
type Grouped[K, V any] struct {
	// KeySerde and ValueSerde encode the repartition topic's records.
	// Default: the stream's serdes.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Name names the repartition topic, "<application.id>-<Name>-repartition",
	// and its nodes. Default: the aggregation's store name.
	Name string
}

// Repartitioned configures KStream.Repartition.
type Repartitioned[K, V any] struct {
	// KeySerde and ValueSerde encode the topic's records. Default: the
	// stream's serdes.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks each record's partition. Default: murmur2 of the
	// serialized key.
	Partitioner topology.Partitioner[K, V]
	// Partitions is the topic's partition count. Default 0: as many as the
	// sub-topology that writes it reads.
	Partitions int
	// Name names the topic "<application.id>-<Name>-repartition" and its
	// nodes. Default: generated (KSTREAM-REPARTITION-…).
	Name string
}

// KeyValueStoreFunc makes the bytes store of a materialized table or
// aggregation named name: state.InMemoryKeyValueStore (the default) or a
// persistent one, such as
//
//	func(name string) state.KeyValueBytesStoreSupplier {
//		return rocksdb.KeyValueStore(name, rocksdb.Options{})
//	}
type KeyValueStoreFunc func(name string) state.KeyValueBytesStoreSupplier

// Materialized says how a table or an aggregation keeps its state store.
// Every aggregation has a store; Name makes it queryable under that name
// (streams.QueryKeyValue, QueryWindow, QuerySession). A zero Materialized
// is an in-memory, change-logged, uncached store with a generated name and
// the serdes the operation knows.
type Materialized[K, V any] struct {
	// Name is the store's name, and so its changelog topic's,
	// "<application.id>-<Name>-changelog". Default: generated, as Kafka
	// Streams does (KSTREAM-AGGREGATE-STATE-STORE-0000000003).
	Name string
	// KeySerde and ValueSerde encode the store's keys and values. Default:
	// the operation's (the stream's key serde; for Count, serde.Int64).
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// KeyValueStore makes a key-value store. Default: in memory.
	KeyValueStore KeyValueStoreFunc
	// WindowStore and SessionStore make the stores of windowed
	// aggregations. Default: in memory.
	WindowStore  window.WindowStoreFunc
	SessionStore window.SessionStoreFunc
	// Caching keeps the store's writes in its cache until each commit, so
	// that its changelog gets one record per key per commit
	// (state.Builder.WithCaching). Unlike Kafka Streams' cache it does not
	// hold back what the table forwards: every update still flows
	// downstream as it happens. Default off. Key-value stores only.
	Caching bool
	// LoggingDisabled turns off the store's changelog: its state is lost
	// with the instance and rebuilt from nothing.
	LoggingDisabled bool
	// LogConfig is the changelog topic's configuration (for example
	// "min.insync.replicas").
	LogConfig map[string]string
	// Versioned makes a table's store a versioned store
	// (state.NewVersionedKeyValueStoreBuilder on the KeyValueStore
	// supplier) that keeps each row's versions for HistoryRetention
	// behind its stream time, queryable with streams.QueryVersioned: a
	// stream joined to the table meets each row as it was at the stream
	// record's time. An update older than the latest version of its row
	// is stored in the history but changes nothing downstream; one older
	// than the history is dropped. Tables read with Table or made with
	// ToTable only. Default off.
	Versioned bool
	// HistoryRetention is how far back a versioned store answers; the
	// Kafka Streams' grace period of the table too. Default 0: only the
	// latest versions.
	HistoryRetention time.Duration
	// Named names an aggregation's processor in place of
	// KSTREAM-AGGREGATE-… (Kafka Streams' Named argument of count, reduce
	// and aggregate; a grouped table's repartition nodes become
	// "<Named>-sink" and "<Named>-source"), or a table-table join's (its
	// merge, "<Named>-join-this" and "<Named>-join-other"). It does not
	// name the store, and a join's Materialized that sets nothing else keeps
	// no store.
	Named Named
}

// storeName is m's store name, or a new one with prefix.
func (m Materialized[K, V]) storeName(sb *StreamsBuilder, prefix string) string {
	if m.Name != "" {
		return m.Name
	}
	return sb.newStoreName(prefix)
}

// keyValueSupplier is the supplier of m's key-value store named name.
func (m Materialized[K, V]) keyValueSupplier(name string) state.KeyValueBytesStoreSupplier {
	if m.KeyValueStore != nil {
		return m.KeyValueStore(name)
	}
	return state.InMemoryKeyValueStore(name)
}

// keyValueStore is the timestamped key-value store builder of m, named
// name, with its serdes.
func (m Materialized[K, V]) keyValueStore(name string, ks serde.Serde[K], vs serde.Serde[V]) *state.Builder[state.TimestampedKeyValueStore[K, V]] {
	return withOptions(state.NewTimestampedKeyValueStoreBuilder(m.keyValueSupplier(name), ks, vs), m)
}

// withOptions sets m's caching and logging on b.
func withOptions[S state.Store, K, V any](b *state.Builder[S], m Materialized[K, V]) *state.Builder[S] {
	if m.Caching {
		b.WithCaching()
	}
	switch {
	case m.LoggingDisabled:
		b.WithLoggingDisabled()
	case m.LogConfig != nil:
		b.WithLoggingEnabled(m.LogConfig)
	}
	return b
}

// versionedStore is the versioned store builder of m, named name, with
// its serdes.
func (m Materialized[K, V]) versionedStore(name string, ks serde.Serde[K], vs serde.Serde[V]) *state.Builder[state.VersionedKeyValueStore[K, V]] {
	return withOptions(state.NewVersionedKeyValueStoreBuilder(m.keyValueSupplier(name), m.HistoryRetention, ks, vs), m)
}

// Predicate is a record filter.
type Predicate[K, V any] func(key K, value V) bool

// asksForStore says whether m asks for a table's store: a name (to query
// it) or a store of its own. As in Kafka Streams, a Materialized that only
// gives serdes does not: the table is kept only if an operation needs it.
func (m Materialized[K, V]) asksForStore() bool {
	return m.Name != "" || m.KeyValueStore != nil || m.Versioned
}
