package state

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// Changes are recorded only while an observer is set, with old and new
// values and the record time, and handed over at Committed, in order.
func TestObserverGetsChangesAtCommit(t *testing.T) {
	t.Parallel()
	now := time.Unix(100, 0)
	st := NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.Int64()).WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{RecordTime: func() time.Time { return now }}))
	defer st.Close()
	require.NoError(t, st.Put("before", 1)) // no observer: not recorded

	var got [][]Change[string, int64]
	st.(observable[string, int64]).SetObserver(func(cs []Change[string, int64]) { got = append(got, cs) })
	require.NoError(t, st.Put("a", 1))
	require.NoError(t, st.Put("a", 2))
	_, _, err := st.PutIfAbsent("b", 7)
	require.NoError(t, err)
	_, _, err = st.PutIfAbsent("b", 8) // present: no change
	require.NoError(t, err)
	require.NoError(t, st.PutAll([]KeyValue[string, int64]{{Key: "c", Value: 1}, {Key: "c", Value: 2}, {Key: "before", Value: 5}}))
	_, _, err = st.Delete("a")
	require.NoError(t, err)
	require.Empty(t, got, "nothing before the commit")

	st.(committer).Committed()
	require.Len(t, got, 1)
	want := []Change[string, int64]{
		{Key: "a", New: 1},
		{Key: "a", Old: 1, HadOld: true, New: 2},
		{Key: "b", New: 7},
		{Key: "c", New: 1},
		{Key: "c", Old: 1, HadOld: true, New: 2},
		{Key: "before", Old: 1, HadOld: true, New: 5},
		{Key: "a", Old: 2, HadOld: true, Deleted: true},
	}
	for i := range want {
		want[i].Timestamp = now
	}
	require.Equal(t, want, got[0])

	st.(committer).Committed()
	require.Len(t, got, 1, "nothing new, nothing handed over")
	st.(observable[string, int64]).SetObserver(nil)
	require.NoError(t, st.Put("z", 1))
	st.(committer).Committed()
	require.Len(t, got, 1, "no observer, nothing recorded")
}

// Window and session stores record their changes keyed by window (or
// session): a put with the value it replaced, a delete of each duplicate, and
// no change for a put whose window has already expired.
func TestWindowAndSessionObservers(t *testing.T) {
	t.Parallel()
	now := time.Unix(100, 0)
	ctx := StoreContext{RecordTime: func() time.Time { return now }}
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }

	t.Run("window", func(t *testing.T) {
		t.Parallel()
		st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Minute, 10*time.Second, false), serde.String(), serde.Int64()).
			WithLoggingDisabled().BuildStore()
		require.NoError(t, st.Init(ctx))
		defer st.Close()
		var got []Change[Windowed[string], int64]
		st.(observable[Windowed[string], int64]).SetObserver(func(cs []Change[Windowed[string], int64]) { got = append(got, cs...) })
		require.NoError(t, st.Put("a", 1, ms(0)))
		require.NoError(t, st.Put("a", 2, ms(0)))
		require.NoError(t, st.Put("b", 3, ms(600_000))) // moves stream time: window 0 expires
		require.NoError(t, st.Put("a", 4, ms(0)))       // dropped: no change
		require.NoError(t, st.Delete("b", ms(600_000)))
		require.NoError(t, st.Delete("b", ms(600_000))) // nothing left: no change
		st.(committer).Committed()
		w := func(k string, start int64) Windowed[string] {
			return Windowed[string]{Key: k, Start: ms(start), End: ms(start + 10_000)}
		}
		require.Equal(t, []Change[Windowed[string], int64]{
			{Key: w("a", 0), New: 1, Timestamp: now},
			{Key: w("a", 0), Old: 1, HadOld: true, New: 2, Timestamp: now},
			{Key: w("b", 600_000), New: 3, Timestamp: now},
			{Key: w("b", 600_000), Old: 3, HadOld: true, Deleted: true, Timestamp: now},
		}, got)
	})

	t.Run("window with duplicates", func(t *testing.T) {
		t.Parallel()
		st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Minute, 10*time.Second, true), serde.String(), serde.Int64()).
			WithLoggingDisabled().BuildStore()
		require.NoError(t, st.Init(ctx))
		defer st.Close()
		var got []Change[Windowed[string], int64]
		st.(observable[Windowed[string], int64]).SetObserver(func(cs []Change[Windowed[string], int64]) { got = append(got, cs...) })
		require.NoError(t, st.Put("a", 1, ms(0)))
		require.NoError(t, st.Put("a", 2, ms(0))) // a duplicate replaces nothing
		require.NoError(t, st.Delete("a", ms(0)))
		st.(committer).Committed()
		w := Windowed[string]{Key: "a", Start: ms(0), End: ms(10_000)}
		require.Equal(t, []Change[Windowed[string], int64]{
			{Key: w, New: 1, Timestamp: now},
			{Key: w, New: 2, Timestamp: now},
			{Key: w, Old: 1, HadOld: true, Deleted: true, Timestamp: now},
			{Key: w, Old: 2, HadOld: true, Deleted: true, Timestamp: now},
		}, got)
	})

	t.Run("session", func(t *testing.T) {
		t.Parallel()
		st := NewSessionStoreBuilder(InMemorySessionStore("s", time.Minute), serde.String(), serde.Int64()).
			WithLoggingDisabled().BuildStore()
		require.NoError(t, st.Init(ctx))
		defer st.Close()
		var got []Change[Windowed[string], int64]
		st.(observable[Windowed[string], int64]).SetObserver(func(cs []Change[Windowed[string], int64]) { got = append(got, cs...) })
		s1 := Windowed[string]{Key: "a", Start: ms(0), End: ms(5_000)}
		s2 := Windowed[string]{Key: "a", Start: ms(0), End: ms(9_000)}
		require.NoError(t, st.Put(s1, 1))
		require.NoError(t, st.Remove(s1)) // merged into a longer session
		require.NoError(t, st.Put(s2, 2))
		require.NoError(t, st.Put(s2, 3))
		st.(committer).Committed()
		require.Equal(t, []Change[Windowed[string], int64]{
			{Key: s1, New: 1, Timestamp: now},
			{Key: s1, Old: 1, HadOld: true, Deleted: true, Timestamp: now},
			{Key: s2, New: 2, Timestamp: now},
			{Key: s2, Old: 2, HadOld: true, New: 3, Timestamp: now},
		}, got)
	})
}
