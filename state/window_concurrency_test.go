package state

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// The promise of DESIGN.md, "range reads you can trust from any goroutine",
// for window and session stores: readers on other goroutines scan while the
// owner writes, stream time moves on and segments expire under them. Run
// with -race.
//
// The writer's g-th write puts generation g into the window starting at g
// seconds, for key g%4. With a retention of 120 s exactly the generations
// (G−120, G] are live after the G-th write, so every snapshot must hold a
// contiguous run of generations ending at its newest, of exactly that
// length: a scan that saw a segment half dropped, or two segments at
// different moments, would show a gap or a wrong count.

const (
	raceKeys      = 4
	raceRetention = 120 * time.Second
	raceLive      = int64(raceRetention / time.Second)
)

// byStart adapts a scan of windows or sessions to the hammer: an entry
// becomes {start in seconds, value}.
func byStart(seq iter.Seq2[KeyValue[Windowed[int64], int64], error]) iter.Seq2[i64kv, error] {
	return func(yield func(i64kv, error) bool) {
		for kv, err := range seq {
			if !yield(i64kv{Key: kv.Key.Start.Unix(), Value: kv.Value}, err) || err != nil {
				return
			}
		}
	}
}

// windowScans are the whole-store scans of a window store, for the hammer.
func windowScans(s WindowStore[int64, int64]) []scanMethod {
	lo, hi := time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	return []scanMethod{
		{"All", false, func() iter.Seq2[i64kv, error] { return byStart(s.All()) }},
		{"BackwardAll", true, func() iter.Seq2[i64kv, error] { return byStart(s.BackwardAll()) }},
		{"FetchAll", false, func() iter.Seq2[i64kv, error] { return byStart(s.FetchAll(lo, hi)) }},
		{"BackwardFetchAll", true, func() iter.Seq2[i64kv, error] { return byStart(s.BackwardFetchAll(lo, hi)) }},
		{"FetchRange", false, func() iter.Seq2[i64kv, error] { return byStart(s.FetchRange(nil, nil, lo, hi)) }},
	}
}

// liveGenerations checks one snapshot of the whole store: generations
// (G−n, G] for its newest G, each in the window of its own start, in the
// order of key (g%4) then start, or the reverse.
func liveGenerations(kvs []i64kv, reverse bool) (int64, error) {
	if len(kvs) == 0 {
		return 0, fmt.Errorf("empty snapshot")
	}
	newest := int64(-1)
	seen := map[int64]bool{}
	for i, kv := range kvs {
		if kv.Key != kv.Value {
			return 0, fmt.Errorf("generation %d in the window of %d", kv.Value, kv.Key)
		}
		if seen[kv.Value] {
			return 0, fmt.Errorf("generation %d twice", kv.Value)
		}
		seen[kv.Value] = true
		newest = max(newest, kv.Value)
		if i > 0 {
			a, b := kvs[i-1].Value, kv.Value
			if reverse {
				a, b = b, a
			}
			if a%raceKeys > b%raceKeys || a%raceKeys == b%raceKeys && a >= b {
				return 0, fmt.Errorf("generation %d before %d: out of order", kvs[i-1].Value, kv.Value)
			}
		}
	}
	want := min(newest+1, raceLive)
	if int64(len(kvs)) != want {
		return 0, fmt.Errorf("%d generations up to %d, want %d", len(kvs), newest, want)
	}
	for g := newest - want + 1; g <= newest; g++ {
		if !seen[g] {
			return 0, fmt.Errorf("generation %d missing below newest %d: a gap", g, newest)
		}
	}
	return newest, nil
}

