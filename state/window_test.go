package state

import (
	"iter"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// at is the time ms Unix milliseconds, as the stores return it.
func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

const sec = int64(1000)

// openWindow returns an initialized, unlogged window store of strings built
// from sup, closed when the test ends.
func openWindow(t testing.TB, sup WindowBytesStoreSupplier) *windowStore[string, string] {
	t.Helper()
	st := NewWindowStoreBuilder(sup, serde.String(), serde.String()).WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{ApplicationID: "app", TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	return st.(*windowStore[string, string])
}

// starts renders a window fetch as "start=value" with starts in seconds.
func starts(kvs []KeyValue[time.Time, string]) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, strconv.FormatInt(kv.Key.UnixMilli()/sec, 10)+"="+kv.Value)
	}
	return out
}

// windows renders windowed entries as "key@start-end=value", in seconds.
func windows(kvs []KeyValue[Windowed[string], string]) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, kv.Key.Key+"@"+strconv.FormatInt(kv.Key.Start.UnixMilli()/sec, 10)+"-"+
			strconv.FormatInt(kv.Key.End.UnixMilli()/sec, 10)+"="+kv.Value)
	}
	return out
}

func TestWindowFetchBounds(t *testing.T) {
	t.Parallel()
	st := openWindow(t, InMemoryWindowStore("w", time.Hour, 10*time.Second, false))
	for _, s := range []int64{-20, -10, 0, 10, 20, 30} {
		require.NoError(t, st.Put("k", strconv.FormatInt(s, 10), at(s*sec)))
	}
	require.NoError(t, st.Put("other", "x", at(10*sec)))
	tests := []struct {
		name     string
		from, to int64 // seconds
		want     []string
	}{
		{"inclusive both ends", 10, 20, []string{"10=10", "20=20"}},
		{"one instant", 10, 10, []string{"10=10"}},
		{"between windows", 11, 19, []string{}},
		{"inverted", 20, 10, []string{}},
		{"negative and zero", -20, 0, []string{"-20=-20", "-10=-10", "0=0"}},
		{"everything", -1 << 20, 1 << 20, []string{"-20=-20", "-10=-10", "0=0", "10=10", "20=20", "30=30"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := starts(collect(t, st.Fetch("k", at(tc.from*sec), at(tc.to*sec))))
			require.Equal(t, tc.want, got)
			require.Equal(t, reversed(tc.want), starts(collect(t, st.BackwardFetch("k", at(tc.from*sec), at(tc.to*sec)))))
		})
	}
	// Sub-millisecond bounds: a start at 10s lies in [10s+0.5ms floored, …].
	require.Equal(t, []string{"10=10"}, starts(collect(t, st.Fetch("k", at(10*sec).Add(500*time.Microsecond), at(10*sec)))))
	// The zero time.Time and a far future as bounds.
	require.Len(t, collect(t, st.Fetch("k", time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))), 6)
}

func TestWindowFetchOneAndReplace(t *testing.T) {
	t.Parallel()
	st := openWindow(t, InMemoryWindowStore("w", time.Hour, time.Minute, false))
	_, ok, err := st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, st.Put("k", "1", at(0)))
	require.NoError(t, st.Put("k", "2", at(0))) // replaces
	v, ok, err := st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "2", v)
	require.Equal(t, []string{"0=2"}, starts(collect(t, st.Fetch("k", at(0), at(0)))))
	require.NoError(t, st.Put("k", "", at(sec))) // an empty value is a value
	v, ok, err = st.FetchOne("k", at(sec))
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, v)
	require.NoError(t, st.Delete("k", at(0)))
	require.NoError(t, st.Delete("k", at(0))) // twice: nothing to do
	require.NoError(t, st.Delete("never", at(5*time.Hour.Milliseconds())))
	_, ok, err = st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, []string{"k@1-61="}, windows(collect(t, st.All())))
}

// Every Put of a store that retains duplicates adds an entry; they come
// back in insertion order, FetchOne returns the last, Delete removes all.
func TestWindowRetainDuplicates(t *testing.T) {
	t.Parallel()
	st := openWindow(t, InMemoryWindowStore("w", time.Hour, time.Minute, true))
	for _, v := range []string{"c", "a", "b", "a"} {
		require.NoError(t, st.Put("k", v, at(0)))
	}
	require.NoError(t, st.Put("k", "later", at(sec)))
	require.NoError(t, st.Put("j", "other key", at(0)))
	require.Equal(t, []string{"0=c", "0=a", "0=b", "0=a", "1=later"}, starts(collect(t, st.Fetch("k", at(0), at(sec)))))
	require.Equal(t, []string{"1=later", "0=a", "0=b", "0=a", "0=c"}, starts(collect(t, st.BackwardFetch("k", at(0), at(sec)))))
	require.Equal(t, []string{"j@0-60=other key", "k@0-60=c", "k@0-60=a", "k@0-60=b", "k@0-60=a", "k@1-61=later"}, windows(collect(t, st.All())))
	v, ok, err := st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a", v)
	require.NoError(t, st.Delete("k", at(0)))
	require.Equal(t, []string{"1=later"}, starts(collect(t, st.Fetch("k", at(0), at(sec)))))
	require.Equal(t, []string{"j@0-60=other key", "k@1-61=later"}, windows(collect(t, st.All())))
}

