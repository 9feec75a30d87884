package state

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// openCached returns a typed store built WithCaching over a memory backend
// with the given cache size, logging to log.
func openCached(t *testing.T, maxBytes int64, log ChangelogWriter) KeyValueStore[string, string] {
	t.Helper()
	b := NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String()).WithCaching()
	st := b.BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log, CacheMaxBytes: maxBytes}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestCacheCollapsesWritesUntilFlush(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openCached(t, 0, log)
	for i := range 100 {
		require.NoError(t, st.Put("a", fmt.Sprint(i)))
		require.NoError(t, st.Put("b", fmt.Sprint(i)))
	}
	require.NoError(t, st.Put("gone", "x"))
	_, had, err := st.Delete("gone")
	require.NoError(t, err)
	require.True(t, had)
	require.Empty(t, log.got, "nothing reaches the changelog before the commit")

	// The task reads its own writes.
	v, ok, err := st.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "99", v)
	_, ok, err = st.Get("gone")
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, st.Flush())
	// One change per key, the last value, in key order; a key put and
	// deleted in the same interval is written down as its tombstone.
	require.Equal(t, []string{"s:a=99", "s:b=99", "s:gone=<tombstone>"}, log.got)

	log.got = nil
	require.NoError(t, st.Flush())
	require.Empty(t, log.got, "a second flush with nothing new writes nothing")
}

// Without WithCaching every write is logged: the cache is what collapses.
func TestNoCacheLogsEveryWrite(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openLogged(t, NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String()), log).(KeyValueStore[string, string])
	for i := range 3 {
		require.NoError(t, st.Put("a", fmt.Sprint(i)))
	}
	require.Equal(t, []string{"s:a=0", "s:a=1", "s:a=2"}, log.got)
}

func TestCommittedViewSeesOnlyFlushedWrites(t *testing.T) {
	t.Parallel()
	st := openCached(t, 0, &changes{})
	view := st.(committedViewer).CommittedView().(ReadOnlyKeyValueStore[string, string])
	require.NoError(t, st.Put("a", "1"))
	_, ok, err := view.Get("a")
	require.NoError(t, err)
	require.False(t, ok, "the view must not see an unflushed write")
	require.Empty(t, collect(t, view.All()))

	require.NoError(t, st.Flush())
	v, ok, err := view.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "1", v)

	_, _, err = st.Delete("a")
	require.NoError(t, err)
	require.Equal(t, []KeyValue[string, string]{{Key: "a", Value: "1"}}, collect(t, view.All()))
	require.NoError(t, st.Flush())
	require.Empty(t, collect(t, view.All()))

	// A store without a cache is its own view.
	plain, _ := openStore(t, "plain", serde.String(), serde.String())
	require.Same(t, plain, plain.CommittedView())
}

// A cache too small for the writes of one interval writes them down early,
// in one batch, and loses nothing.
func TestCacheOverflowWritesDown(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openCached(t, 10*cacheEntryOverhead, log)
	for i := range 50 {
		require.NoError(t, st.Put(fmt.Sprintf("k%02d", i), "v"))
	}
	require.NotEmpty(t, log.got, "an overflowing cache writes down before the commit")
	require.NoError(t, st.Flush())
	require.Len(t, log.got, 50, "every key written down exactly once")
	got := collect(t, st.All())
	require.Len(t, got, 50)
	c := st.(*keyValueStore[string, string]).inner.(*cachedStore)
	c.mu.Lock()
	defer c.mu.Unlock()
	require.LessOrEqual(t, c.mu.bytes, int64(10*cacheEntryOverhead), "reads kept the cache within its size")
}

// Close drops what was not flushed: a store closed without a commit must not
// write down (or log) what was never committed.
func TestCacheCloseDropsUnflushedWrites(t *testing.T) {
	t.Parallel()
	log := &changes{}
	backend := newMemoryStore("s")
	c := newCachedStore(newLoggedStore(backend), true)
	require.NoError(t, c.Init(StoreContext{TaskID: "0_0", Changelog: log}))
	require.NoError(t, c.Put([]byte("a"), []byte("1")))
	require.NoError(t, c.Close())
	require.Empty(t, log.got)
	require.ErrorIs(t, c.Put([]byte("a"), []byte("2")), ErrStoreClosed)
	require.ErrorIs(t, c.Flush(), ErrStoreClosed)
	_, _, err := c.Get([]byte("a"))
	require.ErrorIs(t, err, ErrStoreClosed)

	fresh := newCachedStore(newMemoryStore("t"), true)
	require.ErrorIs(t, fresh.Put([]byte("a"), []byte("1")), ErrStoreNotInitialized)
}

