package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/eos"
)

// The bug this catches: the loop read the time of the last commit to size
// its poll while a revocation callback, on franz-go's goroutine, committed
// and wrote it, with no lock between them (found by reading the old
// thread.go; the race detector reports it with this test). The committer's
// state is now behind the TaskManager's lock, which both take.
func TestRebalanceCallbacksDoNotRaceTheLoop(t *testing.T) {
	t.Parallel()
	r := newRig(t, eos.AtLeastOnce)
	r.rt.cfg.CommitInterval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.th.Run(ctx) }()
	for i := range 200 {
		r.assign(0, 1)
		r.group.push("in", 0, recs(int64(i), "a")...)
		r.revoke(1)
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return r.group.committedOffsets()[TopicPartition{Topic: "in", Partition: 0}] == 200 },
		10*time.Second, time.Millisecond, "every record of partition 0 is processed and committed")
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, ThreadDead, r.th.State())
	require.Equal(t, "gone", r.taskState(0), "the thread closed its tasks")
}

// The thread's states follow Kafka Streams': Starting when it runs,
// PartitionsAssigned at an assignment, Running once its tasks restored,
// PartitionsRevoked while it gives tasks up, and PendingShutdown then Dead.
func TestThreadStates(t *testing.T) {
	t.Parallel()
	r := newRig(t, eos.AtLeastOnce)
	r.changelogOf(0, "a", 1)
	require.Equal(t, ThreadCreated, r.th.State())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.th.Run(ctx) }()
	require.Eventually(t, func() bool { return r.th.State() == ThreadStarting }, 5*time.Second, time.Millisecond)
	r.assign(0)
	require.Equal(t, ThreadPartitionsAssigned, r.th.State())
	require.Eventually(t, func() bool { return r.th.State() == ThreadRunning }, 5*time.Second, time.Millisecond,
		"Running once the task restored")
	r.revoke(0)
	require.Equal(t, ThreadPartitionsRevoked, r.th.State())
	r.assign()
	require.Eventually(t, func() bool { return r.th.State() == ThreadRunning }, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, ThreadDead, r.th.State())
}