// A window expires once its start is at or before observed stream time −
// retention: the edge itself has expired, one millisecond later has not.
func TestWindowRetentionEdge(t *testing.T) {
	t.Parallel()
	const retention = 10 * time.Minute
	r := retention.Milliseconds()
	st := openWindow(t, InMemoryWindowStore("w", retention, time.Minute, false))
	require.NoError(t, st.Put("k", "edge", at(0)))
	require.NoError(t, st.Put("k", "edge+1", at(1)))
	require.NoError(t, st.Put("k", "now", at(r-1)))
	require.Equal(t, []string{"0=edge", "0=edge+1", "599=now"}, starts(collect(t, st.Fetch("k", at(0), at(r)))), "nothing expired yet")
	require.NoError(t, st.Put("k", "newest", at(r))) // observed stream time = r: 0 expires
	_, ok, err := st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.False(t, ok, "the window at the edge has expired")
	v, ok, err := st.FetchOne("k", at(1))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "edge+1", v)
	require.Len(t, collect(t, st.All()), 3)

	// A Put for an expired window is ignored and counted.
	require.Zero(t, st.DroppedRecords())
	require.NoError(t, st.Put("k", "late", at(0)))
	require.NoError(t, st.Put("other", "late", at(-5*r)))
	require.EqualValues(t, 2, st.DroppedRecords())
	_, ok, err = st.FetchOne("k", at(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, st.Put("k", "in time", at(1)))
	require.EqualValues(t, 2, st.DroppedRecords())
	v, _, err = st.FetchOne("k", at(1))
	require.NoError(t, err)
	require.Equal(t, "in time", v)
}

// A serialized key that is a prefix of another must not see the other's
// windows, however the bytes after it compare with the time bytes.
func TestWindowPrefixKeys(t *testing.T) {
	t.Parallel()
	st := openWindow(t, InMemoryWindowStore("w", time.Hour, time.Second, false))
	keys := []string{
		"", "a", "a\x00", "a\x7f", "a\x80", "a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "ab", "b",
		// "a" and the encoding of time 0: this key's windows lie in the
		// byte range of the windows of "a" at time 0.
		"a\x80\x00\x00\x00\x00\x00\x00\x00",
	}
	for i, k := range keys {
		for s := int64(-1); s <= 1; s++ {
			require.NoError(t, st.Put(k, strconv.Itoa(i), at(s*sec)))
		}
	}
	for i, k := range keys {
		v := strconv.Itoa(i)
		require.Equal(t, []string{"-1=" + v, "0=" + v, "1=" + v}, starts(collect(t, st.Fetch(k, at(-sec), at(sec)))), "key %q", k)
		got, ok, err := st.FetchOne(k, at(0))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, v, got)
		// A range of one key holds that key only.
		require.Len(t, collect(t, st.FetchRange(&k, &k, at(-sec), at(sec))), 3, "key %q", k)
	}
	// A range holds exactly the keys between its bounds, prefixes of the
	// upper bound included.
	for _, kf := range append([]string{"<nil>"}, keys...) {
		for _, kt := range append([]string{"<nil>"}, keys...) {
			var from, to *string
			if kf != "<nil>" {
				from = ptr(kf)
			}
			if kt != "<nil>" {
				to = ptr(kt)
			}
			want := map[string]int{}
			for _, k := range keys {
				if (from == nil || k >= *from) && (to == nil || k <= *to) {
					want[k] = 2 // windows 0 and 1
				}
			}
			got := map[string]int{}
			for _, kv := range collect(t, st.FetchRange(from, to, at(0), at(sec))) {
				got[kv.Key.Key]++
			}
			require.Equal(t, want, got, "range [%q, %q]", kf, kt)
		}
	}
}

