package state

import (
	"errors"
	"iter"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingSegments is an in-memory SegmentFactory that records what it
// makes and destroys, and fails on demand.
type recordingSegments struct {
	mu          sync.Mutex
	made        []string
	destroyed   []string
	failInit    string // a segment whose Init fails
	failDestroy error  // returned by every DestroySegment
	faults      int    // how many injected faults fired
}

var errInjected = errors.New("injected segment fault")

func (f *recordingSegments) NewSegment(name string) KeyValueBytesStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made = append(f.made, name)
	if name == f.failInit {
		f.faults++
		return failingInit{InMemoryKeyValueStore(name).Get()}
	}
	return InMemoryKeyValueStore(name).Get()
}

func (f *recordingSegments) Persistent() bool { return false }

func (f *recordingSegments) ExistingSegments(StoreContext, string) ([]string, error) {
	return nil, nil
}

func (f *recordingSegments) DestroySegment(_ StoreContext, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed = append(f.destroyed, name)
	if f.failDestroy != nil {
		f.faults++
	}
	return f.failDestroy
}

func (f *recordingSegments) state() (made, destroyed []string, faults int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.made), slices.Clone(f.destroyed), f.faults
}

type failingInit struct{ KeyValueBytesStore }

func (failingInit) Init(StoreContext) error { return errInjected }

// openSegmented returns an initialized window-keyed segmented store over f.
func openSegmented(t *testing.T, f SegmentFactory, retention time.Duration) *segmentedStore {
	t.Helper()
	s := newSegmentedStore("w", windowSchema{}, f, retention)
	require.NoError(t, s.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func wkey(k string, ms int64) []byte { return encodeWindowKey(nil, []byte(k), ms, 0) }

func segIDs(s *segmentedStore) []int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []int64
	for _, g := range s.mu.segs {
		ids = append(ids, g.id)
	}
	return ids
}

func mustPut(t *testing.T, s SegmentedBytesStore, key []byte) bool {
	t.Helper()
	stored, err := s.Put(key, []byte("v"))
	require.NoError(t, err)
	return stored
}

func TestSegmentsAreMadeAndDropped(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{}
	s := openSegmented(t, f, 2*time.Minute) // segments of a minute
	require.Equal(t, 2*time.Minute, s.Retention())
	for _, ms := range []int64{-1, 0, 61_000, 119_000} {
		require.True(t, mustPut(t, s, wkey("k", ms)))
	}
	require.Equal(t, []int64{-1, 0, 1}, segIDs(s))
	made, destroyed, _ := f.state()
	require.Equal(t, []string{"w.-60000", "w.0", "w.60000"}, made)
	require.Empty(t, destroyed)
	// Observed stream time 181s: every time up to 61s has expired, so
	// segments -1 and 0 go; segment 1 (60s–120s) still holds live times.
	require.True(t, mustPut(t, s, wkey("k", 181_000)))
	require.Equal(t, []int64{1, 3}, segIDs(s))
	_, destroyed, _ = f.state()
	require.Equal(t, []string{"w.-60000", "w.0"}, destroyed)
	// The 61s window expired with its segment alive: reads skip it.
	_, ok, err := s.Get(wkey("k", 61_000))
	require.NoError(t, err)
	require.False(t, ok)
	kvs := collect(t, s.Scan(KeyRange{}, minMs, maxMs, false))
	require.Len(t, kvs, 2)
	require.Zero(t, s.DroppedRecords())
	require.False(t, mustPut(t, s, wkey("k", 61_000)))
	require.EqualValues(t, 1, s.DroppedRecords())
}

func TestSegmentNames(t *testing.T) {
	t.Parallel()
	s := newSegmentedStore("w", windowSchema{}, inMemorySegments, 2*time.Minute)
	tests := []struct {
		t    int64
		name string
	}{
		{0, "w.0"}, {59_999, "w.0"}, {60_000, "w.60000"}, {-1, "w.-60000"}, {-60_000, "w.-60000"}, {-60_001, "w.-120000"},
		{math.MaxInt64, "w.9223372036854720000"},
		// The lowest segment starts before the int64 range.
		{math.MinInt64, "w.-9223372036854775808"},
	}
	for _, tc := range tests {
		id := s.segmentID(tc.t)
		require.Equal(t, tc.name, s.segmentName(id), "time %d", tc.t)
		got, ok, err := s.parseSegmentName(tc.name)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, id, got)
	}
	for _, name := range []string{"w", "w.", "w.x", "w.+60000", "w.060000", "x.0", "w.0.0", "ww.0"} {
		_, ok, err := s.parseSegmentName(name)
		require.NoError(t, err, name)
		require.False(t, ok, name)
	}
	_, _, err := s.parseSegmentName("w.30000")
	require.ErrorContains(t, err, "retention changed")
}

