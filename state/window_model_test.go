package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// modelKeys are the keys of the model tests: some are prefixes of others,
// with following bytes both below and above the bytes of encoded times.
// The last one is "a" followed by the first 6 bytes of the encoding of
// times 0 to 65535 ms: its entries lie in the byte range of the entries of
// "a" at times 32768 to 33023 ms, which the test passes through.
var modelKeys = []string{"", "a", "a\x00", "a\x80", "ab", "b", "\xff", "a\x80\x00\x00\x00\x00\x00"}

// refStore is the reference the window and session stores are checked
// against: a map from encoded key to value, with the retention rule applied
// on every read, and no segments.
type refStore struct {
	retention   int64
	observed    int64
	hasObserved bool
	dropped     int64
	entries     map[string]string
	times       map[string]int64 // the segment time of each entry
}

func newRefStore(retention time.Duration) *refStore {
	return &refStore{retention: retention.Milliseconds(), entries: map[string]string{}, times: map[string]int64{}}
}

func (r *refStore) observe(t int64) {
	if !r.hasObserved || t > r.observed {
		r.observed, r.hasObserved = t, true
	}
}

func (r *refStore) live(t int64) bool { return !r.hasObserved || t > r.observed-r.retention }

// put stores value under key unless time t has expired.
func (r *refStore) put(key []byte, t int64, value string) {
	r.observe(t)
	if !r.live(t) {
		r.dropped++
		return
	}
	r.entries[string(key)] = value
	r.times[string(key)] = t
}

// sorted returns the live encoded keys that pass keep, in byte order. It
// forgets the expired ones, which keeps the reference small.
func (r *refStore) sorted(keep func(key []byte) bool) []string {
	var out []string
	for k := range r.entries {
		if !r.live(r.times[k]) {
			delete(r.entries, k)
			delete(r.times, k)
			continue
		}
		if keep([]byte(k)) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// The window store against refStore: random puts (some for expired
// windows), deletes, point reads and every kind of range read with random
// bounds, while stream time moves on and segments come and go.
func TestWindowStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, dups := range []bool{false, true} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("dups=%v/seed=%d", dups, seed), func(t *testing.T) {
				t.Parallel()
				const retention = 3 * time.Minute
				st := openWindow(t, InMemoryWindowStore("model", retention, 30*time.Second, dups))
				runWindowModel(t, st, dups, retention, seed, 6000)
			})
		}
	}
}

