package state

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// Under exactly-once a versioned store keeps its versions until the
// commit: an aborted transaction leaves no version and no stream time
// behind, and a committed one logs the versions and the stream time.
func TestVersionedStoreTransactional(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	st := NewVersionedKeyValueStoreBuilder(InMemoryKeyValueStore("v"), time.Hour, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log, Transactional: true}))
	t.Cleanup(func() { _ = st.Close() })
	tx := st.(transactional)
	view := st.(committedViewer).CommittedView().(ReadOnlyVersionedKeyValueStore[string, string])

	_, _, err := st.Put("k", "a", time.UnixMilli(10))
	require.NoError(t, err)
	r, ok, err := st.GetAsOf("k", time.UnixMilli(10))
	require.NoError(t, err)
	require.True(t, ok, "the task reads its own writes")
	require.Equal(t, "a", r.Value)
	require.NoError(t, tx.Prepare())
	require.Len(t, log.recs, 2, "the version and the stream time")
	require.NoError(t, tx.Apply(-1))
	_, ok, err = view.GetAsOf("k", time.UnixMilli(10))
	require.NoError(t, err)
	require.True(t, ok, "committed")

	log.recs = nil
	_, _, err = st.Put("k", "b", time.UnixMilli(20))
	require.NoError(t, err)
	require.NoError(t, tx.Prepare())
	tx.Abort()
	r, ok, err = st.Get("k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a", r.Value, "the aborted version is gone")
	require.True(t, r.ValidTo.IsZero())
}

// parseVersionKey takes any bytes without panicking and accepts exactly
// the keys versionPrefix and appendVersionTime make.
func FuzzVersionKey(f *testing.F) {
	f.Add([]byte("k"), int64(0))
	f.Add([]byte{}, int64(math.MinInt64))
	f.Add([]byte{1, 2, 3}, int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, k []byte, ms int64) {
		b := appendVersionTime(versionPrefix(nil, k), ms)
		gk, gms, ok := parseVersionKey(b)
		require.True(t, ok)
		require.Equal(t, string(k), string(gk))
		require.Equal(t, ms, gms)
		// Arbitrary bytes: no panic, and a key is never taken for the
		// meta entry.
		_, _, ok = parseVersionKey(k)
		if ok {
			require.Equal(t, byte(versionTag), k[0])
		}
		_, _, ok = parseVersionKey(metaKey)
		require.False(t, ok)
	})
}

// Keys that are not written again still lose their expired versions: the
// sweep at each commit goes round the store. Without it their history
// would stay forever.
func TestVersionedStoreSweepsKeysNotWrittenAgain(t *testing.T) {
	t.Parallel()
	inner := InMemoryKeyValueStore("v")
	st := NewVersionedKeyValueStoreBuilder(inner, 10*time.Millisecond, serde.String(), serde.String()).WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	keys := 3*sweepKeys + 7
	for i := range keys {
		k := fmt.Sprintf("k%04d", i)
		for ms := range int64(3) { // three versions each: two can expire
			_, _, err := st.Put(k, "v", time.UnixMilli(ms))
			require.NoError(t, err)
		}
	}
	entries := func() int {
		n, err := st.(*versionedStore[string, string]).inner.ApproximateNumEntries()
		require.NoError(t, err)
		return int(n)
	}
	require.Equal(t, 3*keys, entries(), "every version")
	_, _, err := st.Put("other", "x", time.UnixMilli(100)) // stream time 100: every k's first two versions expire
	require.NoError(t, err)
	for range 4 {
		require.NoError(t, st.Flush())
	}
	require.Equal(t, keys+1+1, entries(), "one version of each key, other's, the stream time")
	for _, k := range []string{"k0000", fmt.Sprintf("k%04d", keys-1)} {
		r, ok, err := st.Get(k)
		require.NoError(t, err)
		require.True(t, ok, "the latest version stays")
		require.Equal(t, time.UnixMilli(2).UTC(), r.Timestamp)
	}
}
