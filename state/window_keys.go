package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrMalformedKey is wrapped by the errors of the window and session stores
// when a stored or restored key is not a valid window or session key: too
// short, or (for a session) ending before it starts. It means the store's
// data or its changelog was written by something else; wipe and restore the
// store, or fix the producer of the changelog. Test for it with errors.Is.
var ErrMalformedKey = errors.New("state: malformed window or session key")

// The bytes layer under window and session stores (SegmentedBytesStore)
// keys its entries with these layouts, which its changelog records carry
// too. Integers are big-endian, and a time is its Unix milliseconds with the
// sign bit flipped, as serde.Int64 writes an int64, so that the byte order
// of two encoded times is their time order, before 1970 included:
//
//	window key:  serialized key ‖ window start (8) ‖ sequence number (4)
//	session key: serialized key ‖ session end (8)  ‖ session start (8)
//
// The sequence number tells apart the entries of a store that retains
// duplicates (each Put adds one); it is 0 in a store that does not. A
// session key puts the end first, as Kafka Streams does: the sessions of a
// key that end at or after a time are then one contiguous range.
//
// The serialized key is not length-prefixed, so one serialized key may be a
// prefix of another ("a" and "a\x80..."), and the entries of both may lie in
// one byte range. The decoders therefore read the fixed-size suffix from the
// end, and every single-key read checks that the key part is exactly the
// key it asked for.
const (
	timeSize         = 8
	seqSize          = 4
	windowKeySuffix  = timeSize + seqSize
	sessionKeySuffix = 2 * timeSize
	maxSeq           = math.MaxUint32
	signBit          = 1 << 63
	minMs, maxMs     = math.MinInt64, math.MaxInt64
)

func appendTime(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms)^signBit)
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ signBit) }

// encodeWindowKey appends the window key of key, start and seq to dst.
func encodeWindowKey(dst, key []byte, start int64, seq uint32) []byte {
	dst = append(dst, key...)
	dst = appendTime(dst, start)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// decodeWindowKey splits a window key. key aliases b.
func decodeWindowKey(b []byte) (key []byte, start int64, seq uint32, err error) {
	if len(b) < windowKeySuffix {
		return nil, 0, 0, fmt.Errorf("%w: a window key has at least %d bytes (window start and sequence number), got %d (%x)",
			ErrMalformedKey, windowKeySuffix, len(b), b)
	}
	n := len(b) - windowKeySuffix
	return b[:n:n], readTime(b[n:]), binary.BigEndian.Uint32(b[n+timeSize:]), nil
}

// encodeSessionKey appends the session key of key, end and start to dst.
func encodeSessionKey(dst, key []byte, end, start int64) []byte {
	dst = append(dst, key...)
	dst = appendTime(dst, end)
	return appendTime(dst, start)
}

// decodeSessionKey splits a session key. key aliases b.
func decodeSessionKey(b []byte) (key []byte, start, end int64, err error) {
	if len(b) < sessionKeySuffix {
		return nil, 0, 0, fmt.Errorf("%w: a session key has at least %d bytes (session end and start), got %d (%x)",
			ErrMalformedKey, sessionKeySuffix, len(b), b)
	}
	n := len(b) - sessionKeySuffix
	end, start = readTime(b[n:]), readTime(b[n+timeSize:])
	if start > end {
		return nil, 0, 0, fmt.Errorf("%w: session key %x starts at %d ms, after its end at %d ms", ErrMalformedKey, b, start, end)
	}
	return b[:n:n], start, end, nil
}

// keySchema tells a segmented store where an encoded key belongs in time.
type keySchema interface {
	// kind names the stores of this schema in errors: "window", "session".
	kind() string
	// segmentTime returns the time that places key in a segment and decides
	// when it expires: the window start, or the session end.
	segmentTime(key []byte) (int64, error)
}

type windowSchema struct{}

func (windowSchema) kind() string { return "window" }

func (windowSchema) segmentTime(key []byte) (int64, error) {
	_, start, _, err := decodeWindowKey(key)
	return start, err
}

type sessionSchema struct{}

func (sessionSchema) kind() string { return "session" }

func (sessionSchema) segmentTime(key []byte) (int64, error) {
	_, _, end, err := decodeSessionKey(key)
	return end, err
}

// The stores keep times as Unix milliseconds. A time.Time outside the range
// of int64 milliseconds (beyond ±292 million years) is clamped to it, so
// that a query bound like time.Time{} or a far-future time still works.
var (
	minMsTime = time.UnixMilli(minMs)
	maxMsTime = time.UnixMilli(maxMs)
)

// toMs converts t to Unix milliseconds, flooring sub-millisecond digits and
// clamping to the int64 range.
func toMs(t time.Time) int64 {
	switch {
	case t.Before(minMsTime):
		return minMs
	case t.After(maxMsTime):
		return maxMs
	}
	return t.UnixMilli()
}

// fromMs is the time of ms Unix milliseconds, in UTC.
func fromMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// upperBoundFor returns the smallest byte string the caller may use as the
// inclusive upper bound of a scan over the encoded keys of every serialized
// key k with from <= k <= to (from nil: no lower bound), whose fixed-size
// suffix is at most suffix.
//
// to‖suffix is not enough: a key that is a proper prefix of to, say "a" for
// to = "ab", is below to, but its encodings "a"‖s may sort after "ab"‖suffix
// (whenever s[0] > 'b'). Every encoding of a key below to that is not one of
// its prefixes sorts before to‖suffix, so the bound is the largest
// p‖suffix over the prefixes p of to (to itself included) that are not below
// from: smaller prefixes are out of the range anyway.
func upperBoundFor(from, to, suffix []byte) []byte {
	best := append(append([]byte(nil), to...), suffix...)
	for m := len(to) - 1; m >= 0; m-- {
		p := to[:m]
		if from != nil && bytes.Compare(p, from) < 0 {
			break // shorter prefixes are smaller still
		}
		c := append(append([]byte(nil), p...), suffix...)
		if bytes.Compare(c, best) > 0 {
			best = c
		}
	}
	return best
}

// maxWindowSuffix is the largest window key suffix with a start at most to.
func maxWindowSuffix(to int64) []byte {
	return binary.BigEndian.AppendUint32(appendTime(nil, to), maxSeq)
}

// maxSessionSuffix is the largest session key suffix.
func maxSessionSuffix() []byte { return bytes.Repeat([]byte{0xff}, sessionKeySuffix) }
