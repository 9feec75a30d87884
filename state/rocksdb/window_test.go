package rocksdb

import (
	"bytes"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// The window and session stores on RocksDB segments. The behaviour tests
// run on both backends, in memory and RocksDB; the model tests drive a
// RocksDB store and an in-memory one (which package state checks against a
// reference) with the same random operations, closing and reopening the
// RocksDB store on its directory now and then, and compare every read.

const sec = int64(1000)

func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// smallOpts keeps the memtables of the many segments the tests open small.
var smallOpts = Options{WriteBufferSize: 64 << 10, MaxWriteBuffers: 2}

// windowBackend makes the window suppliers of one backend.
type windowBackend struct {
	name    string
	window  func(name string, retention, size time.Duration, dups bool) state.WindowBytesStoreSupplier
	session func(name string, retention time.Duration) state.SessionBytesStoreSupplier
}

var windowBackends = []windowBackend{
	{"memory", state.InMemoryWindowStore, state.InMemorySessionStore},
	{
		"rocksdb",
		func(name string, retention, size time.Duration, dups bool) state.WindowBytesStoreSupplier {
			return WindowStore(name, smallOpts, retention, size, dups)
		},
		func(name string, retention time.Duration) state.SessionBytesStoreSupplier {
			return SessionStore(name, smallOpts, retention)
		},
	},
}

// openWindow returns an initialized window store of strings from sup in
// dir, closed when the test ends.
func openWindow(t testing.TB, sup state.WindowBytesStoreSupplier, dir string, log state.ChangelogWriter) state.WindowStore[string, string] {
	t.Helper()
	st := state.NewWindowStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(state.StoreContext{ApplicationID: "app", TaskID: "0_0", Dir: dir, Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openSession(t testing.TB, sup state.SessionBytesStoreSupplier, dir string, log state.ChangelogWriter) state.SessionStore[string, string] {
	t.Helper()
	st := state.NewSessionStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(state.StoreContext{ApplicationID: "app", TaskID: "0_0", Dir: dir, Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// render renders window or session entries as "key@start-end=value" in
// milliseconds, and time-keyed ones as "start=value".
func render[K any](kvs []state.KeyValue[K, string]) []string {
	out := []string{}
	for _, kv := range kvs {
		switch k := any(kv.Key).(type) {
		case time.Time:
			out = append(out, fmt.Sprintf("%d=%s", k.UnixMilli(), kv.Value))
		case state.Windowed[string]:
			out = append(out, fmt.Sprintf("%q@%d-%d=%s", k.Key, k.Start.UnixMilli(), k.End.UnixMilli(), kv.Value))
		}
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// segmentDirs lists the segment directories of store under dir.
func segmentDirs(t *testing.T, dir, store string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "rocksdb"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if len(e.Name()) > len(store) && e.Name()[:len(store)+1] == store+"." {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWindowStoreBackends(t *testing.T) {
	t.Parallel()
	for _, be := range windowBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			const retention = 10 * time.Minute
			r := retention.Milliseconds()
			st := openWindow(t, be.window("W", retention, time.Minute, false), t.TempDir(), nil)
			keys := []string{"", "a", "a\x80\x00\x00\x00\x00\x00\x00\x00", "ab", "b"}
			for _, k := range keys {
				for _, s := range []int64{-2, 0, 2} {
					require.NoError(t, st.Put(k, k+strconv.FormatInt(s, 10), at(s*sec)))
				}
			}
			// Inclusive bounds, prefix keys kept apart, both directions.
			want := []string{"0=a0", "2000=a2"}
			require.Equal(t, want, render(collect(t, st.Fetch("a", at(0), at(2*sec)))))
			require.Equal(t, reversed(want), render(collect(t, st.BackwardFetch("a", at(0), at(2*sec)))))
			v, ok, err := st.FetchOne("a", at(0))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "a0", v)
			got := map[string]int{}
			for _, kv := range collect(t, st.FetchRange(ptr(""), ptr("a"), at(-2*sec), at(2*sec))) {
				got[kv.Key.Key]++
			}
			require.Equal(t, map[string]int{"": 3, "a": 3}, got)
			require.Len(t, collect(t, st.All()), 15)
			require.Len(t, collect(t, st.BackwardFetchAll(at(0), at(0))), 5)

			// The retention edge: observed stream time r expires time 0.
			require.NoError(t, st.Put("z", "now", at(r)))
			_, ok, err = st.FetchOne("a", at(0))
			require.NoError(t, err)
			require.False(t, ok)
			v, ok, err = st.FetchOne("a", at(2*sec))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "a2", v)
			require.NoError(t, st.Put("a", "late", at(0)))
			require.EqualValues(t, 1, st.(state.DroppedRecordsCounter).DroppedRecords())
			require.NoError(t, st.Delete("a", at(2*sec)))
			require.Equal(t, []string{}, render(collect(t, st.Fetch("a", at(-r), at(r)))))
			require.NoError(t, st.Flush())
		})
	}
}

func TestWindowRetainDuplicatesBackends(t *testing.T) {
	t.Parallel()
	for _, be := range windowBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			st := openWindow(t, be.window("W", time.Hour, time.Minute, true), t.TempDir(), nil)
			for _, v := range []string{"3", "1", "2"} {
				require.NoError(t, st.Put("k", v, at(0)))
			}
			require.Equal(t, []string{"0=3", "0=1", "0=2"}, render(collect(t, st.Fetch("k", at(0), at(0)))))
			v, _, err := st.FetchOne("k", at(0))
			require.NoError(t, err)
			require.Equal(t, "2", v)
			require.NoError(t, st.Delete("k", at(0)))
			require.Empty(t, collect(t, st.All()))
		})
	}
}

func TestSessionStoreBackends(t *testing.T) {
	t.Parallel()
	for _, be := range windowBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			st := openSession(t, be.session("S", time.Hour), t.TempDir(), nil)
			put := func(k string, start, end int64) {
				require.NoError(t, st.Put(state.Windowed[string]{Key: k, Start: at(start * sec), End: at(end * sec)}, "v"))
			}
			put("k", 10, 20)
			put("k", 30, 40)
			put("k", 50, 50)
			put("k\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 30, 40)
			find := func(e, l int64) []string {
				return render(collect(t, st.FindSessions("k", at(e*sec), at(l*sec))))
			}
			require.Equal(t, []string{`"k"@10000-20000=v`, `"k"@30000-40000=v`}, find(20, 30))
			require.Equal(t, []string{}, find(21, 29))
			require.Equal(t, []string{`"k"@50000-50000=v`}, find(50, 50))
			require.Len(t, collect(t, st.Fetch("k")), 3)
			require.Len(t, collect(t, st.FetchRange(nil, nil)), 4)
			v, ok, err := st.FetchSession("k", at(30*sec), at(40*sec))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "v", v)
			require.NoError(t, st.Remove(state.Windowed[string]{Key: "k", Start: at(30 * sec), End: at(40 * sec)}))
			require.Len(t, collect(t, st.BackwardFetch("k")), 2)
		})
	}
}

