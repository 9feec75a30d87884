// Package kstream is the Streams DSL: Kafka Streams' KStream and KTable
// API, typed, compiling to a *topology.Topology that streams.App and the
// test driver run unchanged.
//
// The core types:
//
//   - StreamsBuilder: starts chains with Stream (a record stream) and
//     Table (a changelog table) and builds the topology with Build.
//   - KStream[K, V]: a stream of events. Filter, Peek, Merge, Split, To,
//     GroupByKey and Repartition are methods; operations that change the key
//     or value type are functions, because Go methods take no type
//     parameters: MapValues(s, f), Map, FlatMap, FlatMapValues, SelectKey,
//     GroupBy, Process, ProcessValues. A chain whose types do not fit does
//     not compile.
//   - KTable[K, V]: the latest value of each key. It forwards each update
//     as a Change, old value and new; ToStream makes a stream of the new
//     values. Aggregations (Count, Reduce, Aggregate on a KGroupedStream or
//     a KGroupedTable, windowed with WindowedBy, WindowedBySliding and
//     WindowedBySession) are tables kept in state stores, queryable under
//     their Materialized.Name with streams.QueryKeyValue, QueryWindow and
//     QuerySession. Suppress holds a table's updates back until its windows
//     close or for a time.
//   - GlobalKTable[K, V]: a table read whole, every partition of its topic,
//     on every instance (GlobalTable). A stream joins it with JoinGlobal and
//     LeftJoinGlobal by a key computed from each record, with no
//     repartition and no co-partitioning.
//   - Join, LeftJoin and OuterJoin join two KStreams by key within
//     window.JoinWindows, as Kafka Streams' stream-stream joins: each
//     record meets the other stream's records of its key within the
//     window. A left or outer join gives a record that met nothing its
//     result (the other side missing: zero, with a false flag) once its
//     window has closed, from a change-logged store, so a restart neither
//     loses nor repeats it. StreamJoined names the join and its stores and
//     picks their backends. A side whose key may have changed is
//     repartitioned first.
//
// # Joins
//
// Every joiner takes the key first, then the values, and each value that
// may be missing (the right side of a left join, either side of an outer
// join) comes with a flag that says whether it is there: a missing value
// is its type's zero, so the flag, not the value, tells a missing row from
// an empty one.
//
// JoinTable and LeftJoinTable join each record of a stream to the row of a
// table with its key (a repartition first if the stream's key changed).
// A table materialized with Materialized.Versioned keeps its rows'
// versions, and a stream record then meets the row as it was at the
// record's time, whatever order the table's updates came in; with
// Joined.GracePeriod the join holds stream records back and joins them in
// timestamp order, so that a table update that comes a little late still
// counts. streams.QueryVersioned reads a versioned table as of any time.
//
// # Table joins
//
// TableJoin, TableLeftJoin and TableOuterJoin join two co-partitioned
// tables on their key; ForeignKeyJoin and ForeignKeyLeftJoin join each row
// of a table with the row of another whose key a function of its value
// gives (Kafka Streams' foreign-key join), through two internal topics, so
// that the tables need not be co-partitioned. Both kinds keep their
// result up to date as either side changes, deletes included, and forward
// old values, so an aggregation of the result (GroupByTable) stays right.
//
// # Names
//
// Every node, store and internal topic is named as Kafka Streams names it:
// an operation's prefix and a counter that nodes and stores share
// (KSTREAM-SOURCE-0000000000, KSTREAM-AGGREGATE-STATE-STORE-0000000003),
// and repartition topics after the store or the Grouped name
// ("<application.id>-counts-store-repartition"). Named, Consumed.Name,
// Produced.Name, Grouped.Name, Materialized.Name and Suppressed.WithName
// name an operation instead. So Describe prints, for the same program, what
// Kafka Streams' describe() prints, and a Kafka Streams application ported
// to Go keeps its internal topics and state.
//
// # Serdes
//
// Go has no default serde. Consumed gives a chain its serdes; they carry
// over where an operation keeps a type, and the stock serdes (string,
// []byte, int64, int32, float64, bool) are taken where a new type is one of
// those. An operation that needs a serde it does not have (a repartition,
// a store, a sink) makes Build fail with an error that names it and the
// option to give the serde in.
//
// # Nulls
//
// A nil value on a table's topic deletes its key; the user's serde never
// sees it. Records with a nil key (of a pointer, slice, map or interface
// type) are dropped where Kafka Streams drops null keys: before a
// repartition, a table and an aggregation; aggregations drop nil values
// too. A table's deletion reaches ToStream as the zero value, which for a
// pointer value type with serde.Nullable is a Kafka tombstone.
//
// # The Processor API, and back
//
// Process and ProcessValues run a Processor API processor, with stores, in
// the middle of a chain; StreamsBuilder.Builder is the topology.Builder
// underneath, and FromNode turns one of its nodes back into a KStream.
//
// # Errors
//
// A function given to an operation that panics fails the task with a
// *FunctionPanicError naming the processor, the function and the record,
// which the app's handlers see like any processing error.
package kstream
