package state

import (
	"testing"

	"github.com/gostreams/streams/serde"
)

const benchEntries = 10_000

// benchStore returns a typed int64 -> int64 store holding keys
// 0..benchEntries-1.
func benchStore(b *testing.B) *keyValueStore[int64, int64] {
	b.Helper()
	s, _ := openStore(b, "Bench", serde.Int64(), serde.Int64())
	batch := make([]i64kv, benchEntries)
	for k := range batch {
		batch[k] = i64kv{Key: int64(k), Value: int64(k)}
	}
	if err := s.PutAll(batch); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPut overwrites existing keys through the typed layer.
func BenchmarkPut(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		if err := s.Put(i%benchEntries, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPutAfterScan is Put when a range loop has started since the
// previous write, the worst case of copy-on-write: every write copies the
// nodes on its path.
func BenchmarkPutAfterScan(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		for range s.All() {
			break
		}
		if err := s.Put(i%benchEntries, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		if _, ok, err := s.Get(i % benchEntries); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i++
	}
}

// BenchmarkRange reads all 10k entries per operation.
func BenchmarkRange(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range s.Range(nil, nil) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchEntries {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEntries), "ns/entry")
}

// BenchmarkBytesPut is the backend alone: the copy of key and value and the
// tree insert.
func BenchmarkBytesPut(b *testing.B) {
	s := openBytesStore(b)
	keys := make([][]byte, benchEntries)
	for k := range keys {
		keys[k], _ = serde.Int64().Serialize(int64(k))
	}
	val := []byte("01234567")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Put(keys[i%benchEntries], val); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRestore applies changelog batches of 10,000 records over 100,000
// keys in a random order, as the runtime's restore does, one record per op.
func BenchmarkRestore(b *testing.B) {
	const batchLen, batches, keys = 10_000, 100, 100_000
	records := make([]KeyValue[[]byte, []byte], batchLen*batches)
	rng := uint64(1)
	for i := range records {
		rng = rng*6364136223846793005 + 1442695040888963407
		k, _ := serde.Int64().Serialize(int64(rng>>33) % keys)
		v, _ := serde.Int64().Serialize(int64(i))
		records[i] = KeyValue[[]byte, []byte]{Key: k, Value: v}
	}
	s, _ := openStore(b, "Bench", serde.Int64(), serde.Int64())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if i%batchLen == 0 {
			at := (i/batchLen - 1) % batches * batchLen // the batches in turn
			if err := s.Restore(records[at : at+batchLen]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
