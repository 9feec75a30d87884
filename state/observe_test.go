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
	st.(Observable[string, int64]).SetObserver(func(cs []Change[string, int64]) { got = append(got, cs) })
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

	st.(Committer).Committed()
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

	st.(Committer).Committed()
	require.Len(t, got, 1, "nothing new, nothing handed over")
	st.(Observable[string, int64]).SetObserver(nil)
	require.NoError(t, st.Put("z", 1))
	st.(Committer).Committed()
	require.Len(t, got, 1, "no observer, nothing recorded")
}
