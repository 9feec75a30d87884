package state

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
)

// These tests check the promise of DESIGN.md, "range reads you can trust from
// any goroutine": run them with -race. Every loop is bounded by a count, never
// by sleeping: readers do a fixed number of scans and the writer keeps writing
// until they are done.

type i64kv = KeyValue[int64, int64]

// scanMethod is one way a reader ranges over the whole store; the hammer
// tests give every iterator a reader of its own.
type scanMethod struct {
	name    string
	reverse bool
	seq     func() iter.Seq2[i64kv, error]
}

func scanMethods(s KeyValueStore[int64, int64], lo, hi int64) []scanMethod {
	return []scanMethod{
		{"All", false, s.All},
		{"ReverseAll", true, s.ReverseAll},
		{"Range", false, func() iter.Seq2[i64kv, error] { return s.Range(&lo, &hi) }},
		{"ReverseRange", true, func() iter.Seq2[i64kv, error] { return s.ReverseRange(&lo, &hi) }},
		{"Range open", false, func() iter.Seq2[i64kv, error] { return s.Range(nil, nil) }},
	}
}

// hammerConfig describes one hammer test.
type hammerConfig struct {
	methods []scanMethod
	// check validates one snapshot and returns its version, which must
	// never go backwards for one reader.
	check func(kvs []i64kv, reverse bool) (version int64, err error)
	// afterScan, if set, runs after each scan with the last version seen
	// and returns the version it observed.
	afterScan func(rng *rand.Rand, last int64) (int64, error)
	// write is one atomic write by the owner; it runs on the test
	// goroutine.
	write func()
	// minScans is how many scans each reader does at least.
	minScans int
}

// readerReport is what a reader goroutine hands back to the test goroutine,
// which alone may call require.
type readerReport struct {
	name       string
	scans      int
	versions   int // distinct versions seen
	overlapped int // scans during which the writer wrote
	err        error
}

// hammer runs one reader goroutine per scan method while the test goroutine,
// the store's single writer, keeps writing until every reader is done.
//
// A reader stops after minScans scans, but only once it has seen at least
// three versions and at least one of its scans overlapped a write (the
// writer's counter moved while the range loop ran): without that the test
// would pass without testing anything. maxScans bounds the loop should the
// writer stall.
func hammer(t *testing.T, cfg hammerConfig) {
	t.Helper()
	maxScans := 200 * cfg.minScans
	var written atomic.Int64
	var running atomic.Int32
	running.Store(int32(len(cfg.methods)))
	reports := make(chan readerReport, len(cfg.methods))
	for r, m := range cfg.methods {
		go func() {
			defer running.Add(-1)
			rep := readerReport{name: m.name}
			defer func() { reports <- rep }()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			last, seen := int64(-1), map[int64]bool{}
			for ; rep.scans < cfg.minScans || len(seen) < 3 || rep.overlapped == 0; rep.scans++ {
				if rep.scans == maxScans {
					rep.err = fmt.Errorf("after %d scans: %d versions seen, %d scans overlapped a write: is the writer stuck?",
						rep.scans, len(seen), rep.overlapped)
					return
				}
				before := written.Load()
				kvs, errs, err := drain(m.seq())
				if written.Load() != before {
					rep.overlapped++
				}
				if err != nil || errs != 0 {
					rep.err = fmt.Errorf("scan %d: %d errors, last %w", rep.scans, errs, err)
					return
				}
				v, err := cfg.check(kvs, m.reverse)
				if err != nil {
					rep.err = fmt.Errorf("scan %d: %w", rep.scans, err)
					return
				}
				if v < last {
					rep.err = fmt.Errorf("scan %d: went back from version %d to %d", rep.scans, last, v)
					return
				}
				last, seen[v] = v, true
				if cfg.afterScan != nil {
					if last, err = cfg.afterScan(rng, last); err != nil {
						rep.err = fmt.Errorf("after scan %d: %w", rep.scans, err)
						return
					}
				}
			}
			rep.versions = len(seen)
		}()
	}

	for running.Load() > 0 {
		cfg.write()
		written.Add(1)
	}
	for range cfg.methods {
		rep := <-reports
		require.NoError(t, rep.err, rep.name)
		t.Logf("%s: %d scans, %d versions, %d overlapped a write", rep.name, rep.scans, rep.versions, rep.overlapped)
	}
	t.Logf("writes: %d", written.Load())
}

// The writer sets all n keys to generation g with one PutAll, g = 1, 2, ...
// Every snapshot a reader takes must hold all n keys, in order, at a single
// generation; the generations one reader sees never go backwards, nor do the
// values its Gets return.
func TestConcurrentRangesSeeOneGeneration(t *testing.T) {
	t.Parallel()
	const n = 128
	s, _ := openStore(t, "Generations", serde.Int64(), serde.Int64())
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

	hammer(t, hammerConfig{
		methods: scanMethods(s, 0, n-1),
		check: func(kvs []i64kv, reverse bool) (int64, error) {
			return oneGeneration(kvs, n, reverse)
		},
		afterScan: func(rng *rand.Rand, last int64) (int64, error) {
			v, ok, err := s.Get(rng.Int64N(n))
			if err != nil || !ok || v < last {
				return 0, fmt.Errorf("get: %d %v %v, last generation %d", v, ok, err, last)
			}
			return v, nil
		},
		write:    putGeneration,
		minScans: 1000,
	})
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
			return 0, fmt.Errorf("mixed generations %d and %d (key %d): a PutAll was seen half applied", g, kv.Value, kv.Key)
		}
	}
	return g, nil
}