// A segment that expires while a scan reads it stays readable for that
// scan, and is destroyed when the scan ends, by the scan.
func TestSegmentDroppedWhileScanning(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{}
	s := openSegmented(t, f, 2*time.Minute)
	for _, ms := range []int64{0, 1, 60_000, 60_001} {
		mustPut(t, s, wkey("k", ms))
	}
	next, stop := iter.Pull2(s.Scan(KeyRange{}, minMs, maxMs, false))
	defer stop()
	kv, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, wkey("k", 0), kv.Key)

	mustPut(t, s, wkey("k", 10*60_000)) // expires both segments
	require.Equal(t, []int64{10}, segIDs(s))
	_, destroyed, _ := f.state()
	require.Empty(t, destroyed, "a scan still reads them")
	require.Len(t, collect(t, s.Scan(KeyRange{}, minMs, maxMs, false)), 1, "a new scan sees the new state")

	var rest [][]byte
	for {
		kv, err, ok := next()
		if !ok {
			break
		}
		require.NoError(t, err)
		rest = append(rest, kv.Key)
	}
	require.Equal(t, [][]byte{wkey("k", 1), wkey("k", 60_000), wkey("k", 60_001)}, rest, "the old scan reads its snapshot")
	_, destroyed, _ = f.state()
	require.ElementsMatch(t, []string{"w.0", "w.60000"}, destroyed, "the scan destroyed them when it ended")
	require.NoError(t, s.Flush())
}

// Breaking out of a scan releases its segments too.
func TestSegmentReleasedOnBreak(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{}
	s := openSegmented(t, f, 2*time.Minute)
	mustPut(t, s, wkey("a", 0))
	mustPut(t, s, wkey("b", 0))
	for range s.Scan(KeyRange{}, minMs, maxMs, false) {
		mustPut(t, s, wkey("k", 10*60_000)) // the owner writes from the loop
		break
	}
	_, destroyed, _ := f.state()
	require.Equal(t, []string{"w.0"}, destroyed)
	s.mu.RLock()
	defer s.mu.RUnlock()
	require.Zero(t, s.mu.segs[0].refs.Load())
}

// A failure to remove a dropped segment is returned by the Put that
// dropped it, or, when a scan dropped it last, by the next Flush.
func TestSegmentDestroyFailureIsReturned(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{failDestroy: errInjected}
	s := openSegmented(t, f, 2*time.Minute)
	mustPut(t, s, wkey("k", 0))
	stored, err := s.Put(wkey("k", 10*60_000), []byte("v"))
	require.True(t, stored, "the put itself happened")
	require.ErrorIs(t, err, errInjected)
	require.ErrorContains(t, err, `drop expired segment "w.0"`)
	_, _, faults := f.state()
	require.Equal(t, 1, faults)

	next, stop := iter.Pull2(s.Scan(KeyRange{}, minMs, maxMs, false))
	_, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	stored, err = s.Put(wkey("k", 20*60_000), []byte("v"))
	require.NoError(t, err, "the scan holds the segment")
	require.True(t, stored)
	stop()
	_, _, faults = f.state()
	require.Equal(t, 2, faults)
	err = s.Flush()
	require.ErrorIs(t, err, errInjected)
	require.ErrorContains(t, err, `drop expired segment "w.600000"`)
	require.NoError(t, s.Flush(), "reported once")
}

