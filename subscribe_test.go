package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
)

// A subscriber learns of a store's committed changes without reading the
// changelog: per key, old and new values in order, stamped with the record
// time and the task. Changes wait for their commit: with an hour-long
// commit interval nothing arrives until the final commit on shutdown.
func TestSubscribeDeliversCommittedChanges(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	cfg := config(t, c, "subs")
	cfg.CommitInterval = time.Hour
	r := start(t, counting(t), cfg)
	sub, err := streams.Subscribe[string, int64](r.app, "counts", 0)
	require.NoError(t, err)
	q, err := streams.QueryKeyValue[string, int64](r.app, "counts")
	require.NoError(t, err)

	vs := make([]string, 50)
	for i := range vs {
		vs[i] = fmt.Sprintf("k%d", i%5)
	}
	produceValues(t, c, "in", false, vs...)
	require.Eventually(t, func() bool {
		n, ok, err := q.Get("k4")
		return err == nil && ok && n == 10
	}, 20*time.Second, 10*time.Millisecond, "processed (the store shows it)")
	select {
	case ch := <-sub.Changes():
		t.Fatalf("a change before its commit: %+v", ch)
	case <-time.After(200 * time.Millisecond):
	}

	require.NoError(t, r.stop(t)) // the final commit delivers them
	byKey := map[string][]streams.StoreChange[string, int64]{}
	for ch := range sub.Changes() { // closed by Close
		byKey[ch.Key] = append(byKey[ch.Key], ch)
	}
	require.ErrorIs(t, sub.Err(), streams.ErrClosed)
	require.Len(t, byKey, 5)
	for k, chs := range byKey {
		require.Len(t, chs, 10, k)
		for i, ch := range chs {
			require.Equal(t, int64(i+1), ch.New, "%s change %d", k, i)
			require.Equal(t, i > 0, ch.HadOld)
			require.Equal(t, int64(i), ch.Old)
			require.False(t, ch.Deleted)
			require.False(t, ch.Timestamp.IsZero(), "stamped with the record time")
			require.Equal(t, chs[0].Task, ch.Task, "a key lives in one task")
		}
	}
}

// A subscriber that does not keep up is ended; processing goes on.
func TestSlowSubscriberIsEndedNotWaitedFor(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	r := start(t, counting(t), config(t, c, "slow"))
	slow, err := streams.Subscribe[string, int64](r.app, "counts", 5)
	require.NoError(t, err)
	vs := make([]string, 200)
	for i := range vs {
		vs[i] = fmt.Sprintf("k%d", i%7)
	}
	produceValues(t, c, "in", false, vs...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "slow", "in", streams.RepartitionTopic("slow", "by-key")),
		"processing went on though nobody read the subscription")
	require.Eventually(t, func() bool { return slow.Err() != nil }, 10*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, slow.Err(), streams.ErrSubscriberTooSlow)
	n := 0
	for range slow.Changes() {
		n++
	}
	require.Equal(t, 5, n, "what fit in the buffer, then the channel closed")

	_, err = streams.Subscribe[string, string](r.app, "counts", 0)
	require.ErrorContains(t, err, `store "counts"`, "a subscription of the wrong types fails at once while tasks run")
	require.NoError(t, r.stop(t))
}