// A RocksDB window store keeps each segment in its own directory, drops the
// directories of expired segments, and finds everything again when
// reopened: its data, its observed stream time (a late Put is still
// dropped), and its duplicates' sequence numbers.
func TestWindowStoreSegmentsOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sup := WindowStore("W", smallOpts, 2*time.Minute, 10*time.Second, true) // segments of a minute
	open := func() state.WindowStore[string, string] {
		st := state.NewWindowStoreBuilder(sup, serde.String(), serde.String()).WithLoggingDisabled().BuildStore()
		require.NoError(t, st.Init(state.StoreContext{Dir: dir}))
		return st
	}
	st := open()
	for _, ms := range []int64{-1, 0, 61_000, 119_000} {
		require.NoError(t, st.Put("k", fmt.Sprint(ms), at(ms)))
	}
	require.ElementsMatch(t, []string{"W.-60000", "W.0", "W.60000"}, segmentDirs(t, dir, "W"))
	require.NoError(t, st.Put("k", "181000", at(181_000)))
	require.ElementsMatch(t, []string{"W.60000", "W.180000"}, segmentDirs(t, dir, "W"))
	require.NoError(t, st.Put("k", "dup", at(181_000)))
	want := render(collect(t, st.All()))
	require.Equal(t, []string{`"k"@119000-129000=119000`, `"k"@181000-191000=181000`, `"k"@181000-191000=dup`}, want)
	require.NoError(t, st.Close())

	st = open()
	defer st.Close()
	require.Equal(t, want, render(collect(t, st.All())))
	require.NoError(t, st.Put("k", "late", at(61_000)), "observed stream time was found again")
	require.EqualValues(t, 1, st.(state.DroppedRecordsCounter).DroppedRecords())
	require.NoError(t, st.Put("k", "dup2", at(181_000)))
	require.Equal(t, []string{"181000=181000", "181000=dup", "181000=dup2"}, render(collect(t, st.Fetch("k", at(181_000), at(181_000)))),
		"a duplicate put after reopening comes after the older ones")
	require.ElementsMatch(t, []string{"W.60000", "W.180000"}, segmentDirs(t, dir, "W"))

	// Wipe removes every segment directory.
	require.NoError(t, st.(stateproto.Restorer).Wipe())
	require.Empty(t, segmentDirs(t, dir, "W"))
	require.Empty(t, collect(t, st.All()))
}