func TestWindowFetchRangeOrderAcrossSegments(t *testing.T) {
	t.Parallel()
	// Segments of a minute: the windows below spread over four.
	st := openWindow(t, InMemoryWindowStore("w", 2*time.Minute, 10*time.Second, false))
	for _, s := range []int64{100, 0, 50, 110, 70} {
		for _, k := range []string{"b", "a", "c"} {
			require.NoError(t, st.Put(k, k, at(s*sec)))
		}
	}
	want := []string{
		"a@0-10=a", "a@50-60=a", "a@70-80=a", "a@100-110=a", "a@110-120=a",
		"b@0-10=b", "b@50-60=b", "b@70-80=b", "b@100-110=b", "b@110-120=b",
		"c@0-10=c", "c@50-60=c", "c@70-80=c", "c@100-110=c", "c@110-120=c",
	}
	require.Equal(t, want, windows(collect(t, st.All())))
	require.Equal(t, reversed(want), windows(collect(t, st.BackwardAll())))
	require.Equal(t, []string{"a@50-60=a", "a@70-80=a", "b@50-60=b", "b@70-80=b", "c@50-60=c", "c@70-80=c"},
		windows(collect(t, st.FetchAll(at(50*sec), at(70*sec)))))
	require.Equal(t, []string{"c@70-80=c", "c@50-60=c", "b@70-80=b", "b@50-60=b"},
		windows(collect(t, st.BackwardFetchRange(ptr("b"), nil, at(50*sec), at(70*sec)))))
	require.Equal(t, []string{"a@100-110=a", "a@110-120=a", "b@100-110=b", "b@110-120=b"},
		windows(collect(t, st.FetchRange(nil, ptr("b"), at(100*sec), at(200*sec)))))
	require.Empty(t, collect(t, st.FetchRange(ptr("c"), ptr("a"), at(0), at(200*sec))))
	require.Equal(t, []string{"c@50-60=c", "c@0-10=c", "b@50-60=b", "b@0-10=b", "a@50-60=a", "a@0-10=a"},
		windows(collect(t, st.BackwardFetchAll(at(0), at(50*sec)))))
	// A break ends the loop early; nothing is left open (see the
	// segment tests for the releases).
	n := 0
	for range st.All() {
		n++
		if n == 2 {
			break
		}
	}
	require.Equal(t, 2, n)
}

func TestTimestampedWindowStore(t *testing.T) {
	t.Parallel()
	st := NewTimestampedWindowStoreBuilder(InMemoryWindowStore("tw", time.Hour, time.Minute, false), serde.String(), serde.Int64()).BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123_456_789, time.UTC)
	require.NoError(t, st.Put("k", ValueAndTimestamp[int64]{Value: 7, Timestamp: ts}, ts.Truncate(time.Minute)))
	v, ok, err := st.FetchOne("k", ts.Truncate(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ValueAndTimestamp[int64]{Value: 7, Timestamp: ts.Truncate(time.Millisecond)}, v)
	kvs := collect(t, st.All())
	require.Len(t, kvs, 1)
	require.Equal(t, Windowed[string]{Key: "k", Start: ts.Truncate(time.Minute), End: ts.Truncate(time.Minute).Add(time.Minute)}, kvs[0].Key)
}

func TestWindowStoreLifeCycleErrors(t *testing.T) {
	t.Parallel()
	st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Hour, time.Minute, false), serde.String(), serde.String()).BuildStore()
	require.ErrorIs(t, st.Put("k", "v", at(0)), ErrStoreNotInitialized)
	_, _, err := st.FetchOne("k", at(0))
	require.ErrorIs(t, err, ErrStoreNotInitialized)
	require.ErrorIs(t, st.Flush(), ErrStoreNotInitialized)
	require.NoError(t, st.Init(StoreContext{}))
	require.ErrorContains(t, st.Init(StoreContext{}), "Init called twice")
	require.NoError(t, st.Put("k", "v", at(0)))
	require.NoError(t, st.Flush())
	seq := st.All()
	require.NoError(t, st.Close())
	require.NoError(t, st.Close()) // idempotent
	require.ErrorIs(t, st.Put("k", "v", at(0)), ErrStoreClosed)
	require.ErrorIs(t, st.Delete("k", at(0)), ErrStoreClosed)
	_, _, err = st.FetchOne("k", at(0))
	require.ErrorIs(t, err, ErrStoreClosed)
	require.ErrorContains(t, err, `window store "w"`)
	require.ErrorIs(t, st.Init(StoreContext{}), ErrStoreClosed)
	for _, s := range []iter.Seq2[KeyValue[Windowed[string], string], error]{seq, st.FetchAll(at(0), at(1)), st.BackwardAll()} {
		kvs, errs, err := drain(s)
		require.Empty(t, kvs)
		require.Equal(t, 1, errs)
		require.ErrorIs(t, err, ErrStoreClosed)
	}
	kvs, errs, err := drain(st.Fetch("k", at(0), at(1)))
	require.Empty(t, kvs)
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, ErrStoreClosed)
}

