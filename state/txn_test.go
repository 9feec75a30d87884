package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// Opened transactional, a store (cached or not) keeps its writes until the
// commit: Flush writes nothing, Prepare only logs, Apply only writes the
// backend, Abort drops them, and subscribers hear only of applied ones.
func TestTransactionalStoreCommitsInThreeSteps(t *testing.T) {
	t.Parallel()
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			t.Parallel()
			log := &changes{}
			b := NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String())
			if caching {
				b.WithCaching()
			}
			st := b.BuildStore()
			require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log, Transactional: true, CacheMaxBytes: 10 * cacheEntryOverhead}))
			t.Cleanup(func() { _ = st.Close() })
			view := st.(committedViewer).CommittedView().(ReadOnlyKeyValueStore[string, string])
			var heard []Change[string, string]
			st.(observable[string, string]).SetObserver(func(cs []Change[string, string]) { heard = append(heard, cs...) })
			tx := st.(transactional)

			require.NoError(t, st.Put("a", "1"))
			require.NoError(t, st.Put("a", "2"))
			require.NoError(t, st.Flush())
			require.Empty(t, log.got, "Flush does not commit a transactional store")
			v, _, err := st.Get("a")
			require.NoError(t, err)
			require.Equal(t, "2", v, "the task reads its own writes")

			require.NoError(t, tx.Prepare())
			require.Equal(t, []string{"s:a=2"}, log.got)
			_, ok, err := view.Get("a")
			require.NoError(t, err)
			require.False(t, ok, "prepared is not applied")
			require.NoError(t, tx.Apply(7))
			st.(committer).Committed()
			v, ok, err = view.Get("a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "2", v)
			require.Len(t, heard, 2)

			// An aborted transaction leaves no trace: not in the store, not
			// in the backend, not in the subscription.
			log.got = nil
			require.NoError(t, st.Put("a", "3"))
			_, _, err = st.Delete("a")
			require.NoError(t, err)
			require.NoError(t, st.Put("b", "x"))
			require.NoError(t, tx.Prepare())
			require.Len(t, log.got, 2)
			tx.Abort()
			st.(committer).Committed()
			require.Len(t, heard, 2, "aborted changes are never delivered")
			v, ok, err = st.Get("a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "2", v, "back at the last commit")
			_, ok, err = st.Get("b")
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, []KeyValue[string, string]{{Key: "a", Value: "2"}}, collect(t, st.All()))

			// Many writes overflow the cache: the store asks for a commit
			// and still writes nothing down.
			log.got = nil
			for i := range 30 {
				require.NoError(t, st.Put(fmt.Sprintf("k%02d", i), "v"))
			}
			require.True(t, tx.Full())
			require.Empty(t, log.got)
			require.Len(t, collect(t, view.All()), 1)
			require.NoError(t, tx.Prepare())
			require.NoError(t, tx.Apply(9))
			require.False(t, tx.Full())
			require.Len(t, collect(t, view.All()), 31)
		})
	}
}

// Window and session stores commit the same way.
func TestTransactionalWindowStore(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Hour, time.Minute, false), serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log, Transactional: true}))
	t.Cleanup(func() { _ = st.Close() })
	view := st.(committedViewer).CommittedView().(ReadOnlyWindowStore[string, string])
	tx := st.(transactional)
	require.NoError(t, st.Put("a", "1", time.UnixMilli(0)))
	require.NoError(t, tx.Prepare())
	require.Len(t, log.got, 1)
	tx.Abort()
	_, ok, err := st.FetchOne("a", time.UnixMilli(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, st.Put("a", "2", time.UnixMilli(0)))
	require.NoError(t, tx.Prepare())
	_, ok, err = view.FetchOne("a", time.UnixMilli(0))
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, tx.Apply(-1))
	v, ok, err := view.FetchOne("a", time.UnixMilli(0))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "2", v)

	ss := NewSessionStoreBuilder(InMemorySessionStore("s", time.Hour), serde.String(), serde.String()).BuildStore()
	require.NoError(t, ss.Init(StoreContext{TaskID: "0_0", Transactional: true}))
	t.Cleanup(func() { _ = ss.Close() })
	sv := ss.(committedViewer).CommittedView().(ReadOnlySessionStore[string, string])
	s1 := Windowed[string]{Key: "a", Start: time.UnixMilli(0).UTC(), End: time.UnixMilli(10).UTC()}
	require.NoError(t, ss.Put(s1, "x"))
	_, ok, err = sv.FetchSession("a", s1.Start, s1.End)
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, ss.(transactional).Apply(-1))
	_, ok, err = sv.FetchSession("a", s1.Start, s1.End)
	require.NoError(t, err)
	require.True(t, ok)
}

// Stream time moved by an aborted transaction's puts is rolled back with
// them: the committed windows it would have expired are still there, and a
// put that was live before the transaction is live again. Within the
// transaction, the task sees the expiry its puts cause.
func TestTransactionalWindowStoreAbortRollsBackExpiry(t *testing.T) {
	t.Parallel()
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			t.Parallel()
			b := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Minute, time.Second, false), serde.String(), serde.String())
			if caching {
				b = b.WithCaching()
			}
			st := b.BuildStore()
			require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: &changes{}, Transactional: true}))
			t.Cleanup(func() { _ = st.Close() })
			tx := st.(transactional)
			fetch := func(key string, at time.Duration) (string, bool) {
				t.Helper()
				v, ok, err := st.FetchOne(key, time.UnixMilli(at.Milliseconds()))
				require.NoError(t, err)
				return v, ok
			}
			require.NoError(t, st.Put("a", "old", time.UnixMilli(0)))
			require.NoError(t, tx.Prepare())
			require.NoError(t, tx.Apply(-1))

			require.NoError(t, st.Put("b", "far", time.UnixMilli((10*time.Minute).Milliseconds())))
			_, ok := fetch("a", 0)
			require.False(t, ok, "within the transaction, 10 minutes later, a has expired")
			require.Empty(t, collect(t, st.FetchAll(time.UnixMilli(0), time.UnixMilli(0))))
			tx.Abort()

			v, ok := fetch("a", 0)
			require.True(t, ok, "the aborted put must not expire committed windows")
			require.Equal(t, "old", v)
			require.NoError(t, st.Put("c", "live", time.UnixMilli((30*time.Second).Milliseconds())))
			require.NoError(t, tx.Prepare())
			require.NoError(t, tx.Apply(-1))
			v, ok = fetch("c", 30*time.Second)
			require.True(t, ok, "30 s is live again: the stream time is the committed one")
			require.Equal(t, "live", v)

			// Applied, a put moves stream time for good.
			require.NoError(t, st.Put("b", "far", time.UnixMilli((10*time.Minute).Milliseconds())))
			require.NoError(t, tx.Prepare())
			require.NoError(t, tx.Apply(-1))
			_, ok = fetch("a", 0)
			require.False(t, ok)
		})
	}
}
