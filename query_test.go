package streams_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
)

// Interactive queries: any goroutine reads the app's store across its
// tasks while it processes; after it caught up, the answers are the exact
// counts, in key order.
func TestQueryKeyValueAcrossTasksWhileProcessing(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 3))
	r := start(t, counting(t), config(t, c, "query"))
	q, err := streams.QueryKeyValue[string, int64](r.app, "counts")
	require.NoError(t, err)

	// Readers hammer the store while records flow: every scan is in key
	// order, and a key's count never goes down between scans.
	stop := make(chan struct{})
	var scans atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]int64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var keys []string
				for kv, err := range q.All() {
					if err != nil {
						continue // a task closing under us during a rebalance
					}
					keys = append(keys, kv.Key)
					if kv.Value < seen[kv.Key] {
						t.Errorf("%s went back from %d to %d", kv.Key, seen[kv.Key], kv.Value)
					}
					seen[kv.Key] = kv.Value
				}
				if !slices.IsSorted(keys) {
					t.Errorf("scan out of order: %v", keys)
				}
				scans.Add(1)
			}
		}()
	}
	for round := range 5 {
		vs := make([]string, 60)
		for i := range vs {
			vs[i] = fmt.Sprintf("key-%02d", (round*60+i)%30)
		}
		produceValues(t, c, "in", false, vs...)
	}
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "query", "in", streams.RepartitionTopic("query", "by-key")))
	close(stop)
	wg.Wait()
	require.Positive(t, scans.Load())

	var got []string
	for kv, err := range q.All() {
		require.NoError(t, err)
		require.Equal(t, int64(10), kv.Value, kv.Key)
		got = append(got, kv.Key)
	}
	require.Len(t, got, 30)
	require.True(t, slices.IsSorted(got))
	n, ok, err := q.Get("key-07")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(10), n)
	from, to := "key-10", "key-12"
	var ranged []string
	for kv, err := range q.Range(&from, &to) {
		require.NoError(t, err)
		ranged = append(ranged, kv.Key)
	}
	require.Equal(t, []string{"key-10", "key-11", "key-12"}, ranged)

	_, err = streams.QueryKeyValue[string, int64](r.app, "nope")
	require.ErrorIs(t, err, streams.ErrUnknownStore)
	wrong, err := streams.QueryKeyValue[string, string](r.app, "counts")
	require.NoError(t, err)
	_, _, err = wrong.Get("key-07")
	require.ErrorContains(t, err, `store "counts" is a`)
	require.NoError(t, r.stop(t))
}
