package serde

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

type stringSerde struct{}

// String returns the UTF-8 string serde. Any byte sequence decodes; a nil
// slice decodes to "". Serialize never returns nil, not even for "", so an
// empty string is never mistaken for a tombstone.
func String() Serde[string] { return stringSerde{} }

func (stringSerde) Name() string                       { return "string" }
func (stringSerde) Serialize(v string) ([]byte, error) { return []byte(v), nil }
func (stringSerde) AppendSerialize(dst []byte, v string) ([]byte, error) {
	return append(dst, v...), nil
}
func (stringSerde) Deserialize(data []byte) (string, error) { return string(data), nil }

type bytesSerde struct{}

// Bytes returns the pass-through serde for raw bytes. Both directions copy,
// so the result stays valid after the caller reuses its buffer, and both keep
// nil and empty apart: nil is a Kafka null (tombstone), []byte{} is an empty
// value.
func Bytes() Serde[[]byte] { return bytesSerde{} }

func (bytesSerde) Name() string { return "bytes" }

// bytes.Clone, unlike append([]byte(nil), v...), returns a non-nil slice for
// an empty non-nil input, which keeps an empty value from turning into a
// tombstone.
func (bytesSerde) Serialize(v []byte) ([]byte, error)      { return bytes.Clone(v), nil }
func (bytesSerde) Deserialize(data []byte) ([]byte, error) { return bytes.Clone(data), nil }

type int64Serde struct{}

// Int64 returns the serde for int64: 8 bytes, big-endian, with the sign bit
// flipped so that the byte order of encodings is the numeric order (range
// scans over int64 keys come back in numeric order). The flipped top bit
// makes it byte-incompatible with Kafka's LongSerializer: use a string or
// JSON value serde for topics that other clients read.
//
// Deserialize rejects any input that is not exactly 8 bytes with an *Error
// wrapping ErrMalformed.
func Int64() Serde[int64] { return int64Serde{} }

func (int64Serde) Name() string { return "int64" }
func (s int64Serde) Serialize(v int64) ([]byte, error) {
	return s.AppendSerialize(make([]byte, 0, 8), v)
}
func (int64Serde) AppendSerialize(dst []byte, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63)), nil
}
func (int64Serde) Deserialize(data []byte) (int64, error) {
	if len(data) != 8 {
		return 0, wrongLength("int64", 8, len(data))
	}
	return int64(binary.BigEndian.Uint64(data) ^ (1 << 63)), nil
}

type int32Serde struct{}

// Int32 returns the serde for int32: 4 bytes, big-endian, with the sign bit
// flipped so that the byte order of encodings is the numeric order, as for
// Int64. It is byte-incompatible with Kafka's IntegerSerializer for the same
// reason.
//
// Deserialize rejects any input that is not exactly 4 bytes with an *Error
// wrapping ErrMalformed.
func Int32() Serde[int32] { return int32Serde{} }

func (int32Serde) Name() string { return "int32" }
func (s int32Serde) Serialize(v int32) ([]byte, error) {
	return s.AppendSerialize(make([]byte, 0, 4), v)
}
func (int32Serde) AppendSerialize(dst []byte, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)^(1<<31)), nil
}
func (int32Serde) Deserialize(data []byte) (int32, error) {
	if len(data) != 4 {
		return 0, wrongLength("int32", 4, len(data))
	}
	return int32(binary.BigEndian.Uint32(data) ^ (1 << 31)), nil
}

type float64Serde struct{}

// Float64 returns the serde for float64: 8 bytes, big-endian, in an
// order-preserving form of the IEEE 754 bits. A non-negative float has its
// sign bit flipped; a negative float has all its bits inverted. The byte
// order of encodings is then the numeric order:
//
//	-NaN < -Inf < ... < -1 < -0 < +0 < 1 < ... < +Inf < +NaN
//
// -0 and +0 keep distinct encodings (-0 sorts just below +0), and every NaN
// round-trips with its payload intact. The mapping is a bijection on 8-byte
// strings, so Deserialize accepts any 8 bytes.
//
// This is not byte-compatible with Kafka's DoubleSerializer, which writes the
// raw IEEE 754 bits: use a string or JSON value serde for topics that other
// clients read.
//
// Deserialize rejects any input that is not exactly 8 bytes with an *Error
// wrapping ErrMalformed.
func Float64() Serde[float64] { return float64Serde{} }

func (float64Serde) Name() string { return "float64" }
func (s float64Serde) Serialize(v float64) ([]byte, error) {
	return s.AppendSerialize(make([]byte, 0, 8), v)
}
func (float64Serde) AppendSerialize(dst []byte, v float64) ([]byte, error) {
	b := math.Float64bits(v)
	if b&(1<<63) == 0 {
		b ^= 1 << 63 // non-negative: lift above every negative
	} else {
		b = ^b // negative: larger magnitude must sort lower
	}
	return binary.BigEndian.AppendUint64(dst, b), nil
}
func (float64Serde) Deserialize(data []byte) (float64, error) {
	if len(data) != 8 {
		return 0, wrongLength("float64", 8, len(data))
	}
	b := binary.BigEndian.Uint64(data)
	if b&(1<<63) != 0 {
		b ^= 1 << 63
	} else {
		b = ^b
	}
	return math.Float64frombits(b), nil
}

type boolSerde struct{}

// Bool returns the serde for bool: one byte, 0 for false and 1 for true, so
// false sorts before true. Deserialize rejects any other byte, and any input
// that is not exactly one byte, with an *Error wrapping ErrMalformed.
func Bool() Serde[bool] { return boolSerde{} }

func (boolSerde) Name() string                       { return "bool" }
func (s boolSerde) Serialize(v bool) ([]byte, error) { return s.AppendSerialize(make([]byte, 0, 1), v) }
func (boolSerde) AppendSerialize(dst []byte, v bool) ([]byte, error) {
	if v {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}
func (boolSerde) Deserialize(data []byte) (bool, error) {
	if len(data) != 1 {
		return false, wrongLength("bool", 1, len(data))
	}
	switch data[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, malformed("bool", "want byte 0x00 or 0x01, got 0x%02x", data[0])
}

// wrongLength is the error of a fixed-size serde given the wrong number of
// bytes. The usual cause is a topic or store written with another serde.
func wrongLength(name string, want, got int) error {
	return malformed(name, "want %d bytes, got %d; was the data written with a different serde?", want, got)
}

// malformed builds the deserialization error every stock serde returns for
// bytes that are not a valid encoding.
func malformed(name, format string, args ...any) error {
	return &Error{Serde: name, Op: "deserialize", Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)}
}
