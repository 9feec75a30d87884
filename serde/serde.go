package serde

import (
	"errors"
	"fmt"
)

// Serde turns values of type T into bytes and back. Implementations must be
// safe for concurrent use: one Serde value serves every task of an app.
//
// Deserialize must never panic on malformed input; it returns an *Error that
// names the serde instead. The slice passed to Deserialize may be reused by
// the caller after it returns, so an implementation that keeps bytes copies
// them.
type Serde[T any] interface {
	// Name identifies the serde in error messages, for example "int64" or
	// "json[main.Order]".
	Name() string
	// Serialize encodes v. The returned slice is owned by the caller.
	Serialize(v T) ([]byte, error)
	// Deserialize decodes data.
	Deserialize(data []byte) (T, error)
}

// Error is returned by every stock serde when it cannot encode or decode a
// value. The runtime wraps it with the topic, partition and offset of the
// record it came from.
type Error struct {
	Serde string // the serde's Name
	Op    string // "serialize" or "deserialize"
	Err   error  // what went wrong; wraps ErrMalformed for undecodable bytes
}

// Error formats e as "serde <name>: <op>: <cause>".
func (e *Error) Error() string {
	return fmt.Sprintf("serde %s: %s: %v", e.Serde, e.Op, e.Err)
}

// Unwrap returns the cause, so errors.Is(err, ErrMalformed) works through an
// *Error.
func (e *Error) Unwrap() error { return e.Err }

// ErrMalformed is wrapped by every deserialization *Error caused by bytes
// that are not a valid encoding (wrong length, bad JSON, bad bool byte).
// Test for it with errors.Is; the stock serdes return it, and a serde built
// with New returns it when its decode func does.
var ErrMalformed = errors.New("serde: malformed data")
