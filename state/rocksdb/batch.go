package rocksdb

import (
	"fmt"
	"slices"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// The write batch: a store without a write-ahead log keeps its writes in
// Go memory between commits and applies them to RocksDB as one sorted write
// batch. The package doc says when, why, and why nothing of durability is
// given up.

// defaultWriteBatchSize is the default Options.WriteBatchSize: 16 MiB, one
// memtable's worth (DefaultWriteBufferSize).
const defaultWriteBatchSize = 16 << 20

// entryOverhead is what a buffered entry costs beside its key and value
// bytes: the map's slot, the string header, the pending struct and its
// allocations, roughly.
const entryOverhead = 64

// pending is a buffered write: a value, or a deletion.
type pending struct {
	value []byte
	del   bool
}

// writeBatch is the store's buffer of writes not applied yet. Only the
// owning task writes to it; readers on any goroutine read it under mu.
type writeBatch struct {
	mu sync.RWMutex
	m  map[string]*pending
	// bytes is what m holds, by the account of entryOverhead.
	bytes int64
	// limit is Options.WriteBatchSize; 0 means no buffering.
	limit int64
}

// lookup returns a copy of the buffered state of key: found is false when
// the map has nothing for it, and the caller reads RocksDB.
func (b *writeBatch) lookup(key []byte) (value []byte, ok, found bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.m[string(key)]
	if p == nil {
		return nil, false, false
	}
	if p.del {
		return nil, false, true
	}
	return append(make([]byte, 0, len(p.value)), p.value...), true, true
}

// add buffers one write; the caller holds mu exclusively. A nil value with
// del stores a deletion; otherwise value, empty included, is stored.
func (b *writeBatch) add(key, value []byte, del bool) {
	p := b.m[string(key)]
	if p == nil {
		p = &pending{}
		b.m[string(key)] = p
		b.bytes += int64(len(key)) + entryOverhead
	} else {
		b.bytes -= int64(len(p.value))
	}
	p.del = del
	if del {
		p.value = p.value[:0]
		return
	}
	// The buffered value is never lent out (lookup copies), so its array
	// can be reused.
	if p.value == nil {
		p.value = make([]byte, 0, len(value))
	}
	p.value = append(p.value[:0], value...)
	b.bytes += int64(len(value))
}

// full reports whether the map has reached its limit; the caller holds mu.
func (b *writeBatch) full() bool { return b.bytes >= b.limit }

// fill puts the buffered writes into wb in key order (a skiplist takes
// sorted keys faster); the caller holds mu.
func (b *writeBatch) fill(wb *grocksdb.WriteBatch) {
	keys := make([]string, 0, len(b.m))
	for k := range b.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := b.m[k]
		// The write batch copies the bytes; the conversion costs one small
		// allocation per distinct key and commit.
		if p.del {
			wb.Delete([]byte(k))
		} else {
			wb.Put([]byte(k), p.value)
		}
	}
}

// reset empties the map after its writes were applied; the caller holds mu.
func (b *writeBatch) reset() {
	clear(b.m)
	b.bytes = 0
}

// batching reports whether the store buffers its writes.
func (s *store) batching() bool { return s.buf.limit > 0 }

// applyBuffered writes the buffered writes to RocksDB in one write batch,
// with what meta, if not nil, adds after them. The caller holds the gate and
// buf.mu exclusively.
func (s *store) applyBuffered(op string, meta func(*grocksdb.WriteBatch)) error {
	if len(s.buf.m) == 0 && meta == nil {
		return nil
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	s.buf.fill(wb)
	if meta != nil {
		meta(wb)
	}
	if err := s.db.Write(s.wo, wb); err != nil {
		return fmt.Errorf("rocksdb: store %q: %s: applying %d buffered writes: %w", s.name, op, len(s.buf.m), err)
	}
	s.buf.reset()
	s.dirty.Store(true)
	return nil
}

// applyNow applies the buffered writes, taking buf.mu; the caller holds the
// gate.
func (s *store) applyNow(op string) error {
	if !s.batching() {
		return nil
	}
	s.buf.mu.Lock()
	defer s.buf.mu.Unlock()
	return s.applyBuffered(op, nil)
}
