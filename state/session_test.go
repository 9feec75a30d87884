package state

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// openSession returns an initialized, unlogged session store of strings
// built from sup, closed when the test ends.
func openSession(t testing.TB, sup SessionBytesStoreSupplier) *sessionStore[string, string] {
	t.Helper()
	st := NewSessionStoreBuilder(sup, serde.String(), serde.String()).WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{ApplicationID: "app", TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	return st.(*sessionStore[string, string])
}

func session(key string, start, end int64) Windowed[string] {
	return Windowed[string]{Key: key, Start: at(start * sec), End: at(end * sec)}
}

// FindSessions yields the sessions that overlap [earliestEnd, latestStart],
// sessions that only touch it included.
func TestFindSessionsOverlap(t *testing.T) {
	t.Parallel()
	st := openSession(t, InMemorySessionStore("s", time.Hour))
	for _, s := range []Windowed[string]{session("k", 10, 20), session("k", 30, 40), session("k", 50, 50), session("other", 0, 100)} {
		require.NoError(t, st.Put(s, s.Key))
	}
	tests := []struct {
		name                     string
		earliestEnd, latestStart int64 // seconds
		want                     []string
	}{
		{"touching both sessions' edges", 20, 30, []string{"k@10-20=k", "k@30-40=k"}},
		{"in the gap", 21, 29, []string{}},
		{"everything", 0, 100, []string{"k@10-20=k", "k@30-40=k", "k@50-50=k"}},
		{"an instant at a session's end", 40, 40, []string{"k@30-40=k"}},
		{"an instant at a session's start", 30, 30, []string{"k@30-40=k"}},
		{"inside a session", 33, 35, []string{"k@30-40=k"}},
		{"an instant session", 50, 50, []string{"k@50-50=k"}},
		{"after the last", 51, 1000, []string{}},
		{"before the first", -100, 9, []string{}},
		{"inverted: none ends after 35 that starts before 15", 35, 15, []string{}},
		{"inverted around one session", 35, 31, []string{"k@30-40=k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := windows(collect(t, st.FindSessions("k", at(tc.earliestEnd*sec), at(tc.latestStart*sec))))
			require.Equal(t, tc.want, got)
			require.Equal(t, reversed(tc.want), windows(collect(t, st.BackwardFindSessions("k", at(tc.earliestEnd*sec), at(tc.latestStart*sec)))))
		})
	}
}

// Overlapping sessions of one key (a store may hold them) come by end,
// then start.
func TestSessionOrder(t *testing.T) {
	t.Parallel()
	st := openSession(t, InMemorySessionStore("s", time.Hour))
	for _, s := range []Windowed[string]{session("k", 0, 100), session("k", 10, 20), session("k", 5, 20), session("k", -50, -40), session("j", 0, 0)} {
		require.NoError(t, st.Put(s, "v"))
	}
	want := []string{"k@-50--40=v", "k@5-20=v", "k@10-20=v", "k@0-100=v"}
	require.Equal(t, want, windows(collect(t, st.Fetch("k"))))
	require.Equal(t, reversed(want), windows(collect(t, st.BackwardFetch("k"))))
	all := append([]string{"j@0-0=v"}, want...)
	require.Equal(t, all, windows(collect(t, st.FetchRange(nil, nil))))
	require.Equal(t, reversed(all), windows(collect(t, st.BackwardFetchRange(nil, nil))))
	require.Equal(t, want, windows(collect(t, st.FetchRange(ptr("k"), ptr("k")))))
	require.Equal(t, []string{"j@0-0=v"}, windows(collect(t, st.FetchRange(ptr("a"), ptr("j")))))
	require.Empty(t, collect(t, st.FetchRange(ptr("k"), ptr("j"))))
	// The session [0, 100] starts before 15 and ends after it.
	require.Equal(t, []string{"k@5-20=v", "k@10-20=v", "k@0-100=v"}, windows(collect(t, st.FindSessions("k", at(15*sec), at(15*sec)))))
}

func TestSessionPutFetchRemove(t *testing.T) {
	t.Parallel()
	st := openSession(t, InMemorySessionStore("s", time.Hour))
	require.NoError(t, st.Put(session("k", 10, 20), "a"))
	require.NoError(t, st.Put(session("k", 10, 20), "b")) // replaces
	v, ok, err := st.FetchSession("k", at(10*sec), at(20*sec))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "b", v)
	for _, c := range [][2]int64{{10, 21}, {11, 20}, {20, 10}} {
		_, ok, err := st.FetchSession("k", at(c[0]*sec), at(c[1]*sec))
		require.NoError(t, err)
		require.False(t, ok, "session [%d, %d]", c[0], c[1])
	}
	err = st.Put(session("k", 21, 20), "x")
	require.ErrorContains(t, err, "before it starts")
	require.ErrorContains(t, st.Remove(session("k", 21, 20)), "before it starts")
	require.NoError(t, st.Remove(session("k", 10, 21))) // no such session
	require.NoError(t, st.Remove(session("k", 10, 20)))
	require.Empty(t, collect(t, st.Fetch("k")))
}

