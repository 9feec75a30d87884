// Package serde turns keys and values into bytes and back.
//
// A [Serde] is one type's codec: Name for error messages, Serialize and
// Deserialize. Every topic, repartition topic, changelog and state store is
// declared with a key serde and a value serde. The package provides the stock
// ones:
//
//   - [String] and [Bytes] pass bytes through;
//   - [Int32], [Int64], [Float64] and [Bool] are fixed-size and
//     order-preserving (below);
//   - [JSON] encodes any Go type with encoding/json;
//   - [New] builds a Serde from two funcs, and [Nullable] adds Kafka nulls
//     (tombstones) to any Serde.
//
// # Errors
//
// Deserialize never panics on bad input. Every stock serde returns an
// [*Error] that names the serde and the operation; when the bytes are not a
// valid encoding (wrong length, bad JSON, a bool byte other than 0 or 1) the
// error wraps [ErrMalformed], so the runtime can send the record to the
// deserialization error handler instead of stopping:
//
//	if errors.Is(err, serde.ErrMalformed) { ... }
//
// # Order-preserving numbers
//
// Range scans over a state store, and the order of its iterators, follow the
// byte order of the serialized keys (bytes.Compare), not the order of the Go
// values. The numeric serdes therefore encode so that byte order is numeric
// order. Int32 and Int64 are big-endian two's complement with the sign bit
// flipped, so -1 (0x7f…ff) sorts just before 0 (0x80…00). Float64 flips the
// sign bit of a non-negative float and inverts every bit of a negative one,
// so that
//
//	-Inf < -1 < -0 < +0 < 1 < +Inf
//
// holds for the encodings too. A store keyed by Int64 timestamps or Float64
// prices can then be range-scanned in numeric order.
//
// The price is compatibility: these encodings differ from Kafka's
// LongSerializer, IntegerSerializer and DoubleSerializer in the top bit (all
// bits, for negative doubles). Keep them for keys of stores and internal
// topics; for topics that other clients read, use a string or JSON serde, or
// a Kafka-compatible one built with [New].
//
// # Nulls and tombstones
//
// Kafka distinguishes a null value from an empty one. A null value is a
// tombstone: it deletes its key from a compacted topic, a changelog and the
// store it restores. The plain serdes have no value for null: the fixed-size
// ones and JSON reject nil bytes as malformed rather than invent a zero value,
// and String reads nil as "". Wrap a value serde in [Nullable] to get a
// Serde[*T] in which nil means null both ways, so a processor can forward a
// deletion and see one:
//
//	values := serde.Nullable(serde.JSON[Order]())
//	b, _ := values.Serialize(nil) // b == nil: a tombstone
package serde
