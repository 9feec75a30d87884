package rocksdb

// #cgo LDFLAGS: -lrocksdb
// #include <stdint.h>
// #include <string.h>
// #include "rocksdb/c.h"
//
// typedef struct {
// 	size_t used; // bytes written to buf
// 	size_t need; // the size of the next entry, when it did not fit an empty buf
// 	int done;    // the iterator is past the last entry, or past the bound
// } gs_fill_result;
//
// static int gs_compare(const char* a, size_t alen, const char* b, size_t blen) {
// 	int c = memcmp(a, b, alen < blen ? alen : blen);
// 	if (c != 0) return c;
// 	return alen < blen ? -1 : alen > blen ? 1 : 0;
// }
//
// // gs_fill copies entries from it into buf, each as its key length and
// // value length (uint32, native order) followed by the key and the value,
// // stepping forward, or backward with reverse, until buf is full, the
// // iterator ends, or a key passes bound (an upper bound forward, a lower
// // bound backward, inclusive) when has_bound.
// static void gs_fill(rocksdb_iterator_t* it, int reverse,
// 		const char* bound, size_t bound_len, int has_bound,
// 		char* buf, size_t cap, gs_fill_result* r) {
// 	r->used = 0;
// 	r->need = 0;
// 	r->done = 0;
// 	for (;;) {
// 		if (!rocksdb_iter_valid(it)) {
// 			r->done = 1;
// 			return;
// 		}
// 		size_t klen, vlen;
// 		const char* k = rocksdb_iter_key(it, &klen);
// 		if (has_bound) {
// 			int c = gs_compare(k, klen, bound, bound_len);
// 			if (reverse ? c < 0 : c > 0) {
// 				r->done = 1;
// 				return;
// 			}
// 		}
// 		const char* v = rocksdb_iter_value(it, &vlen);
// 		size_t size = 8 + klen + vlen;
// 		if (size > cap - r->used) {
// 			if (r->used == 0) r->need = size;
// 			return;
// 		}
// 		uint32_t lens[2] = {(uint32_t)klen, (uint32_t)vlen};
// 		char* p = buf + r->used;
// 		memcpy(p, lens, 8);
// 		if (klen) memcpy(p + 8, k, klen);
// 		if (vlen) memcpy(p + 8 + klen, v, vlen);
// 		r->used += size;
// 		if (reverse) rocksdb_iter_prev(it); else rocksdb_iter_next(it);
// 	}
// }
import "C"

import (
	"encoding/binary"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// A Scan copies entries out of RocksDB in batches, one cgo call per batch,
// rather than with grocksdb's Valid, Key, Value and Next, which cost four cgo
// calls and four small allocations per entry: on a range of small entries
// that was most of the time. The batch is the Go buffer the yielded keys and
// values are carved from, so each entry is copied once, in C.

// firstFill and maxFill bound the size of a batch. The first is small, so
// that a loop that breaks early, or a short range, copies little more than
// it reads; each next one doubles, up to maxFill.
const (
	firstFill = 512
	maxFill   = 16 << 10
)

// filler reads a positioned iterator in batches.
type filler struct {
	it       *C.rocksdb_iterator_t
	reverse  bool
	bound    []byte // the bound on the far side, if hasBound
	hasBound bool
	size     int
	res      C.gs_fill_result
}

// nativeIterator returns the C iterator inside it: grocksdb keeps it,
// unexported, as the only field of Iterator. TestGrocksdbLayout checks
// that, so an upgrade of grocksdb that changes it fails the tests rather
// than the program.
func nativeIterator(it *grocksdb.Iterator) *C.rocksdb_iterator_t {
	return *(**C.rocksdb_iterator_t)(unsafe.Pointer(it))
}

// next returns the next batch of entries, encoded as gs_fill writes them,
// and whether the iteration may have more after it. An empty batch with
// more false is the end.
func (f *filler) next() (batch []byte, more bool) {
	if f.size < maxFill {
		f.size = max(firstFill, 2*f.size)
	}
	buf := make([]byte, f.size)
	for {
		var bound *C.char
		if len(f.bound) > 0 {
			bound = (*C.char)(unsafe.Pointer(&f.bound[0]))
		}
		C.gs_fill(f.it, cbool(f.reverse), bound, C.size_t(len(f.bound)), cbool(f.hasBound),
			(*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &f.res)
		if f.res.need == 0 {
			return buf[:f.res.used], f.res.done == 0
		}
		buf = make([]byte, int(f.res.need)) // an entry bigger than a batch
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// entryAt decodes the entry at off in a batch and returns it, capped so
// that appending to the key or the value cannot change a neighbor, and the
// offset of the next entry.
func entryAt(batch []byte, off int) (k, v []byte, next int) {
	kl := int(binary.NativeEndian.Uint32(batch[off:]))
	vl := int(binary.NativeEndian.Uint32(batch[off+4:]))
	ks := off + 8
	vs := ks + kl
	next = vs + vl
	return batch[ks:vs:vs], batch[vs:next:next], next
}