// Another store's directory whose name starts with "<store>." but is not a
// segment is left alone; a directory that looks like a segment of another
// segment interval is refused with a clear error.
func TestWindowStoreForeignDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"W.backup", "W.007", "Wx.0"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "rocksdb", d), 0o755))
	}
	st := openWindow(t, WindowStore("W", smallOpts, 2*time.Minute, time.Second, false), dir, nil)
	require.NoError(t, st.Put("k", "v", at(0)))
	require.NoError(t, st.Close())
	require.ElementsMatch(t, []string{"W.0", "W.007", "W.backup"}, segmentDirs(t, dir, "W"))

	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rocksdb", "W.30000"), 0o755))
	st2 := state.NewWindowStoreBuilder(WindowStore("W", smallOpts, 2*time.Minute, time.Second, false), serde.String(), serde.String()).BuildStore()
	err := st2.Init(state.StoreContext{Dir: dir})
	require.ErrorContains(t, err, `segment "W.30000" does not start on a multiple of the segment interval 1m0s`)
	require.NoError(t, st2.Close())
}

func TestWindowStoreInitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sup  state.WindowBytesStoreSupplier
		dir  string
		want string
	}{
		{"no directory", WindowStore("W", Options{}, time.Hour, time.Minute, false), "", "StoreContext.Dir is empty"},
		{"bad name", WindowStore("a/b", Options{}, time.Hour, time.Minute, false), t.TempDir(), "not a valid directory name"},
		{"bad options", WindowStore("W", Options{WriteBufferSize: 1}, time.Hour, time.Minute, false), t.TempDir(), "WriteBufferSize"},
		{"bad retention", WindowStore("W", Options{}, time.Minute, time.Hour, false), t.TempDir(), "shorter than the window size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := tc.sup.Get()
			require.ErrorContains(t, st.Init(state.StoreContext{Dir: tc.dir}), tc.want)
			require.NoError(t, st.Close())
		})
	}
	st := SessionStore("S", Options{}, time.Hour).Get()
	require.ErrorContains(t, st.Init(state.StoreContext{}), "StoreContext.Dir is empty")
	require.True(t, st.Persistent())
}

// recLog records changelog records.
type recLog struct{ recs []bkv }

func (l *recLog) LogChange(_ string, key, value []byte) error {
	l.recs = append(l.recs, bkv{Key: bytes.Clone(key), Value: bytes.Clone(value)})
	return nil
}

