package state_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/statetest"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

func TestVersionedStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			statetest.VersionedModel(t, state.InMemoryKeyValueStore("versions"), "", seed)
		})
	}
}

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

func openVersioned(t *testing.T, history time.Duration) state.VersionedKeyValueStore[string, string] {
	t.Helper()
	st := state.NewVersionedKeyValueStoreBuilder(state.InMemoryKeyValueStore("v"), history, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// The semantics a user relies on, one at a time: versions out of order,
// ValidTo, deletions as versions, a replaced timestamp, and the history
// bound on writes and reads.
func TestVersionedStoreSemantics(t *testing.T) {
	t.Parallel()
	st := openVersioned(t, 100*time.Millisecond)
	// put reports whether the write was stored; validTo is the next
	// version's timestamp it ends at, 0 while it is the latest.
	var validTo int64
	put := func(k, v string, at int64) bool {
		t.Helper()
		to, ok, err := st.Put(k, v, ms(at))
		require.NoError(t, err)
		validTo = 0
		if !to.IsZero() {
			validTo = to.UnixMilli()
		}
		return ok
	}
	asOf := func(k string, at int64) (state.VersionedRecord[string], bool) {
		t.Helper()
		r, ok, err := st.GetAsOf(k, ms(at))
		require.NoError(t, err)
		return r, ok
	}
	_, ok := asOf("a", 1000)
	require.False(t, ok, "nothing before the first write")

	require.True(t, put("a", "v10", 1010))
	require.Zero(t, validTo, "the first version is the latest")
	require.True(t, put("a", "v30", 1030))
	require.Zero(t, validTo)
	require.True(t, put("a", "v20", 1020), "out of order, within the history")
	require.Equal(t, int64(1030), validTo, "an older write is valid until the next version")
	r, ok := asOf("a", 1025)
	require.True(t, ok)
	require.Equal(t, state.VersionedRecord[string]{Value: "v20", Timestamp: ms(1020), ValidTo: ms(1030)}, r)
	r, ok = asOf("a", 1010)
	require.True(t, ok)
	require.Equal(t, "v10", r.Value, "a version is valid from its timestamp on")
	require.Equal(t, ms(1020), r.ValidTo)
	_, ok = asOf("a", 1009)
	require.False(t, ok)
	latest, ok, err := st.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, state.VersionedRecord[string]{Value: "v30", Timestamp: ms(1030)}, latest, "the latest has no ValidTo")

	require.True(t, put("a", "v20b", 1020), "the same timestamp replaces")
	require.Equal(t, int64(1030), validTo)
	r, _ = asOf("a", 1020)
	require.Equal(t, "v20b", r.Value)

	old, ok, err := st.Delete("a", ms(1040))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, state.VersionedRecord[string]{Value: "v30", Timestamp: ms(1030), ValidTo: ms(1040)}, old)
	_, ok, err = st.Get("a")
	require.NoError(t, err)
	require.False(t, ok, "deleted")
	_, ok = asOf("a", 1045)
	require.False(t, ok)
	r, ok = asOf("a", 1035)
	require.True(t, ok, "the history before a deletion stays")
	require.Equal(t, "v30", r.Value)
	require.True(t, put("a", "v50", 1050))
	r, ok = asOf("a", 1060)
	require.True(t, ok, "a write after a deletion")
	require.Equal(t, "v50", r.Value)
	require.True(t, put("a", "v35", 1035))
	require.Equal(t, int64(1040), validTo, "a deletion ends a version too")
	r, _ = asOf("a", 1039)
	require.Equal(t, state.VersionedRecord[string]{Value: "v35", Timestamp: ms(1035), ValidTo: ms(1040)}, r)

	// Stream time is 1050, the history 100 ms: 950 is the oldest time the
	// store answers for and accepts writes at.
	require.False(t, put("a", "late", 949), "older than the history: not written")
	require.Zero(t, validTo)
	require.True(t, put("b", "edge", 950))
	_, ok = asOf("a", 949)
	require.False(t, ok)
	require.True(t, put("c", "x", 2000), "stream time moves to 2000")
	_, ok = asOf("a", 1035)
	require.False(t, ok, "out of the history now, although it was there")
	r, ok = asOf("a", 1900)
	require.True(t, ok, "the version valid at the history's start is kept")
	require.Equal(t, "v50", r.Value)
	require.Equal(t, 100*time.Millisecond, st.HistoryRetention())
}

// A nil-bytes value (a nil pointer with a Nullable serde) is a deletion.
func TestVersionedStoreNilValueDeletes(t *testing.T) {
	t.Parallel()
	st := state.NewVersionedKeyValueStoreBuilder(state.InMemoryKeyValueStore("v"), time.Hour, serde.String(), serde.Nullable(serde.String())).BuildStore()
	require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	v := "x"
	_, _, err := st.Put("k", &v, ms(1))
	require.NoError(t, err)
	_, _, err = st.Put("k", nil, ms(2))
	require.NoError(t, err)
	_, ok, err := st.Get("k")
	require.NoError(t, err)
	require.False(t, ok)
	r, ok, err := st.GetAsOf("k", ms(1))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "x", *r.Value)
}

// A key or value the serde refuses is an error naming the store, and
// nothing is written.
func TestVersionedStoreSerdeErrors(t *testing.T) {
	t.Parallel()
	st := state.NewVersionedKeyValueStoreBuilder(state.InMemoryKeyValueStore("v"), time.Hour, serde.String(), serde.JSON[chan int]()).BuildStore()
	require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })
	_, _, err := st.Put("k", make(chan int), ms(1))
	require.ErrorContains(t, err, `versioned store "v": put: serialize value`)
	_, ok, err := st.Get("k")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestVersionedBuilderChangelogKeepsTheHistory(t *testing.T) {
	t.Parallel()
	b := state.NewVersionedKeyValueStoreBuilder(state.InMemoryKeyValueStore("v"), time.Hour, serde.String(), serde.String())
	require.Equal(t, map[string]string{"min.compaction.lag.ms": fmt.Sprint((25 * time.Hour).Milliseconds())}, b.LogConfig())
	h, ok := b.Versioned()
	require.True(t, ok)
	require.Equal(t, time.Hour, h)
	require.Empty(t, b.WithLoggingDisabled().LogConfig())
	require.PanicsWithValue(t, `state: NewVersionedKeyValueStoreBuilder: store "v": negative history retention -1s`, func() {
		state.NewVersionedKeyValueStoreBuilder(state.InMemoryKeyValueStore("v"), -time.Second, serde.String(), serde.String())
	})
}