// The writer moves units between accounts, both sides in one PutAll, so the
// total never changes; key -1 counts the transfers in the same PutAll. Every
// snapshot must hold every account and the constant total, and the count
// never goes backwards.
func TestConcurrentRangesSeeConstantTotal(t *testing.T) {
	t.Parallel()
	const (
		accounts = 64
		initial  = 1000
		total    = accounts * initial
		seqKey   = -1
	)
	s, _ := openStore(t, "Accounts", serde.Int64(), serde.Int64())
	init := []i64kv{{Key: seqKey, Value: 0}}
	for k := range accounts {
		init = append(init, i64kv{Key: int64(k), Value: initial})
	}
	require.NoError(t, s.PutAll(init))

	rng := rand.New(rand.NewPCG(42, 42))
	transfers := int64(0)
	transfer := func() {
		from, to := rng.Int64N(accounts), rng.Int64N(accounts-1)
		if to >= from {
			to++
		}
		a, _, err := s.Get(from)
		require.NoError(t, err)
		b, _, err := s.Get(to)
		require.NoError(t, err)
		amount := rng.Int64N(50) + 1
		transfers++
		require.NoError(t, s.PutAll([]i64kv{
			{Key: from, Value: a - amount},
			{Key: seqKey, Value: transfers},
			{Key: to, Value: b + amount},
		}))
	}

	hammer(t, hammerConfig{
		methods: scanMethods(s, seqKey, accounts-1),
		check: func(kvs []i64kv, _ bool) (int64, error) {
			if len(kvs) != accounts+1 {
				return 0, fmt.Errorf("saw %d keys, want %d", len(kvs), accounts+1)
			}
			var sum, seq int64
			for _, kv := range kvs {
				if kv.Key == seqKey {
					seq = kv.Value
					continue
				}
				sum += kv.Value
			}
			if sum != total {
				return 0, fmt.Errorf("total %d, want %d: a transfer was seen half applied", sum, total)
			}
			return seq, nil
		},
		write:    transfer,
		minScans: 1000,
	})
}

// A range loop reads the snapshot taken when it started: writes made by its
// own body afterwards are not seen, whichever iterator.
func TestIteratorDoesNotSeeLaterWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seq  func(s KeyValueStore[string, string]) iter.Seq2[skv, error]
		want []string
	}{
		{"All", func(s KeyValueStore[string, string]) iter.Seq2[skv, error] { return s.All() }, []string{"a", "b", "c", "d"}},
		{"ReverseAll", func(s KeyValueStore[string, string]) iter.Seq2[skv, error] { return s.ReverseAll() }, []string{"d", "c", "b", "a"}},
		{"Range", func(s KeyValueStore[string, string]) iter.Seq2[skv, error] { return s.Range(ptr("a"), ptr("d")) }, []string{"a", "b", "c", "d"}},
		{"ReverseRange", func(s KeyValueStore[string, string]) iter.Seq2[skv, error] { return s.ReverseRange(nil, ptr("d")) }, []string{"d", "c", "b", "a"}},
		{"PrefixScan", func(s KeyValueStore[string, string]) iter.Seq2[skv, error] { return s.PrefixScan("") }, []string{"a", "b", "c", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openStore(t, "Snap", serde.String(), serde.String())
			for _, k := range []string{"a", "b", "c", "d"} {
				require.NoError(t, s.Put(k, "old"))
			}
			var got []skv
			for kv, err := range tc.seq(s) {
				require.NoError(t, err)
				got = append(got, kv)
				if len(got) == 1 {
					for _, k := range []string{"a", "b", "c", "d"} {
						require.NoError(t, s.Put(k, "new"))
					}
					_, _, err := s.Delete("c")
					require.NoError(t, err)
					require.NoError(t, s.PutAll([]skv{{"bb", "new"}, {"0", "new"}, {"e", "new"}}))
				}
			}
			var want []skv
			for _, k := range tc.want {
				want = append(want, skv{Key: k, Value: "old"})
			}
			require.Equal(t, want, got)

			// A new loop sees the writes.
			require.Equal(t, []string{"0", "a", "b", "bb", "d", "e"}, keysOf(collect(t, s.All())))
		})
	}
}

// An iterator opened and paused on another goroutine keeps its snapshot
// while the owner rewrites the store, and finishes with the old state.
func TestIteratorOnAnotherGoroutineWhileOwnerWrites(t *testing.T) {
	t.Parallel()
	const n = 500
	s, _ := openStore(t, "Shared", serde.Int64(), serde.Int64())
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
	// The reader holds an open iterator. Rewrite every key, delete half
	// and add more.
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

// The sequence returned by All holds no snapshot: each range loop over it
// takes its own, when the loop starts.
func TestSequenceSnapshotsPerLoop(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Seq", serde.String(), serde.String())
	seq := s.All()
	require.NoError(t, s.Put("a", "1"))
	require.Equal(t, []skv{{"a", "1"}}, collect(t, seq))
	require.NoError(t, s.Put("b", "2"))
	require.Equal(t, []skv{{"a", "1"}, {"b", "2"}}, collect(t, seq))
}

// Close while readers on other goroutines range: a loop that started before
// Close finishes with a consistent snapshot, one that starts after yields
// ErrStoreClosed alone; nothing races.
func TestCloseWhileReadersRange(t *testing.T) {
	t.Parallel()
	const (
		n       = 32
		readers = 4
		writes  = 300
	)
	s, _ := openStore(t, "Closing", serde.Int64(), serde.Int64())
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
	scansBefore := make([]int, readers)
	for r := range readers {
		wg.Go(func() {
			for {
				kvs, n, err := drain(s.All())
				if errors.Is(err, ErrStoreClosed) && n == 1 && len(kvs) == 0 {
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
				scansBefore[r]++
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
	t.Logf("scans before close: %v", scansBefore)
}