// The changelog of an in-memory store restores a RocksDB one, and the other
// way round: the records carry the same encoded keys.
func TestWindowRestoreAcrossBackends(t *testing.T) {
	t.Parallel()
	for i, src := range windowBackends {
		dst := windowBackends[1-i]
		t.Run(src.name+" to "+dst.name, func(t *testing.T) {
			t.Parallel()
			log := &recLog{}
			a := openWindow(t, src.window("W", 3*time.Minute, time.Minute, true), t.TempDir(), log)
			for i := range int64(100) {
				require.NoError(t, a.Put(fmt.Sprint(i%5), fmt.Sprint(i), at(i*5*sec)))
				if i%9 == 0 {
					require.NoError(t, a.Delete(fmt.Sprint((i+1)%5), at((i-4)*5*sec)))
				}
			}
			relog := &recLog{}
			b := openWindow(t, dst.window("W", 3*time.Minute, time.Minute, true), t.TempDir(), relog)
			require.NoError(t, b.(stateproto.Restorer).Restore(log.recs))
			require.Empty(t, relog.recs)
			require.Equal(t, render(collect(t, a.All())), render(collect(t, b.All())))

			slog := &recLog{}
			sa := openSession(t, src.session("S", 3*time.Minute), t.TempDir(), slog)
			for i := range int64(100) {
				s := state.Windowed[string]{Key: fmt.Sprint(i % 3), Start: at(i * 5 * sec), End: at(i*5*sec + 2*sec)}
				require.NoError(t, sa.Put(s, fmt.Sprint(i)))
			}
			sb := openSession(t, dst.session("S", 3*time.Minute), t.TempDir(), nil)
			require.NoError(t, sb.(stateproto.Restorer).Restore(slog.recs))
			require.Equal(t, render(collect(t, sa.FetchRange(nil, nil))), render(collect(t, sb.FetchRange(nil, nil))))
		})
	}
}

// A RocksDB store against an in-memory one: the same random operations,
// every read compared, the RocksDB store closed and reopened now and then.
func TestWindowStoreMatchesMemory(t *testing.T) {
	t.Parallel()
	for _, dups := range []bool{false, true} {
		t.Run(fmt.Sprint("dups=", dups), func(t *testing.T) {
			t.Parallel()
			const retention = 3 * time.Minute
			dir := t.TempDir()
			mem := openWindow(t, state.InMemoryWindowStore("W", retention, 30*time.Second, dups), "", nil)
			sup := WindowStore("W", smallOpts, retention, 30*time.Second, dups)
			var disk state.WindowStore[string, string]
			reopen := func() {
				if disk != nil {
					require.NoError(t, disk.Close())
				}
				disk = state.NewWindowStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
				require.NoError(t, disk.Init(state.StoreContext{Dir: dir}))
			}
			reopen()
			t.Cleanup(func() { _ = disk.Close() })

			rng := rand.New(rand.NewPCG(3, 3))
			keys := []string{"", "a", "a\x00", "a\x80\x00\x00\x00\x00\x00", "ab", "b"}
			now := -5 * time.Minute.Milliseconds()
			recent := func() int64 { return now - rng.Int64N(retention.Milliseconds()*3/2) }
			key := func() string { return keys[rng.IntN(len(keys))] }
			droppedBase := int64(0)
			reads := 0
			for range 3000 {
				now += rng.Int64N(3 * sec)
				switch c := rng.IntN(100); {
				case c < 45:
					k, ts, v := key(), recent(), fmt.Sprint(rng.IntN(1000))
					require.NoError(t, mem.Put(k, v, at(ts)))
					require.NoError(t, disk.Put(k, v, at(ts)))
				case c < 55:
					k, ts := key(), recent()
					require.NoError(t, mem.Delete(k, at(ts)))
					require.NoError(t, disk.Delete(k, at(ts)))
				case c < 65:
					k, ts := key(), recent()
					mv, mok, err := mem.FetchOne(k, at(ts))
					require.NoError(t, err)
					dv, dok, err := disk.FetchOne(k, at(ts))
					require.NoError(t, err)
					require.Equal(t, mok, dok)
					require.Equal(t, mv, dv)
				case c < 98:
					from, to := recent(), recent()
					k, kf, kt := key(), ptr(key()), ptr(key())
					if rng.IntN(3) == 0 {
						kf = nil
					}
					for _, q := range []struct {
						name string
						seq  func(s state.WindowStore[string, string]) []string
					}{
						{"fetch", func(s state.WindowStore[string, string]) []string {
							return render(collect(t, s.Fetch(k, at(from), at(to))))
						}},
						{"backward fetch", func(s state.WindowStore[string, string]) []string {
							return render(collect(t, s.BackwardFetch(k, at(from), at(to))))
						}},
						{"fetch range", func(s state.WindowStore[string, string]) []string {
							return render(collect(t, s.FetchRange(kf, kt, at(from), at(to))))
						}},
						{"backward fetch range", func(s state.WindowStore[string, string]) []string {
							return render(collect(t, s.BackwardFetchRange(kf, kt, at(from), at(to))))
						}},
						{"all", func(s state.WindowStore[string, string]) []string { return render(collect(t, s.All())) }},
					} {
						m := q.seq(mem)
						require.Equal(t, m, q.seq(disk), q.name)
						reads += min(len(m), 1)
					}
				case c < 99:
					require.NoError(t, disk.Flush())
					require.Equal(t, mem.(state.DroppedRecordsCounter).DroppedRecords()-droppedBase, disk.(state.DroppedRecordsCounter).DroppedRecords())
				default:
					reopen()
					droppedBase = mem.(state.DroppedRecordsCounter).DroppedRecords()
				}
			}
			require.Greater(t, reads, 1000, "too few reads found anything")
			require.Positive(t, mem.(state.DroppedRecordsCounter).DroppedRecords())
			require.LessOrEqual(t, len(segmentDirs(t, dir, "W")), 4, "expired segments are deleted")
		})
	}
}

