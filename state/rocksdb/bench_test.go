package rocksdb

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/linxGnu/grocksdb"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// The benchmarks compare the store, through the typed API the processors
// use (state.KeyValueStore[string, int64]), with raw grocksdb on a database
// configured identically (newNativeOptions with the same Options), in the
// same run: sub-benchmarks "ours" and "raw", and "bytes" for the
// KeyValueBytesStore alone, which tells the typed layer's share. The raw side
// does what a careful grocksdb user does: reused key and value buffers,
// values decoded straight from RocksDB's memory, one iterator per range, no
// write-ahead log (as our stores by default).
//
// Our stores keep their writes in their write batch until a commit
// (batch.go): the Put benchmarks commit (Flush) every commitEvery writes, so
// that their figure includes applying the batch to RocksDB.
//
//	go test -run '^$' -bench . -benchmem ./state/rocksdb/

const benchKeys = 20_000

// commitEvery is how many writes the write benchmarks make between two
// commits.
const commitEvery = 1000

type benchEnv struct {
	ours  state.KeyValueStore[string, int64]
	bytes *store // under ours
	raw   *grocksdb.DB
	ro    *grocksdb.ReadOptions
	wo    *grocksdb.WriteOptions
	keys  []string
	bkeys [][]byte
}

// recordingSupplier remembers the store it supplied.
type recordingSupplier struct {
	state.KeyValueBytesStoreSupplier
	got *store
}

func (r *recordingSupplier) Get() state.KeyValueBytesStore {
	r.got = r.KeyValueBytesStoreSupplier.Get().(*store)
	return r.got
}

// encodeValue is serde.Int64's encoding, as a raw user would write it.
func encodeValue(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst[:0], uint64(v)^(1<<63))
}