// Restoring goes below the cache, and drops whatever the cache held, so a
// read after a restore sees the restored value.
func TestCacheRestoreAndWipe(t *testing.T) {
	t.Parallel()
	st := openCached(t, 0, &changes{})
	_, _, err := st.Get("a") // a miss, not cached
	require.NoError(t, err)
	require.NoError(t, st.Put("b", "stale"))
	r := st.(restorer)
	require.NoError(t, r.Restore([]KeyValue[[]byte, []byte]{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}))
	require.Equal(t, []KeyValue[string, string]{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, collect(t, st.All()))
	v, _, err := st.Get("b")
	require.NoError(t, err)
	require.Equal(t, "2", v)
	require.NoError(t, r.Wipe())
	require.Empty(t, collect(t, st.All()))
	_, ok, err := st.Get("a")
	require.NoError(t, err)
	require.False(t, ok)
}

// A scan's snapshot of the cache is taken when the loop starts: writes made
// while it runs do not show.
func TestCacheScanIsASnapshot(t *testing.T) {
	t.Parallel()
	st := openCached(t, 0, &changes{})
	require.NoError(t, st.Put("a", "1"))
	require.NoError(t, st.Put("c", "3"))
	require.NoError(t, st.Flush())
	require.NoError(t, st.Put("b", "2"))
	var keys []string
	for kv, err := range st.All() {
		require.NoError(t, err)
		keys = append(keys, kv.Key)
		require.NoError(t, st.Put("bb", "late"))
		_, _, err = st.Delete("c")
		require.NoError(t, err)
	}
	require.Equal(t, []string{"a", "b", "c"}, keys)
	require.Equal(t, []string{"bb", "b", "a"}, keysOf(collect(t, st.ReverseAll())))
}

// The cache over a memory store must answer exactly as the store alone would,
// across random writes, deletions, batches, flushes, overflows, and reads
// and scans (forward, backward, bounded, open) in between.
func TestCachedStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{0, 2000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			c := newCachedStore(newMemoryStore("m"), true)
			require.NoError(t, c.Init(StoreContext{TaskID: "0_0", CacheMaxBytes: size}))
			t.Cleanup(func() { _ = c.Close() })
			model := kvModel{}
			key := func() []byte { return fmt.Appendf(nil, "k%03d", rng.IntN(300)) }
			for op := range 20000 {
				switch r := rng.IntN(100); {
				case r < 40:
					k, v := key(), fmt.Appendf(nil, "v%d", op)
					require.NoError(t, c.Put(k, v))
					model[string(k)] = string(v)
				case r < 55:
					k := key()
					old, ok, err := c.Delete(k)
					require.NoError(t, err)
					model.requireAnswer(t, "delete", k, old, ok)
					delete(model, string(k))
				case r < 62:
					require.NoError(t, c.Write(model.randomBatch(rng, key, 6, op)))
				case r < 65:
					require.NoError(t, c.Flush())
				case r < 90:
					k := key()
					v, ok, err := c.Get(k)
					require.NoError(t, err)
					model.requireAnswer(t, "get", k, v, ok)
				default:
					var kr KeyRange
					if rng.IntN(2) == 0 {
						kr.Lower, kr.HasLower = key(), true
					}
					if rng.IntN(2) == 0 {
						kr.Upper, kr.HasUpper = key(), true
					}
					reverse := rng.IntN(2) == 0
					seq := c.Scan(kr, reverse)
					if rng.IntN(2) == 0 {
						seq = c.scanShared(kr, reverse)
					}
					require.Equal(t, model.scan(kr, reverse), kvStrings(collect(t, seq)), "scan %+v reverse=%v at op %d", kr, reverse, op)
				}
			}
			// What was written down, after a last flush, is the model.
			require.NoError(t, c.Flush())
			require.Equal(t, model.scan(KeyRange{}, false), kvStrings(collect(t, c.inner.Scan(KeyRange{}, false))))
		})
	}
}

