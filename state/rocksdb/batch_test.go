package rocksdb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/state"
)

// inRocksDB reads key from the database itself, below the write batch.
func inRocksDB(t *testing.T, s *store, key string) (string, bool) {
	t.Helper()
	v, err := s.db.GetBytes(s.ro, []byte(key))
	require.NoError(t, err)
	return string(v), v != nil
}

// mustGet reads key through the store and requires no error.
func mustGet(t *testing.T, s *store, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := s.Get([]byte(key))
	require.NoError(t, err)
	return v, ok
}

// Without a write-ahead log the writes wait in the batch until a commit
// (Flush); reads see them all along, and the deletion of a key that RocksDB
// has hides it before it reaches RocksDB.
func TestWriteBatchReadsItsWrites(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "batch", Options{})
	require.NoError(t, s.Put(b("a"), b("1")))
	require.NoError(t, s.Put(b("gone"), b("x")))
	require.NoError(t, s.Flush())
	_, ok := inRocksDB(t, s, "a")
	require.True(t, ok, "Flush applies the batch")

	require.NoError(t, s.Put(b("a"), b("2")))
	require.NoError(t, s.Put(b("empty"), nil))
	old, ok, err := s.Delete(b("gone"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "x", string(old))
	_, ok, err = s.Delete(b("never"))
	require.NoError(t, err)
	require.False(t, ok, "deleting an absent key finds nothing")

	v, _ := inRocksDB(t, s, "a")
	require.Equal(t, "1", v, "before the commit RocksDB still has the old value")
	got, ok := mustGet(t, s, "a")
	require.True(t, ok)
	require.Equal(t, "2", string(got))
	got[0] = 'z' // the caller's copy: changing it changes nothing stored
	again, _ := mustGet(t, s, "a")
	require.Equal(t, "2", string(again))
	got, ok = mustGet(t, s, "empty")
	require.True(t, ok)
	require.NotNil(t, got, "a stored empty value is empty, not missing")
	require.Empty(t, got)
	_, ok = mustGet(t, s, "gone")
	require.False(t, ok, "the buffered deletion hides the key RocksDB has")

	require.NoError(t, s.Flush())
	v, _ = inRocksDB(t, s, "a")
	require.Equal(t, "2", v)
	_, ok = inRocksDB(t, s, "gone")
	require.False(t, ok)
	v, ok = inRocksDB(t, s, "empty")
	require.True(t, ok)
	require.Empty(t, v)
}

// A range loop sees every write made before it starts, buffered or not, and
// none made while it runs.
func TestWriteBatchScanSeesEarlierWrites(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "batch", Options{})
	require.NoError(t, s.PutAll([]bkv{{Key: b("a"), Value: b("1")}, {Key: b("b"), Value: b("1")}}))
	require.NoError(t, s.Flush())
	require.NoError(t, s.Write([]bkv{{Key: b("a")}, {Key: b("c"), Value: b("3")}}))
	var seen []string
	for kv, err := range s.Scan(state.KeyRange{}, false) {
		require.NoError(t, err)
		seen = append(seen, string(kv.Key)+"="+string(kv.Value))
		require.NoError(t, s.Put(b("d"), b("during")))
	}
	require.Equal(t, []string{"b=1", "c=3"}, seen)
	require.Equal(t, []string{"b=1", "c=3", "d=during"}, strs(collect(t, s.Scan(state.KeyRange{}, false))))
}

