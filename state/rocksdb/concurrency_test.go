package rocksdb

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// These tests check the promise of DESIGN.md, "range reads you can trust from
// any goroutine", on RocksDB, and that Close never frees the database under a
// running read: run them with -race. Loops are bounded by counts, never by
// sleeping.

type i64kv = state.KeyValue[int64, int64]

// scanMethod is one way a reader ranges over the whole store.
type scanMethod struct {
	name    string
	reverse bool
	seq     func() iter.Seq2[i64kv, error]
}

func scanMethods(s state.KeyValueStore[int64, int64], lo, hi int64) []scanMethod {
	return []scanMethod{
		{"All", false, s.All},
		{"ReverseAll", true, s.ReverseAll},
		{"Range", false, func() iter.Seq2[i64kv, error] { return s.Range(&lo, &hi) }},
		{"ReverseRange", true, func() iter.Seq2[i64kv, error] { return s.ReverseRange(&lo, &hi) }},
	}
}

// hammer runs one reader goroutine per scan method while the test goroutine,
// the store's single writer, calls write until every reader is done. check
// validates one snapshot and returns its version, which must never go back
// for one reader. A reader stops after minScans scans, but only once it has
// seen three versions and one of its scans overlapped a write, so that the
// test cannot pass without testing anything.
func hammer(t *testing.T, methods []scanMethod, minScans int, write func(), check func(kvs []i64kv, reverse bool) (int64, error)) {
	t.Helper()
	maxScans := 200 * minScans
	var written atomic.Int64
	var running atomic.Int32
	running.Store(int32(len(methods)))
	errs := make(chan error, len(methods))
	for _, m := range methods {
		go func() {
			defer running.Add(-1)
			last, seen, overlapped, scans := int64(-1), map[int64]bool{}, 0, 0
			for ; scans < minScans || len(seen) < 3 || overlapped == 0; scans++ {
				if scans == maxScans {
					errs <- fmt.Errorf("%s: after %d scans: %d versions, %d overlapped a write: is the writer stuck?", m.name, scans, len(seen), overlapped)
					return
				}
				before := written.Load()
				kvs, n, err := drain(m.seq())
				if written.Load() != before {
					overlapped++
				}
				if err != nil || n != 0 {
					errs <- fmt.Errorf("%s: scan %d: %d errors, last %w", m.name, scans, n, err)
					return
				}
				v, err := check(kvs, m.reverse)
				if err != nil {
					errs <- fmt.Errorf("%s: scan %d: %w", m.name, scans, err)
					return
				}
				if v < last {
					errs <- fmt.Errorf("%s: scan %d: went back from version %d to %d", m.name, scans, last, v)
					return
				}
				last, seen[v] = v, true
			}
			t.Logf("%s: %d scans, %d versions, %d overlapped a write", m.name, scans, len(seen), overlapped)
			errs <- nil
		}()
	}
	for running.Load() > 0 {
		write()
		written.Add(1)
	}
	for range methods {
		require.NoError(t, <-errs)
	}
	t.Logf("writes: %d", written.Load())
}

// oneGeneration checks that kvs holds keys 0..n-1 in order and one value.
func oneGeneration(kvs []i64kv, n int, reverse bool) (int64, error) {
	if len(kvs) != n {
		return 0, fmt.Errorf("saw %d keys, want %d", len(kvs), n)
	}
	g := kvs[0].Value
	for i, kv := range kvs {
		want := int64(i)
		if reverse {
			want = int64(n - 1 - i)
		}
		if kv.Key != want {
			return 0, fmt.Errorf("entry %d has key %d, want %d", i, kv.Key, want)
		}
		if kv.Value != g {
			return 0, fmt.Errorf("mixed generations %d and %d (key %d): a batch was seen half applied", g, kv.Value, kv.Key)
		}
	}
	return g, nil
}

// The writer sets all n keys to generation g with one PutAll; every
// snapshot holds all n keys at a single generation, and Gets between scans
// never see a generation older than the last scan's.
func TestConcurrentPutAllGenerations(t *testing.T) {
	t.Parallel()
	const n = 128
	s := openTyped(t, "Generations", serde.Int64(), serde.Int64())
	batch := make([]i64kv, n)
	g := int64(0)
	putGeneration := func() {
		for k := range batch {
			batch[k] = i64kv{Key: int64(k), Value: g}
		}
		require.NoError(t, s.PutAll(batch))
		g++
	}
	putGeneration()
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	hammer(t, scanMethods(s, 0, n-1), 200, putGeneration, func(kvs []i64kv, reverse bool) (int64, error) {
		v, err := oneGeneration(kvs, n, reverse)
		if err != nil {
			return 0, err
		}
		rngMu.Lock()
		k := rng.Int64N(n)
		rngMu.Unlock()
		got, ok, err := s.Get(k)
		if err != nil || !ok || got < v {
			return 0, fmt.Errorf("get %d: %d %v %v after a scan of generation %d", k, got, ok, err, v)
		}
		return v, nil
	})
}

