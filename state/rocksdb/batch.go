package rocksdb

import (
	"fmt"
	"slices"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// The write batch: without a write-ahead log, a store keeps its writes in Go
// memory, a hash map from key to its latest value or deletion, and applies
// them to RocksDB as one sorted write batch when the runtime commits
// (Flush), when they reach Options.WriteBatchSize bytes, before a range loop
// takes its snapshot, and at Close.
//
// Why: a RocksDB write lands in the memtable, a skiplist, and on a machine
// whose memory latency is that of a small cloud VM a skiplist insert of a
// random key costs 3 to 4 µs, most of it cache misses (RocksDB's own C++ put,
// measured with no Go in between, costs the same). A word count writes the
// same few thousand keys over and over: the map turns a commit's million
// writes into a write of its distinct keys, and a restore's changelog
// records (many versions of each key) likewise into the keys' last values.
//
// What it gives up: nothing of durability. Without the log RocksDB's memtables
// are lost in a crash as the map is, and the runtime never trusts a store
// that was not closed cleanly (it restores it from the changelog, from the
// checkpoint a clean close writes or from scratch), so the map loses
// nothing the memtables would have kept. With a write-ahead log, where each
// write must be in the log before it returns, and for transactional stores
// (which keep the log and write one batch per commit already) there is no
// map.
//
// Reads see the map: Get looks in it first, and a range loop applies it
// before it takes its snapshot, so every read sees every write made before
// it began, as without the map, and a PutAll or Write is applied to the map
// under one lock, so no read sees half of it.

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

// applyBuffered writes the buffered writes to RocksDB in one write batch.
// The caller holds the gate and buf.mu exclusively.
func (s *store) applyBuffered(op string) error {
	if len(s.buf.m) == 0 {
		return nil
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	s.buf.fill(wb)
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
	return s.applyBuffered(op)
}