// The batch is applied once it reaches Options.WriteBatchSize, without
// waiting for the commit; with a negative size every write goes to RocksDB
// at once.
func TestWriteBatchSize(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "small", Options{WriteBatchSize: 1 << 10})
	for i := range 100 {
		require.NoError(t, s.Put(fmt.Appendf(nil, "k%03d", i), b("v")))
	}
	_, ok := inRocksDB(t, s, "k000")
	require.True(t, ok, "a full batch is applied")
	_, ok = inRocksDB(t, s, "k099")
	require.False(t, ok, "the last writes wait for the next commit")

	off := openBytes(t, t.TempDir(), "off", Options{WriteBatchSize: -1})
	require.NoError(t, off.Put(b("k"), b("v")))
	_, ok = inRocksDB(t, off, "k")
	require.True(t, ok)

	wal := openBytes(t, t.TempDir(), "wal", Options{WriteAheadLog: true})
	require.NoError(t, wal.Put(b("k"), b("v")))
	_, ok = inRocksDB(t, wal, "k")
	require.True(t, ok, "with a write-ahead log every write is in it (and RocksDB) when it returns")
}

// Close applies the batch: the store reopened on its directory has every
// write, with no Flush ever called.
func TestWriteBatchClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openBytes(t, dir, "close", Options{})
	require.NoError(t, s.Put(b("a"), b("1")))
	require.NoError(t, s.Put(b("b"), b("2")))
	_, _, err := s.Delete(b("b"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s = openBytes(t, dir, "close", Options{})
	require.Equal(t, []string{"a=1"}, strs(collect(t, s.Scan(state.KeyRange{}, false))))
}

// WriteWithOffset puts the buffered writes, the batch and the offset in one
// RocksDB write: after it, RocksDB has them all.
func TestWriteBatchWithOffset(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "offset", Options{})
	require.NoError(t, s.Put(b("before"), b("1")))
	require.NoError(t, s.WriteWithOffset([]bkv{{Key: b("batch"), Value: b("2")}}, 42))
	for _, k := range []string{"before", "batch"} {
		_, ok := inRocksDB(t, s, k)
		require.True(t, ok, k)
	}
	off, ok, err := s.ChangelogOffset()
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 42, off)
	require.Empty(t, s.buf.m)
}

// ApproximateNumEntries counts the buffered writes too.
func TestWriteBatchApproximateNumEntries(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "count", Options{})
	for i := range 10 {
		require.NoError(t, s.Put(fmt.Appendf(nil, "k%d", i), b("v")))
	}
	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.EqualValues(t, 10, n)
}

// Readers on other goroutines during the owner's writes: each Get sees a
// value the key had (here counts only grow), and each range loop sees a
// PutAll whole or not at all. The owner keeps writing until the readers
// have made minReads passes, so that they overlap its writes. Run with
// -race.
func TestWriteBatchConcurrentReaders(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "readers", Options{WriteBatchSize: 4 << 10})
	const keys, rounds, minReads = 20, 300, 50
	var reads atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 2 {
		wg.Go(func() {
			last := map[string]int{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range keys {
					k := fmt.Sprintf("k%02d", i)
					v, ok, err := s.Get([]byte(k))
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						continue
					}
					var n int
					fmt.Sscan(string(v), &n)
					if n < last[k] {
						errs <- fmt.Errorf("%s went back from %d to %d", k, last[k], n)
						return
					}
					last[k] = n
				}
				kvs, _, err := drain(s.Scan(state.KeyRange{}, false))
				if err != nil {
					errs <- err
					return
				}
				if len(kvs) > 0 {
					first := string(kvs[0].Value)
					for _, kv := range kvs {
						if string(kv.Value) != first {
							errs <- fmt.Errorf("a scan saw half a PutAll: %s=%s beside %s", kv.Key, kv.Value, first)
							return
						}
					}
					if len(kvs) != keys {
						errs <- fmt.Errorf("a scan saw %d of the %d keys every PutAll writes", len(kvs), keys)
						return
					}
				}
				reads.Add(1)
			}
		})
	}
	for r := 1; r <= rounds || reads.Load() < minReads; r++ {
		batch := make([]bkv, keys)
		for i := range batch {
			batch[i] = bkv{Key: fmt.Appendf(nil, "k%02d", i), Value: fmt.Append(nil, r)}
		}
		require.NoError(t, s.PutAll(batch))
		if r%50 == 0 {
			require.NoError(t, s.Flush())
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