// A session expires by its end: once observed stream time − retention
// reaches it.
func TestSessionRetention(t *testing.T) {
	t.Parallel()
	const retention = 5 * time.Minute
	r := retention.Milliseconds() / sec
	st := openSession(t, InMemorySessionStore("s", retention))
	require.NoError(t, st.Put(session("k", -100, 0), "old"))
	require.NoError(t, st.Put(session("k", -100, 1), "old+1"))
	require.NoError(t, st.Put(session("k", r-1, r), "new")) // observed = r: end 0 expires
	require.Equal(t, []string{"k@-100-1=old+1", "k@299-300=new"}, windows(collect(t, st.Fetch("k"))))
	_, ok, err := st.FetchSession("k", at(-100*sec), at(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, st.Put(session("k", -100, 0), "late"))
	require.EqualValues(t, 1, st.DroppedRecords())
	require.Len(t, collect(t, st.Fetch("k")), 2)
}

func TestSessionPrefixKeys(t *testing.T) {
	t.Parallel()
	st := openSession(t, InMemorySessionStore("s", time.Hour))
	keys := []string{"", "a", "a\x00", "a\x80", "a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "ab"}
	for i, k := range keys {
		require.NoError(t, st.Put(Windowed[string]{Key: k, Start: at(0), End: at(sec)}, strconv.Itoa(i)))
		require.NoError(t, st.Put(Windowed[string]{Key: k, Start: at(-sec), End: at(-sec)}, strconv.Itoa(i)))
	}
	for i, k := range keys {
		kvs := collect(t, st.Fetch(k))
		require.Len(t, kvs, 2, "key %q", k)
		for _, kv := range kvs {
			require.Equal(t, k, kv.Key.Key)
			require.Equal(t, strconv.Itoa(i), kv.Value)
		}
		require.Len(t, collect(t, st.FindSessions(k, at(0), at(0))), 1)
		require.Len(t, collect(t, st.FetchRange(&k, &k)), 2)
	}
	got := map[string]int{}
	for _, kv := range collect(t, st.FetchRange(ptr("a"), ptr("a\x80"))) {
		got[kv.Key.Key]++
	}
	require.Equal(t, map[string]int{"a": 2, "a\x00": 2, "a\x80": 2, "ab": 2}, got) // 'b' < 0x80
}

func TestSessionBuilder(t *testing.T) {
	t.Parallel()
	b := NewSessionStoreBuilder(InMemorySessionStore("s", time.Hour), serde.String(), serde.Int64())
	var sb StoreBuilder = b.WithLoggingEnabled(nil)
	wb, ok := sb.(WindowedStoreBuilder)
	require.True(t, ok)
	require.Equal(t, time.Hour, wb.Retention())
	require.Equal(t, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "90000000"}, wb.LogConfig())
	st := b.Build()
	require.Implements(t, (*SessionStore[string, int64])(nil), st)
	require.Implements(t, (*restorer)(nil), st)
	require.Implements(t, (*DroppedRecordsCounter)(nil), st)
	require.PanicsWithValue(t, `state: NewSessionStoreBuilder: store "s": retention 0s is less than a millisecond; give it the time the store must keep sessions for`, func() {
		NewSessionStoreBuilder(InMemorySessionStore("s", 0), serde.String(), serde.Int64())
	})
	require.PanicsWithValue(t, "state: NewSessionStoreBuilder: nil supplier", func() {
		NewSessionStoreBuilder(nil, serde.String(), serde.Int64())
	})
}

func TestSessionStoreClosed(t *testing.T) {
	t.Parallel()
	st := NewSessionStoreBuilder(InMemorySessionStore("s", time.Hour), serde.String(), serde.String()).BuildStore()
	require.ErrorIs(t, st.Put(session("k", 0, 1), "v"), ErrStoreNotInitialized)
	require.NoError(t, st.Init(StoreContext{}))
	require.NoError(t, st.Close())
	require.ErrorIs(t, st.Put(session("k", 0, 1), "v"), ErrStoreClosed)
	require.ErrorIs(t, st.Remove(session("k", 0, 1)), ErrStoreClosed)
	_, _, err := st.FetchSession("k", at(0), at(1))
	require.ErrorIs(t, err, ErrStoreClosed)
	_, errs, err := drain(st.FindSessions("k", at(0), at(1)))
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, ErrStoreClosed)
	require.ErrorContains(t, err, `session store "s"`)
}
