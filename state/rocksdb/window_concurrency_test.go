package rocksdb

import (
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Readers on other goroutines scan a RocksDB window store while the owner
// writes, stream time moves on, and segments (RocksDB databases) are
// created, expire and are deleted under them. Run with -race.
//
// The g-th write puts generation g into the window starting at g seconds,
// for key g%4; with a retention of 120 s every snapshot must hold exactly
// the 120 generations up to its newest, with no gap.
func TestWindowScansWhileOwnerWritesAndSegmentsExpire(t *testing.T) {
	t.Parallel()
	const (
		keys = 4
		live = 120
	)
	dir := t.TempDir()
	st := state.NewWindowStoreBuilder(WindowStore("Race", smallOpts, live*time.Second, time.Second, false), serde.Int64(), serde.Int64()).
		WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0", Dir: dir}))
	t.Cleanup(func() { _ = st.Close() })
	g := int64(0)
	put := func() {
		require.NoError(t, st.Put(g%keys, g, time.Unix(g, 0)))
		g++
	}
	for range live {
		put()
	}
	// Several puts per write, so that segments (of 60 generations) come and
	// go many times during the readers' scans.
	write := func() {
		for range 4 {
			put()
		}
	}
	adapt := func(seq iter.Seq2[state.KeyValue[state.Windowed[int64], int64], error]) iter.Seq2[i64kv, error] {
		return func(yield func(i64kv, error) bool) {
			for kv, err := range seq {
				if !yield(i64kv{Key: kv.Key.Start.Unix(), Value: kv.Value}, err) || err != nil {
					return
				}
			}
		}
	}
	lo, hi := time.Time{}, time.Unix(1<<40, 0)
	methods := []scanMethod{
		{"All", false, func() iter.Seq2[i64kv, error] { return adapt(st.All()) }},
		{"BackwardAll", true, func() iter.Seq2[i64kv, error] { return adapt(st.BackwardAll()) }},
		{"FetchAll", false, func() iter.Seq2[i64kv, error] { return adapt(st.FetchAll(lo, hi)) }},
		{"FetchRange", false, func() iter.Seq2[i64kv, error] { return adapt(st.FetchRange(nil, nil, lo, hi)) }},
	}
	hammer(t, methods, 400, write, func(kvs []i64kv, reverse bool) (int64, error) {
		newest := int64(-1)
		seen := map[int64]bool{}
		for i, kv := range kvs {
			if kv.Key != kv.Value || seen[kv.Value] {
				return 0, fmt.Errorf("generation %d in the window of %d, or twice", kv.Value, kv.Key)
			}
			seen[kv.Value] = true
			newest = max(newest, kv.Value)
			if i > 0 {
				a, b := kvs[i-1].Value, kv.Value
				if reverse {
					a, b = b, a
				}
				if a%keys > b%keys || a%keys == b%keys && a >= b {
					return 0, fmt.Errorf("generation %d before %d: out of order", kvs[i-1].Value, kv.Value)
				}
			}
		}
		if len(kvs) != live {
			return 0, fmt.Errorf("%d generations up to %d, want %d", len(kvs), newest, live)
		}
		for v := newest - live + 1; v <= newest; v++ {
			if !seen[v] {
				return 0, fmt.Errorf("generation %d missing below newest %d", v, newest)
			}
		}
		return newest, nil
	})
	require.Greater(t, g, int64(live+3*60), "too few segments expired during the test")
	require.LessOrEqual(t, len(segmentDirs(t, dir, "Race")), 3, "expired segments are deleted")
}

// A RocksDB segment that expires while a scan on another goroutine reads
// it stays open for that scan; the scan deletes it when it ends. Close
// waits for such a scan, so that no segment of the closed store is left
// open or on disk to clash with the next store opened on the directory.
func TestSegmentDroppedUnderScanAndClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openWindow(t, WindowStore("W", smallOpts, 2*time.Minute, time.Second, false), dir, nil)
	for i := range int64(100) {
		require.NoError(t, st.Put(fmt.Sprint(i), "old", at(i*100)))
	}
	require.Equal(t, []string{"W.0"}, segmentDirs(t, dir, "W"))

	paused, resume := make(chan struct{}), make(chan struct{})
	type result struct {
		n        int
		innerErr error
		err      error
	}
	res := make(chan result, 1)
	go func() {
		var r result
		for _, err := range st.All() {
			if err != nil {
				r.err = err
				break
			}
			r.n++
			if r.n == 1 {
				close(paused)
				<-resume
				_, _, r.innerErr = st.FetchOne("1", at(100))
			}
		}
		res <- r
	}()
	<-paused
	require.NoError(t, st.Put("new", "new", at(10*time.Minute.Milliseconds()))) // expires W.0
	require.ElementsMatch(t, []string{"W.0", "W.600000"}, segmentDirs(t, dir, "W"), "the scan still reads W.0")
	_, ok, err := st.FetchOne("1", at(100))
	require.NoError(t, err)
	require.False(t, ok, "new reads do not see it")

	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	// Close has begun once a new operation is refused.
	for {
		if _, _, err := st.FetchOne("new", at(0)); errors.Is(err, state.ErrStoreClosed) {
			break
		}
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a scan was reading a dropped segment", err)
	default:
	}
	close(resume)
	r := <-res
	require.NoError(t, r.err)
	require.ErrorIs(t, r.innerErr, state.ErrStoreClosed)
	require.Equal(t, 100, r.n, "the scan finished on its snapshot")
	require.NoError(t, <-closed)
	require.Equal(t, []string{"W.600000"}, segmentDirs(t, dir, "W"), "the scan deleted W.0 when it ended")

	// The next store on the directory finds only the live segment.
	again := openWindow(t, WindowStore("W", smallOpts, 2*time.Minute, time.Second, false), dir, nil)
	require.Equal(t, []string{`"new"@600000-601000=new`}, render(collect(t, again.All())))
}