// The writer applies each generation with one Write of puts and deletions,
// as a restore does: keys 0..n-1 get the generation, and the extra keys
// n..n+m-1 are put in even generations and deleted in odd ones. Every
// snapshot is one whole generation: the extra keys are all there (even) or
// all gone (odd).
func TestConcurrentWriteGenerations(t *testing.T) {
	t.Parallel()
	const n, m = 64, 64
	s := openBytes(t, t.TempDir(), "Writes", Options{})
	i64 := serde.Int64()
	enc := func(v int64) []byte { bs, _ := i64.Serialize(v); return bs }
	g := int64(0)
	batch := make([]bkv, n+m)
	write := func() {
		for k := range n + m {
			batch[k] = bkv{Key: enc(int64(k)), Value: enc(g)}
			if k >= n && g%2 == 1 {
				batch[k].Value = nil
			}
		}
		require.NoError(t, s.Write(batch))
		g++
	}
	write()
	typed := state.NewKeyValueStoreBuilder(constSupplier{s}, serde.Int64(), serde.Int64()).BuildStore()
	hammer(t, scanMethods(typed, 0, n+m-1), 200, write, func(kvs []i64kv, reverse bool) (int64, error) {
		if len(kvs) == 0 {
			return 0, errors.New("empty snapshot")
		}
		g := kvs[0].Value
		want := n
		if g%2 == 0 {
			want = n + m
		}
		if len(kvs) != want {
			return 0, fmt.Errorf("generation %d: saw %d keys, want %d: a Write was seen half applied", g, len(kvs), want)
		}
		return oneGeneration(kvs, want, reverse)
	})
}

// constSupplier supplies an already open store, to put the typed layer on a
// store a test holds.
type constSupplier struct{ s state.KeyValueBytesStore }

func (c constSupplier) Name() string                  { return c.s.Name() }
func (c constSupplier) Get() state.KeyValueBytesStore { return c.s }

// A range loop reads the snapshot taken when it started: writes made by its
// own body afterwards are not seen.
func TestIteratorDoesNotSeeLaterWrites(t *testing.T) {
	t.Parallel()
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprint("reverse=", reverse), func(t *testing.T) {
			t.Parallel()
			s := openBytes(t, t.TempDir(), "Snap", Options{})
			for _, k := range []string{"a", "b", "c", "d"} {
				require.NoError(t, s.Put(b(k), b("old")))
			}
			var got []bkv
			for kv, err := range s.Scan(state.KeyRange{}, reverse) {
				require.NoError(t, err)
				got = append(got, kv)
				if len(got) == 1 {
					for _, k := range []string{"a", "b", "c", "d"} {
						require.NoError(t, s.Put(b(k), b("new")))
					}
					_, _, err := s.Delete(b("c"))
					require.NoError(t, err)
					require.NoError(t, s.Write([]bkv{{Key: b("bb"), Value: b("new")}, {Key: b("0"), Value: b("new")}, {Key: b("b")}}))
				}
			}
			want := []string{"a=old", "b=old", "c=old", "d=old"}
			if reverse {
				want = []string{"d=old", "c=old", "b=old", "a=old"}
			}
			require.Equal(t, want, strs(got))
			require.Equal(t, []string{"0=new", "a=new", "bb=new", "d=new"}, strs(collect(t, s.Scan(state.KeyRange{}, false))))
		})
	}
}

// An iterator opened and paused on another goroutine keeps its snapshot
// while the owner rewrites the store, and finishes with the old state.
func TestIteratorOnAnotherGoroutineWhileOwnerWrites(t *testing.T) {
	t.Parallel()
	const n = 500
	s := openTyped(t, "Shared", serde.Int64(), serde.Int64())
	for k := range int64(n) {
		require.NoError(t, s.Put(k, 0))
	}

	paused, resume := make(chan struct{}), make(chan struct{})
	result := make(chan []i64kv, 1)
	errc := make(chan error, 1)
	go func() {
		var got []i64kv
		for kv, err := range s.All() {
			if err != nil {
				errc <- err
				return
			}
			got = append(got, kv)
			if len(got) == 1 {
				close(paused)
				<-resume
			}
		}
		result <- got
	}()

	<-paused
	for k := range int64(n) {
		require.NoError(t, s.Put(k, 1))
	}
	for k := int64(0); k < n; k += 2 {
		_, _, err := s.Delete(k)
		require.NoError(t, err)
	}
	for k := int64(n); k < 2*n; k++ {
		require.NoError(t, s.Put(k, 1))
	}
	require.NoError(t, s.Flush())
	close(resume)

	select {
	case err := <-errc:
		require.NoError(t, err)
	case got := <-result:
		require.Len(t, got, n)
		for i, kv := range got {
			require.Equal(t, i64kv{Key: int64(i), Value: 0}, kv)
		}
	}
	cur := collect(t, s.All())
	require.Len(t, cur, n/2+n)
	for _, kv := range cur {
		require.EqualValues(t, 1, kv.Value)
	}
}