// keyGenerations checks one key's windows: generations k, k+4, … up to its
// newest, contiguous, exactly as many as are live. Whatever the newest
// generation G of the whole store, the live (G−120, G] hold 120/4 of key k.
func keyGenerations(key int64) func([]i64kv, bool) (int64, error) {
	return func(kvs []i64kv, reverse bool) (int64, error) {
		if len(kvs) == 0 {
			return 0, fmt.Errorf("no windows of key %d", key)
		}
		newest := int64(-1)
		for i, kv := range kvs {
			if kv.Key != kv.Value || kv.Value%raceKeys != key {
				return 0, fmt.Errorf("generation %d in the window of %d, for key %d", kv.Value, kv.Key, key)
			}
			newest = max(newest, kv.Value)
			if i > 0 {
				step := kv.Value - kvs[i-1].Value
				if reverse {
					step = -step
				}
				if step != raceKeys {
					return 0, fmt.Errorf("generations %d then %d: a gap or disorder", kvs[i-1].Value, kv.Value)
				}
			}
		}
		if n := int64(len(kvs)); n != raceLive/raceKeys {
			return 0, fmt.Errorf("%d windows of key %d, %d are live", n, key, raceLive/raceKeys)
		}
		return newest, nil
	}
}

func TestWindowScansWhileOwnerWritesAndSegmentsExpire(t *testing.T) {
	t.Parallel()
	st := NewWindowStoreBuilder(InMemoryWindowStore("race", raceRetention, time.Second, false), serde.Int64(), serde.Int64()).
		WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	g := int64(0)
	write := func() {
		require.NoError(t, st.Put(g%raceKeys, g, time.Unix(g, 0)))
		g++
	}
	for range raceLive {
		write()
	}

	hammer(t, hammerConfig{
		methods: windowScans(st),
		check:   liveGenerations,
		afterScan: func(rng *rand.Rand, last int64) (int64, error) {
			// The newest generation seen is still there, or has expired.
			v, ok, err := st.FetchOne(last%raceKeys, time.Unix(last, 0))
			if err != nil || ok && v != last {
				return 0, fmt.Errorf("fetch one of generation %d: %d %v %v", last, v, ok, err)
			}
			return last, nil
		},
		write:    write,
		minScans: 300,
	})

	key := int64(1)
	fetch := func(reverse bool) func() iter.Seq2[i64kv, error] {
		return func() iter.Seq2[i64kv, error] {
			return func(yield func(i64kv, error) bool) {
				seq := st.Fetch(key, time.Time{}, time.Unix(1<<40, 0))
				if reverse {
					seq = st.BackwardFetch(key, time.Time{}, time.Unix(1<<40, 0))
				}
				for kv, err := range seq {
					if !yield(i64kv{Key: kv.Key.Unix(), Value: kv.Value}, err) || err != nil {
						return
					}
				}
			}
		}
	}
	hammer(t, hammerConfig{
		methods:  []scanMethod{{"Fetch", false, fetch(false)}, {"BackwardFetch", true, fetch(true)}},
		check:    keyGenerations(key),
		write:    write,
		minScans: 300,
	})
	require.Zero(t, st.(DroppedRecordsCounter).DroppedRecords())
}

// The same with sessions: generation g is the session [g s, g s + 0.5 s]
// of key g%4, kept for 120 s behind the newest end.
func TestSessionScansWhileOwnerWritesAndSegmentsExpire(t *testing.T) {
	t.Parallel()
	st := NewSessionStoreBuilder(InMemorySessionStore("race", raceRetention), serde.Int64(), serde.Int64()).
		WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	g := int64(0)
	write := func() {
		s := Windowed[int64]{Key: g % raceKeys, Start: time.Unix(g, 0), End: time.Unix(g, 5e8)}
		require.NoError(t, st.Put(s, g))
		g++
	}
	for range raceLive {
		write()
	}
	hammer(t, hammerConfig{
		methods: []scanMethod{
			{"FetchRange", false, func() iter.Seq2[i64kv, error] { return byStart(st.FetchRange(nil, nil)) }},
			{"BackwardFetchRange", true, func() iter.Seq2[i64kv, error] { return byStart(st.BackwardFetchRange(nil, nil)) }},
		},
		check:    liveGenerations,
		write:    write,
		minScans: 300,
	})
}
