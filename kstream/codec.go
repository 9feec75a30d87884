package kstream

import (
	"encoding/binary"

	"github.com/gostreams/streams/processor"
)

// The DSL's buffers (suppression, a stream-table join's grace buffer)
// keep records in stores; these write their parts: bytes after their
// length (a uvarint), and headers as their count and each key's and
// value's bytes.

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// readBytes reads what appendBytes wrote at the start of b; ok is false
// when b is too short.
func readBytes(b []byte) (out, rest []byte, ok bool) {
	n, used := binary.Uvarint(b)
	if used <= 0 || n > uint64(len(b)-used) {
		return nil, b, false
	}
	return b[used : used+int(n)], b[used+int(n):], true
}

func appendHeaders(dst []byte, hs []processor.Header) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(hs)))
	for _, h := range hs {
		dst = appendBytes(dst, []byte(h.Key))
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func readHeaders(b []byte) (hs []processor.Header, rest []byte, ok bool) {
	count, used := binary.Uvarint(b)
	if used <= 0 || count > uint64(len(b)) { // each header takes two bytes at least
		return nil, b, false
	}
	rest = b[used:]
	for range count {
		var k, v []byte
		var ok1, ok2 bool
		k, rest, ok1 = readBytes(rest)
		v, rest, ok2 = readBytes(rest)
		if !ok1 || !ok2 {
			return nil, b, false
		}
		hs = append(hs, processor.Header{Key: string(k), Value: v})
	}
	return hs, rest, true
}