// Readers on other goroutines (a processor may hand an iterator off) while
// the task writes and flushes: the hammer of TestConcurrentRangesSeeOneGeneration,
// through the caching layer, with a cache that every generation overflows
// and with one that holds a generation until the flush. Run under -race.
func TestCacheConcurrentReaders(t *testing.T) {
	t.Parallel()
	const n = 64
	for _, size := range []int64{4000, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			st := NewKeyValueStoreBuilder(InMemoryKeyValueStore("m"), serde.Int64(), serde.Int64()).WithCaching().BuildStore()
			require.NoError(t, st.Init(StoreContext{TaskID: "0_0", CacheMaxBytes: size}))
			t.Cleanup(func() { _ = st.Close() })
			batch := make([]i64kv, n)
			g := int64(0)
			putGeneration := func() {
				for k := range batch {
					batch[k] = i64kv{Key: int64(k), Value: g}
				}
				require.NoError(t, st.PutAll(batch))
				if g%10 == 0 {
					require.NoError(t, st.Flush())
				}
				g++
			}
			putGeneration()

			hammer(t, hammerConfig{
				methods: scanMethods(st, 0, n-1),
				check: func(kvs []i64kv, reverse bool) (int64, error) {
					return oneGeneration(kvs, n, reverse)
				},
				afterScan: func(rng *rand.Rand, last int64) (int64, error) {
					v, ok, err := st.Get(rng.Int64N(n))
					// A Get after a scan sees its generation or a later one.
					if err != nil || !ok || v < last {
						return 0, fmt.Errorf("get: %d %v %v, last generation %d", v, ok, err, last)
					}
					return max(v, last), nil
				},
				write:    putGeneration,
				minScans: 300,
			})
		})
	}
}

// The window and session model tests again, through the caching layer with a
// cache small enough to overflow now and then: the cached stores must
// answer as the plain ones do, drops counted the same way.
func TestCachedWindowStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, dups := range []bool{false, true} {
		t.Run(fmt.Sprintf("dups=%v", dups), func(t *testing.T) {
			t.Parallel()
			const retention = 3 * time.Minute
			st := NewWindowStoreBuilder(InMemoryWindowStore("model", retention, 30*time.Second, dups), serde.String(), serde.String()).
				WithCaching().BuildStore()
			require.NoError(t, st.Init(StoreContext{ApplicationID: "app", TaskID: "0_0", CacheMaxBytes: 3000}))
			t.Cleanup(func() { _ = st.Close() })
			runWindowModel(t, st, dups, retention, 3, 6000)
		})
	}
}

func TestCachedSessionStoreMatchesModel(t *testing.T) {
	t.Parallel()
	const retention = 3 * time.Minute
	st := NewSessionStoreBuilder(InMemorySessionStore("model", retention), serde.String(), serde.String()).
		WithCaching().BuildStore()
	require.NoError(t, st.Init(StoreContext{ApplicationID: "app", TaskID: "0_0", CacheMaxBytes: 3000}))
	t.Cleanup(func() { _ = st.Close() })
	runSessionModel(t, st, retention, 3, 6000)
}

// A window store with a cache logs one change per window per commit, and its
// committed view sees only what was flushed.
func TestCachedWindowStoreCollapsesAndViews(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Hour, time.Minute, false), serde.String(), serde.String()).
		WithCaching().BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	for i := range 10 {
		require.NoError(t, st.Put("a", fmt.Sprint(i), time.UnixMilli(60_000)))
	}
	view := st.(committedViewer).CommittedView().(ReadOnlyWindowStore[string, string])
	_, ok, err := view.FetchOne("a", time.UnixMilli(60_000))
	require.NoError(t, err)
	require.False(t, ok)
	v, ok, err := st.FetchOne("a", time.UnixMilli(60_000))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "9", v)
	require.Empty(t, log.got)
	require.NoError(t, st.Flush())
	require.Len(t, log.got, 1)
	require.True(t, strings.HasSuffix(log.got[0], "=9"), log.got[0])
	v, ok, err = view.FetchOne("a", time.UnixMilli(60_000))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "9", v)
}