// runWindowModel drives st with ops random operations checked against a
// reference.
func runWindowModel(t *testing.T, st WindowStore[string, string], dups bool, retention time.Duration, seed uint64, ops int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	ref := newRefStore(retention)
	var seq uint32
	now := -10 * time.Minute.Milliseconds() // negative times too
	r := retention.Milliseconds()
	key := func() string { return modelKeys[rng.IntN(len(modelKeys))] }
	recent := func() int64 { return now - rng.Int64N(r*3/2) } // a third of them expired
	keyPtr := func() *string {
		if rng.IntN(4) == 0 {
			return nil
		}
		return ptr(key())
	}
	decode := func(enc string) (string, int64) {
		k, start, _, err := decodeWindowKey([]byte(enc))
		if err != nil { // not require: it is slow, and this runs per entry
			t.Fatal(err)
		}
		return string(k), start
	}
	nonEmpty := 0 // so that the test cannot pass by testing nothing
	for op := range ops {
		now += rng.Int64N(3 * sec)
		switch c := rng.IntN(100); {
		case c < 40:
			k, ts, v := key(), recent(), fmt.Sprint(op)
			require.NoError(t, st.Put(k, v, at(ts)))
			var s uint32
			if dups {
				seq++
				s = seq
			}
			ref.put(encodeWindowKey(nil, []byte(k), ts, s), ts, v)
		case c < 48:
			k, ts := key(), recent()
			if rng.IntN(2) == 0 { // delete something that is there
				for enc := range ref.entries {
					k, ts = decode(enc)
					break
				}
			}
			require.NoError(t, st.Delete(k, at(ts)))
			for enc := range ref.entries {
				if ek, ets := decode(enc); ek == k && ets == ts {
					delete(ref.entries, enc)
				}
			}
		case c < 60:
			k, ts := key(), recent()
			got, ok, err := st.FetchOne(k, at(ts))
			require.NoError(t, err)
			want := ref.sorted(func(enc []byte) bool { ek, ets := decode(string(enc)); return ek == k && ets == ts })
			require.Equal(t, len(want) > 0, ok, "fetch one %q@%d", k, ts)
			if ok {
				require.Equal(t, ref.entries[want[len(want)-1]], got)
			}
		case c < 75:
			k, from, to := key(), recent(), recent()
			if rng.IntN(10) > 0 && from > to {
				from, to = to, from
			}
			reverse := rng.IntN(2) == 0
			seq := st.Fetch(k, at(from), at(to))
			if reverse {
				seq = st.BackwardFetch(k, at(from), at(to))
			}
			got := startsMs(collect(t, seq))
			var want []string
			for _, enc := range ref.sorted(func(enc []byte) bool {
				ek, ets := decode(string(enc))
				return ek == k && ets >= from && ets <= to
			}) {
				_, ets := decode(enc)
				want = append(want, startsMs([]KeyValue[time.Time, string]{{Key: at(ets), Value: ref.entries[enc]}})...)
			}
			if reverse {
				want = reversed(want)
			}
			require.Equal(t, nonNil(want), got, "fetch %q [%d, %d] reverse=%v", k, from, to, reverse)
			nonEmpty += min(len(got), 1)
		case c < 97:
			kf, kt := keyPtr(), keyPtr()
			from, to := recent(), recent()
			if from > to {
				from, to = to, from
			}
			reverse := rng.IntN(2) == 0
			var seq func() []KeyValue[Windowed[string], string]
			switch rng.IntN(3) {
			case 0:
				seq = func() []KeyValue[Windowed[string], string] {
					if reverse {
						return collect(t, st.BackwardFetchRange(kf, kt, at(from), at(to)))
					}
					return collect(t, st.FetchRange(kf, kt, at(from), at(to)))
				}
			case 1:
				kf, kt = nil, nil
				seq = func() []KeyValue[Windowed[string], string] {
					if reverse {
						return collect(t, st.BackwardFetchAll(at(from), at(to)))
					}
					return collect(t, st.FetchAll(at(from), at(to)))
				}
			default:
				kf, kt, from, to = nil, nil, minMs, maxMs
				seq = func() []KeyValue[Windowed[string], string] {
					if reverse {
						return collect(t, st.BackwardAll())
					}
					return collect(t, st.All())
				}
			}
			got := windowsMs(seq())
			var want []string
			for _, enc := range ref.sorted(func(enc []byte) bool {
				ek, ets := decode(string(enc))
				return (kf == nil || ek >= *kf) && (kt == nil || ek <= *kt) && ets >= from && ets <= to
			}) {
				ek, ets := decode(enc)
				want = append(want, windowsMs([]KeyValue[Windowed[string], string]{{
					Key: Windowed[string]{Key: ek, Start: at(ets), End: at(ets + 30*sec)}, Value: ref.entries[enc]}})...)
			}
			if reverse {
				want = reversed(want)
			}
			require.Equal(t, nonNil(want), got, "range [%v, %v] [%d, %d] reverse=%v at op %d", kf, kt, from, to, reverse, op)
			nonEmpty += min(len(got), 1)
		default:
			require.NoError(t, st.Flush())
			require.Equal(t, ref.dropped, st.(DroppedRecordsCounter).DroppedRecords())
		}
	}
	require.Greater(t, nonEmpty, ops/10, "too few reads found anything")
	require.Positive(t, ref.dropped, "no put was ever dropped")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The session store against refStore, in the same way.
func TestSessionStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			const retention = 3 * time.Minute
			st := openSession(t, InMemorySessionStore("model", retention))
			runSessionModel(t, st, retention, seed, 6000)
		})
	}
}