// Close waits for a range loop running on another goroutine: the loop,
// paused inside its body when Close is called, resumes and reads the rest
// of its snapshot from a database that is still open; Close returns only
// after the loop ended. Meanwhile new operations get ErrStoreClosed, also
// from inside the running loop, instead of deadlocking.
func TestCloseWaitsForRunningScan(t *testing.T) {
	t.Parallel()
	const n = 1000
	s := openBytes(t, t.TempDir(), "Closing", Options{})
	var batch []bkv
	for i := range n {
		batch = append(batch, bkv{Key: fmt.Appendf(nil, "k%04d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	require.NoError(t, s.PutAll(batch))

	paused, resume := make(chan struct{}), make(chan struct{})
	type result struct {
		kvs      []bkv
		innerErr error // a Get inside the loop, after Close began
		err      error
	}
	res := make(chan result, 1)
	go func() {
		var r result
		for kv, err := range s.Scan(state.KeyRange{}, false) {
			if err != nil {
				r.err = err
				break
			}
			r.kvs = append(r.kvs, kv)
			if len(r.kvs) == 1 {
				close(paused)
				<-resume
				_, _, r.innerErr = s.Get(b("k0001"))
			}
		}
		res <- r
	}()

	<-paused
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close has begun once a new operation is refused; until the scan ends
	// it cannot have returned, whatever the scheduling.
	for {
		if _, _, err := s.Get(b("k0000")); errors.Is(err, state.ErrStoreClosed) {
			break
		}
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a scan was running", err)
	default:
	}
	require.EqualValues(t, 1, s.gate.Load()&gateCount, "the scan holds the gate")
	close(resume)

	r := <-res
	require.NoError(t, r.err)
	require.ErrorIs(t, r.innerErr, state.ErrStoreClosed)
	require.Equal(t, strs(batch), strs(r.kvs), "the scan finished on its snapshot")
	require.NoError(t, <-closed)
	require.Nil(t, s.db)

	// A loop that starts after Close yields ErrStoreClosed once.
	kvs, errs, err := drain(s.Scan(state.KeyRange{}, false))
	require.Empty(t, kvs)
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, state.ErrStoreClosed)
}

// Close while readers on other goroutines scan and get: a loop that started
// before Close finishes with a consistent snapshot, one that starts after
// yields ErrStoreClosed alone; nothing races or crashes.
func TestCloseWhileReadersRange(t *testing.T) {
	t.Parallel()
	const (
		n       = 32
		readers = 4
		writes  = 200
	)
	s := openTyped(t, "Closing", serde.Int64(), serde.Int64())
	batch := make([]i64kv, n)
	putGeneration := func(g int64) error {
		for k := range batch {
			batch[k] = i64kv{Key: int64(k), Value: g}
		}
		return s.PutAll(batch)
	}
	require.NoError(t, putGeneration(0))

	var wg sync.WaitGroup
	errs := make([]error, readers)
	scans := make([]int, readers)
	for r := range readers {
		wg.Go(func() {
			for {
				if _, _, err := s.Get(int64(r)); errors.Is(err, state.ErrStoreClosed) {
					return
				} else if err != nil {
					errs[r] = err
					return
				}
				kvs, n, err := drain(s.All())
				if errors.Is(err, state.ErrStoreClosed) && n == 1 && len(kvs) == 0 {
					return // the expected end
				}
				if err != nil {
					errs[r] = err
					return
				}
				if _, err := oneGeneration(kvs, len(batch), false); err != nil {
					errs[r] = err
					return
				}
				scans[r]++
			}
		})
	}
	for g := int64(1); g <= writes; g++ {
		require.NoError(t, putGeneration(g))
	}
	require.NoError(t, s.Close())
	wg.Wait()
	for r := range readers {
		require.NoError(t, errs[r], "reader %d", r)
	}
	t.Logf("scans before close: %v", scans)
}