// Serde failures are returned or yielded once, wrapped, never swallowed.
func TestWindowStoreSerdeErrors(t *testing.T) {
	t.Parallel()
	ks, vs := &faultySerde{failOn: "bad"}, &faultySerde{failOn: "bad"}
	st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Hour, time.Minute, false), ks, vs).BuildStore()
	require.NoError(t, st.Init(StoreContext{}))
	t.Cleanup(func() { _ = st.Close() })
	var se *serde.Error
	err := st.Put("bad", "v", at(0))
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, errFault)
	require.ErrorAs(t, st.Put("k", "bad", at(0)), &se)
	_, _, err = st.FetchOne("bad", at(0))
	require.ErrorIs(t, err, errFault)
	kvs, errs, err := drain(st.Fetch("bad", at(0), at(1)))
	require.Empty(t, kvs)
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, errFault)
	_, errs, err = drain(st.FetchRange(ptr("a"), ptr("bad"), at(0), at(1)))
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, errFault)

	// A stored value that fails to deserialize: write the bytes "bad"
	// below the typed layer.
	inner := st.(*windowStore[string, string]).inner
	_, err = inner.Put(encodeWindowKey(nil, []byte("k"), 0, 0), []byte("bad"))
	require.NoError(t, err)
	_, _, err = st.FetchOne("k", at(0))
	require.ErrorIs(t, err, errFault)
	_, errs, err = drain(st.All())
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, errFault)
	require.Positive(t, ks.hits.Load())
	require.Positive(t, vs.hits.Load())
}

func TestWindowBuilder(t *testing.T) {
	t.Parallel()
	b := NewWindowStoreBuilder(InMemoryWindowStore("w", 2*time.Hour, time.Minute, false), serde.String(), serde.Int64())
	var sb StoreBuilder = b
	wb, ok := sb.(WindowedStoreBuilder)
	require.True(t, ok, "the runtime finds the retention by this assertion")
	require.Equal(t, 2*time.Hour, wb.Retention())
	require.Equal(t, "w", wb.Name())
	require.True(t, wb.LoggingEnabled())
	require.False(t, wb.CachingEnabled())
	require.Equal(t, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "93600000"}, wb.LogConfig())

	// Chained configuration keeps the type: still a WindowedStoreBuilder.
	sb = b.WithLoggingEnabled(map[string]string{"retention.ms": "1", "segment.ms": "5"}).WithCaching()
	wb = sb.(WindowedStoreBuilder)
	require.Equal(t, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1", "segment.ms": "5"}, wb.LogConfig())
	require.True(t, wb.CachingEnabled())
	sb = b.WithLoggingDisabled().WithCachingDisabled()
	require.Empty(t, sb.LogConfig())
	require.False(t, sb.LoggingEnabled())

	st := sb.Build()
	require.Implements(t, (*WindowStore[string, int64])(nil), st)
	require.Implements(t, (*restorer)(nil), st)
	require.Implements(t, (*DroppedRecordsCounter)(nil), st)
	require.False(t, st.Persistent())

	tb := NewTimestampedWindowStoreBuilder(InMemoryWindowStore("tw", time.Hour, time.Minute, true), serde.String(), serde.Int64())
	require.Implements(t, (*TimestampedWindowStore[string, int64])(nil), tb.Build())
	require.Implements(t, (*WindowedStoreBuilder)(nil), tb)
}

func TestWindowBuilderRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sup  WindowBytesStoreSupplier
		want string
	}{
		{"nil supplier", nil, "nil supplier"},
		{"zero window", InMemoryWindowStore("w", time.Hour, 0, false), "window size 0s is less than a millisecond"},
		{"retention below window", InMemoryWindowStore("w", time.Minute, time.Hour, false), "retention 1m0s is shorter than the window size 1h0m0s"},
		{"nil segments", NewWindowBytesStoreSupplier("w", nil, time.Hour, time.Minute, false), "nil SegmentFactory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				require.NotNil(t, r)
				require.Contains(t, r, tc.want)
			}()
			NewWindowStoreBuilder(tc.sup, serde.String(), serde.String())
		})
	}
	// Used without a builder, the store's Init reports the mistake.
	st := InMemoryWindowStore("w", time.Minute, time.Hour, false).Get()
	require.ErrorContains(t, st.Init(StoreContext{}), "shorter than the window size")
	require.PanicsWithValue(t, "state: NewWindowStoreBuilder: nil key serde", func() {
		NewWindowStoreBuilder[string, string](InMemoryWindowStore("w", time.Hour, time.Minute, false), nil, serde.String())
	})
}