func decodeValue(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// newBenchEnv opens both databases with the same Options, loads keys
// 0..benchKeys-1 into each, and writes the memtables out to files, so that
// reads go through the block cache as they do in a store that has been
// running for a while.
func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	var opts Options
	e := &benchEnv{}
	for i := range benchKeys {
		e.keys = append(e.keys, fmt.Sprintf("customer-%08d", i))
		e.bkeys = append(e.bkeys, []byte(e.keys[i]))
	}

	sup := &recordingSupplier{KeyValueBytesStoreSupplier: KeyValueStore("bench", opts)}
	e.ours = state.NewKeyValueStoreBuilder(sup, serde.String(), serde.Int64()).BuildStore()
	if err := e.ours.Init(state.StoreContext{Dir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.ours.Close() })
	e.bytes = sup.got
	entries := make([]state.KeyValue[string, int64], benchKeys)
	for i, k := range e.keys {
		entries[i] = state.KeyValue[string, int64]{Key: k, Value: int64(i)}
	}
	if err := e.ours.PutAll(entries); err != nil {
		b.Fatal(err)
	}
	if err := e.ours.Flush(); err != nil { // out of the write batch
		b.Fatal(err)
	}

	o := opts
	o.EnsureDefaults()
	native, err := newNativeOptions(o)
	if err != nil {
		b.Fatal(err)
	}
	if e.raw, err = grocksdb.OpenDb(native.db, b.TempDir()); err != nil {
		b.Fatal(err)
	}
	e.ro, e.wo = grocksdb.NewDefaultReadOptions(), grocksdb.NewDefaultWriteOptions()
	e.wo.DisableWAL(true)
	b.Cleanup(func() {
		e.raw.Close()
		e.ro.Destroy()
		e.wo.Destroy()
		native.destroy()
	})
	wb := grocksdb.NewWriteBatch()
	var v []byte
	for i, k := range e.bkeys {
		v = encodeValue(v, int64(i))
		wb.Put(k, v)
	}
	if err := e.raw.Write(e.wo, wb); err != nil {
		b.Fatal(err)
	}
	wb.Destroy()

	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	for _, db := range []*grocksdb.DB{e.bytes.db, e.raw} {
		if err := db.Flush(fo); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkPut overwrites existing keys, one write per op.
func BenchmarkPut(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := e.ours.Put(e.keys[i%benchKeys], int64(i)); err != nil {
				b.Fatal(err)
			}
			i++
			if i%commitEvery == 0 {
				if err := e.ours.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		var v []byte
		i := 0
		for b.Loop() {
			v = encodeValue(v, int64(i))
			if err := e.bytes.Put(e.bkeys[i%benchKeys], v); err != nil {
				b.Fatal(err)
			}
			i++
			if i%commitEvery == 0 {
				if err := e.bytes.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		var v []byte
		i := 0
		for b.Loop() {
			v = encodeValue(v, int64(i))
			if err := e.raw.Put(e.wo, e.bkeys[i%benchKeys], v); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkGet reads existing keys, one per op.
func BenchmarkGet(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, ok, err := e.ours.Get(e.keys[i%benchKeys])
			if err != nil || !ok || v != int64(i%benchKeys) {
				b.Fatal(v, ok, err)
			}
			i++
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, ok, err := e.bytes.Get(e.bkeys[i%benchKeys])
			if err != nil || !ok || decodeValue(v) != int64(i%benchKeys) {
				b.Fatal(v, ok, err)
			}
			i++
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sl, err := e.raw.Get(e.ro, e.bkeys[i%benchKeys])
			if err != nil || !sl.Exists() || decodeValue(sl.Data()) != int64(i%benchKeys) {
				b.Fatal(err)
			}
			sl.Free()
			i++
		}
	})
}

// BenchmarkRange reads all benchKeys entries per op, decoding each key to a
// string and each value to an int64.
func BenchmarkRange(b *testing.B) {
	e := newBenchEnv(b)
	perEntry := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchKeys), "ns/entry")
	}
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for kv, err := range e.ours.Range(nil, nil) {
				if err != nil || kv.Value != int64(n) {
					b.Fatal(kv, err)
				}
				n++
			}
			if n != benchKeys {
				b.Fatal(n)
			}
		}
		perEntry(b)
	})
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for kv, err := range e.bytes.Scan(state.KeyRange{}, false) {
				if err != nil || decodeValue(kv.Value) != int64(n) || len(string(kv.Key)) == 0 {
					b.Fatal(kv, err)
				}
				n++
			}
			if n != benchKeys {
				b.Fatal(n)
			}
		}
		perEntry(b)
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			it := e.raw.NewIterator(e.ro)
			for it.SeekToFirst(); it.Valid(); it.Next() {
				k := string(it.Key().Data())
				if decodeValue(it.Value().Data()) != int64(n) || k == "" {
					b.Fatal(k)
				}
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			it.Close()
			if n != benchKeys {
				b.Fatal(n)
			}
		}
		perEntry(b)
	})
}

// BenchmarkFlush is the cost Flush adds to a commit that wrote one entry:
// one sync of the write-ahead log.
func BenchmarkFlush(b *testing.B) {
	e := newBenchEnv(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.ours.Put(e.keys[i%benchKeys], int64(i)); err != nil {
			b.Fatal(err)
		}
		if err := e.ours.Flush(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRestoreBatch writes batches of 10,000 changelog records over
// 100,000 keys, as a restore does (one write batch per fetch), one record
// per op: through the store's Write and with raw grocksdb.
func BenchmarkRestoreBatch(b *testing.B) {
	const batchLen, keys = 10_000, 100_000
	bkeys := make([][]byte, keys)
	for i := range bkeys {
		bkeys[i] = fmt.Appendf(nil, "word-%06d", (i*7919)%keys)
	}
	e := newBenchEnv(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		batch := make([]state.KeyValue[[]byte, []byte], 0, batchLen)
		i := 0
		for b.Loop() {
			batch = append(batch, state.KeyValue[[]byte, []byte]{Key: bkeys[i%keys], Value: encodeValue(nil, int64(i))})
			i++
			if len(batch) == batchLen {
				if err := e.bytes.Write(batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		wb := grocksdb.NewWriteBatch()
		defer wb.Destroy()
		i := 0
		for b.Loop() {
			wb.Put(bkeys[i%keys], encodeValue(nil, int64(i)))
			i++
			if wb.Count() == batchLen {
				if err := e.raw.Write(e.wo, wb); err != nil {
					b.Fatal(err)
				}
				wb.Clear()
			}
		}
	})
}