// runSessionModel drives st as runWindowModel drives a window store.
func runSessionModel(t *testing.T, st SessionStore[string, string], retention time.Duration, seed uint64, ops int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	ref := newRefStore(retention)
	now := -10 * time.Minute.Milliseconds()
	r := retention.Milliseconds()
	key := func() string { return modelKeys[rng.IntN(len(modelKeys))] }
	recent := func() int64 { return now - rng.Int64N(r*3/2) }
	sessionAt := func() (string, int64, int64) {
		end := recent()
		return key(), end - rng.Int64N(2*time.Minute.Milliseconds()), end
	}
	decode := func(enc string) (string, int64, int64) {
		k, start, end, err := decodeSessionKey([]byte(enc))
		if err != nil {
			t.Fatal(err)
		}
		return string(k), start, end
	}
	render := func(keep func(k string, start, end int64) bool, reverse bool) []string {
		var want []string
		for _, enc := range ref.sorted(func(enc []byte) bool {
			k, start, end := decode(string(enc))
			return keep(k, start, end)
		}) {
			k, start, end := decode(enc)
			want = append(want, windowsMs([]KeyValue[Windowed[string], string]{{
				Key: Windowed[string]{Key: k, Start: at(start), End: at(end)}, Value: ref.entries[enc]}})...)
		}
		if reverse {
			want = reversed(want)
		}
		return nonNil(want)
	}
	nonEmpty := 0
	for op := range ops {
		now += rng.Int64N(3 * sec)
		switch c := rng.IntN(100); {
		case c < 40:
			k, start, end := sessionAt()
			v := fmt.Sprint(op)
			require.NoError(t, st.Put(Windowed[string]{Key: k, Start: at(start), End: at(end)}, v))
			ref.put(encodeSessionKey(nil, []byte(k), end, start), end, v)
		case c < 48:
			k, start, end := sessionAt()
			if rng.IntN(2) == 0 {
				for enc := range ref.entries {
					k, start, end = decode(enc)
					break
				}
			}
			require.NoError(t, st.Remove(Windowed[string]{Key: k, Start: at(start), End: at(end)}))
			delete(ref.entries, string(encodeSessionKey(nil, []byte(k), end, start)))
		case c < 60:
			k, start, end := sessionAt()
			if rng.IntN(2) == 0 {
				for enc := range ref.entries {
					k, start, end = decode(enc)
					break
				}
			}
			got, ok, err := st.FetchSession(k, at(start), at(end))
			require.NoError(t, err)
			enc := string(encodeSessionKey(nil, []byte(k), end, start))
			want, had := ref.entries[enc]
			had = had && ref.live(end)
			require.Equal(t, had, ok)
			if ok {
				require.Equal(t, want, got)
			}
		case c < 80:
			k, e, l := key(), recent(), recent()
			reverse := rng.IntN(2) == 0
			seq := st.FindSessions(k, at(e), at(l))
			if reverse {
				seq = st.BackwardFindSessions(k, at(e), at(l))
			}
			want := render(func(sk string, start, end int64) bool { return sk == k && end >= e && start <= l }, reverse)
			got := windowsMs(collect(t, seq))
			require.Equal(t, want, got, "find %q [%d, %d] reverse=%v", k, e, l, reverse)
			nonEmpty += min(len(got), 1)
		case c < 88:
			k := key()
			reverse := rng.IntN(2) == 0
			seq := st.Fetch(k)
			if reverse {
				seq = st.BackwardFetch(k)
			}
			want := render(func(sk string, _, _ int64) bool { return sk == k }, reverse)
			require.Equal(t, want, windowsMs(collect(t, seq)), "fetch %q", k)
		case c < 98:
			var kf, kt *string
			if rng.IntN(4) > 0 {
				kf = ptr(key())
			}
			if rng.IntN(4) > 0 {
				kt = ptr(key())
			}
			reverse := rng.IntN(2) == 0
			seq := st.FetchRange(kf, kt)
			if reverse {
				seq = st.BackwardFetchRange(kf, kt)
			}
			want := render(func(sk string, _, _ int64) bool {
				return (kf == nil || sk >= *kf) && (kt == nil || sk <= *kt)
			}, reverse)
			got := windowsMs(collect(t, seq))
			require.Equal(t, want, got, "range [%v, %v]", kf, kt)
			nonEmpty += min(len(got), 1)
		default:
			require.NoError(t, st.Flush())
			require.Equal(t, ref.dropped, st.(DroppedRecordsCounter).DroppedRecords())
		}
	}
	require.Greater(t, nonEmpty, ops/20, "too few reads found anything")
	require.Positive(t, ref.dropped, "no put was ever dropped")
}

// startsMs renders a window fetch as "start=value" with starts in
// milliseconds.
func startsMs(kvs []KeyValue[time.Time, string]) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, fmt.Sprintf("%d=%s", kv.Key.UnixMilli(), kv.Value))
	}
	return out
}

// windowsMs renders windowed entries as "key@start-end=value", in
// milliseconds.
func windowsMs(kvs []KeyValue[Windowed[string], string]) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, fmt.Sprintf("%q@%d-%d=%s", kv.Key.Key, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
	}
	return out
}