func TestSegmentOpenFailureIsReturned(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{failInit: "w.60000"}
	s := openSegmented(t, f, 2*time.Minute)
	mustPut(t, s, wkey("k", 0))
	_, err := s.Put(wkey("k", 60_000), []byte("v"))
	require.ErrorIs(t, err, errInjected)
	require.ErrorContains(t, err, `open segment "w.60000"`)
	_, _, faults := f.state()
	require.Equal(t, 1, faults)
	require.Equal(t, []int64{0}, segIDs(s), "the store stays usable")
	err = s.Write([]KeyValue[[]byte, []byte]{{Key: wkey("k", 60_001), Value: []byte("v")}})
	require.ErrorIs(t, err, errInjected)
	require.True(t, mustPut(t, s, wkey("k", 1)))
}

// Write skips puts that have expired by the time they come, as replaying a
// changelog in order must, and fails whole on a malformed key.
func TestSegmentedWrite(t *testing.T) {
	t.Parallel()
	s := openSegmented(t, inMemorySegments, 2*time.Minute)
	err := s.Write([]KeyValue[[]byte, []byte]{
		{Key: wkey("a", 0), Value: []byte("1")},
		{Key: []byte("short"), Value: []byte("x")},
	})
	require.ErrorIs(t, err, ErrMalformedKey)
	require.ErrorContains(t, err, "entry 1")
	require.Empty(t, collect(t, s.Scan(KeyRange{}, minMs, maxMs, false)), "nothing written")

	require.NoError(t, s.Write([]KeyValue[[]byte, []byte]{
		{Key: wkey("a", 0), Value: []byte("1")},
		{Key: wkey("b", 0), Value: []byte("1")},
		{Key: wkey("a", 0)}, // deleted again
		{Key: wkey("c", 10*60_000), Value: []byte("2")},
		{Key: wkey("d", 0), Value: []byte("late")}, // expired by c
		{Key: wkey("e", 10*60_000), Value: []byte{}},
		{Key: wkey("never", 5)}, // deleting what is not there
	}))
	kvs := collect(t, s.Scan(KeyRange{}, minMs, maxMs, false))
	require.Equal(t, []KeyValue[[]byte, []byte]{
		{Key: wkey("c", 10*60_000), Value: []byte("2")},
		{Key: wkey("e", 10*60_000), Value: []byte{}},
	}, kvs)
	require.Zero(t, s.DroppedRecords(), "a restore drops silently")
	require.Equal(t, []int64{10}, segIDs(s))
}

func TestSegmentedWipe(t *testing.T) {
	t.Parallel()
	f := &recordingSegments{}
	s := openSegmented(t, f, 2*time.Minute)
	mustPut(t, s, wkey("k", 0))
	mustPut(t, s, wkey("k", 10*60_000))
	require.False(t, mustPut(t, s, wkey("k", 0)))
	require.NoError(t, s.Wipe())
	require.Empty(t, segIDs(s))
	require.Empty(t, collect(t, s.Scan(KeyRange{}, minMs, maxMs, false)))
	require.True(t, mustPut(t, s, wkey("k", 0)), "observed stream time is forgotten")
	_, destroyed, _ := f.state()
	require.Equal(t, []string{"w.0", "w.600000"}, destroyed)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Wipe(), ErrStoreClosed)
}

// The scan of every segment is opened when the loop starts: a write made
// after it, to any segment, is not seen, nor is a segment made after it.
func TestSegmentedScanIsOneSnapshot(t *testing.T) {
	t.Parallel()
	s := openSegmented(t, inMemorySegments, 10*time.Minute)
	for _, ms := range []int64{0, 60_000, 120_000, 180_000} {
		mustPut(t, s, wkey("k", ms))
	}
	var got [][]byte
	for kv, err := range s.Scan(KeyRange{}, minMs, maxMs, false) {
		require.NoError(t, err)
		got = append(got, kv.Key)
		if len(got) == 1 {
			mustPut(t, s, wkey("k", 1))
			mustPut(t, s, wkey("k", 170_000))
			mustPut(t, s, wkey("k", 400_000)) // a new segment
			_, _, err := s.Delete(wkey("k", 180_000))
			require.NoError(t, err)
		}
	}
	require.Equal(t, [][]byte{wkey("k", 0), wkey("k", 60_000), wkey("k", 120_000), wkey("k", 180_000)}, got)
}
