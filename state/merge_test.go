package state

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// Three stores holding disjoint keys (as three tasks would), merged: point
// reads find each key, scans come out in serialized-key order, forwards
// and backwards, with bounds and prefixes, and break releases everything.
func TestMergeKeyValue(t *testing.T) {
	t.Parallel()
	var stores []ReadOnlyKeyValueStore[int64, string]
	for i := range 3 {
		s, _ := openStore(t, "s", serde.Int64(), serde.String())
		for k := int64(-9); k <= 9; k++ {
			if (k%3+3)%3 == int64(i) {
				require.NoError(t, s.Put(k, "v"+itoa(k)))
			}
		}
		stores = append(stores, s)
	}
	m := MergeKeyValue(stores...)
	v, ok, err := m.Get(-7)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v-7", v)
	_, ok, err = m.Get(100)
	require.NoError(t, err)
	require.False(t, ok)
	n, err := m.ApproximateNumEntries()
	require.NoError(t, err)
	require.Equal(t, int64(19), n)

	var all []int64
	for kv, err := range m.All() {
		require.NoError(t, err)
		all = append(all, kv.Key)
	}
	var want []int64
	for k := int64(-9); k <= 9; k++ {
		want = append(want, k)
	}
	require.Equal(t, want, all, "numeric order across the stores")
	require.Equal(t, reversed(want), keysOf(collect(t, m.ReverseAll())))
	require.Equal(t, []int64{-2, -1, 0, 1, 2}, keysOf(collect(t, m.Range(ptr[int64](-2), ptr[int64](2)))))
	require.Equal(t, []int64{2, 1, 0, -1, -2}, keysOf(collect(t, m.ReverseRange(ptr[int64](-2), ptr[int64](2)))))

	count := 0
	for range m.All() {
		count++
		if count == 4 {
			break
		}
	}
	require.Equal(t, 4, count)

	strs := []ReadOnlyKeyValueStore[string, string]{}
	for _, keys := range [][]string{{"user:1", "order:9"}, {"user:2", "zebra"}} {
		s, _ := openStore(t, "p", serde.String(), serde.String())
		for _, k := range keys {
			require.NoError(t, s.Put(k, k))
		}
		strs = append(strs, s)
	}
	require.Equal(t, []string{"user:1", "user:2"}, keysOf(collect(t, MergeKeyValue(strs...).PrefixScan("user:"))))
	require.Empty(t, collect(t, MergeKeyValue[string, string]().All()), "no stores, nothing")
}

func itoa(k int64) string { return strconv.FormatInt(k, 10) }