func TestSessionStoreMatchesMemory(t *testing.T) {
	t.Parallel()
	const retention = 3 * time.Minute
	dir := t.TempDir()
	mem := openSession(t, state.InMemorySessionStore("S", retention), "", nil)
	sup := SessionStore("S", smallOpts, retention)
	var disk state.SessionStore[string, string]
	reopen := func() {
		if disk != nil {
			require.NoError(t, disk.Close())
		}
		disk = state.NewSessionStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
		require.NoError(t, disk.Init(state.StoreContext{Dir: dir}))
	}
	reopen()
	t.Cleanup(func() { _ = disk.Close() })

	rng := rand.New(rand.NewPCG(4, 4))
	keys := []string{"", "a", "a\x00", "a\x80\x00\x00\x00\x00\x00", "ab", "b"}
	now := int64(0)
	key := func() string { return keys[rng.IntN(len(keys))] }
	sess := func() state.Windowed[string] {
		end := now - rng.Int64N(retention.Milliseconds()*3/2)
		return state.Windowed[string]{Key: key(), Start: at(end - rng.Int64N(60*sec)), End: at(end)}
	}
	dropped := func(s state.SessionStore[string, string]) int64 {
		return s.(state.DroppedRecordsCounter).DroppedRecords()
	}
	droppedBase := int64(0) // mem's count when disk was last reopened
	reads := 0
	for range 2000 {
		now += rng.Int64N(3 * sec)
		switch c := rng.IntN(100); {
		case c < 45:
			s, v := sess(), fmt.Sprint(rng.IntN(1000))
			require.NoError(t, mem.Put(s, v))
			require.NoError(t, disk.Put(s, v))
		case c < 55:
			s := sess()
			require.NoError(t, mem.Remove(s))
			require.NoError(t, disk.Remove(s))
		case c < 99:
			k, e, l := key(), now-rng.Int64N(4*60*sec), now-rng.Int64N(4*60*sec)
			kf, kt := ptr(key()), ptr(key())
			for _, q := range []struct {
				name string
				seq  func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error]
			}{
				{"find", func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error] {
					return s.FindSessions(k, at(e), at(l))
				}},
				{"backward find", func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error] {
					return s.BackwardFindSessions(k, at(e), at(l))
				}},
				{"fetch", func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error] {
					return s.Fetch(k)
				}},
				{"range", func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error] {
					return s.FetchRange(kf, kt)
				}},
				{"backward range", func(s state.SessionStore[string, string]) iter.Seq2[state.KeyValue[state.Windowed[string], string], error] {
					return s.BackwardFetchRange(nil, kt)
				}},
			} {
				m := render(collect(t, q.seq(mem)))
				require.Equal(t, m, render(collect(t, q.seq(disk))), q.name)
				reads += min(len(m), 1)
			}
		default:
			require.Equal(t, dropped(mem)-droppedBase, dropped(disk), "both drop the same late puts")
			reopen()
			droppedBase = dropped(mem)
		}
	}
	require.Greater(t, reads, 700, "too few reads found anything")
	require.Positive(t, dropped(mem), "no put was ever dropped")
	require.Equal(t, dropped(mem)-droppedBase, dropped(disk), "both drop the same late puts")
}
