package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/processor"
)

// A revocation that comes while the loop commits waits for the commit and
// then commits what the revoked task did since, under at-least-once and
// at-most-once: the task is given up with all its work committed (its
// offsets, under at-least-once), and closed. The callback runs on another
// goroutine than the loop, as franz-go runs it.
func TestRevokeDuringCommit(t *testing.T) {
	t.Parallel()
	for _, g := range []eos.Guarantee{eos.AtLeastOnce, eos.AtMostOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, g)
			r.assign(0, 1)
			r.group.push("in", 0, recs(0, "a", "b")...)
			require.NoError(t, r.poll())
			r.group.push("in", 1, recs(0, "c")...)
			require.NoError(t, r.poll())

			inCommit, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			r.group.flushHook = func() {
				once.Do(func() {
					close(inCommit)
					<-release
				})
			}
			committed := make(chan error, 1)
			go func() { committed <- r.commit() }()
			<-inCommit
			revoked := make(chan struct{})
			go func() { r.revoke(1); close(revoked) }()
			select {
			case <-revoked:
				t.Fatal("the revocation went on while the loop was committing")
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			require.NoError(t, <-committed)
			<-revoked
			r.requireNoFatal()
			require.Equal(t, "gone", r.taskState(1))
			require.Equal(t, "Running", r.taskState(0))
			if g == eos.AtLeastOnce {
				require.Equal(t, map[TopicPartition]int64{{Topic: "in", Partition: 0}: 2, {Topic: "in", Partition: 1}: 1},
					r.group.committedOffsets())
			}
			require.Equal(t, []string{"a=1", "b=1", "c=1"}, sortedCopy(r.group.producedTo("out")))
		})
	}
}

// Under exactly-once a revocation that comes while the transaction ends
// (the loop has let go of the lock for End) closes the revoked task at
// once, without its transaction's writes: the session aborts such a
// transaction, and the loop takes the other tasks back to their last
// commit and rewinds their input. If the session had decided to commit
// before the revocation came, the other tasks apply the commit and the
// revoked one, closed unapplied, restores it from its changelog next time.
func TestRevokeDuringTransactionEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		commitAnyway bool
	}{{"the session aborts", false}, {"the session had decided to commit", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, eos.ExactlyOnce)
			r.txn.commitAnyway = tc.commitAnyway
			r.assign(0, 1)
			r.group.push("in", 0, recs(0, "a")...)
			require.NoError(t, r.poll())
			require.NoError(t, r.commit())
			require.Equal(t, int64(1), r.committedCount(0, "a"))

			r.group.push("in", 0, recs(1, "a", "a")...)
			require.NoError(t, r.poll())
			r.group.push("in", 1, recs(0, "c")...)
			require.NoError(t, r.poll())
			require.Equal(t, int64(3), r.count(0, "a"), "the task reads its own uncommitted writes")
			r.txn.endHook = func() {
				r.txn.endHook = nil
				r.revoke(1) // franz-go runs it on its goroutine while End waits; the loop has let go of the lock
				require.Equal(t, "gone", r.taskState(1), "the revoked task is closed while the transaction ends")
			}
			err := r.commit()
			r.requireNoFatal()
			require.Equal(t, "gone", r.taskState(1))
			if tc.commitAnyway {
				require.NoError(t, err)
				require.Equal(t, []bool{true, true}, r.txn.ends)
				require.Equal(t, int64(3), r.committedCount(0, "a"), "the task still here applies the commit")
				return
			}
			require.NoError(t, err, "an abort is not a failure")
			require.Equal(t, []bool{true, false}, r.txn.ends)
			require.Equal(t, int64(1), r.committedCount(0, "a"), "back at the last commit")
			require.Equal(t, int64(1), r.count(0, "a"), "the uncommitted writes are gone from the task too")
			require.Equal(t, int64(1), r.rt.metrics.Aborts.Load())
			require.Len(t, r.group.rewinds, 1)
			require.Equal(t, int64(1), r.group.rewinds[0]["in"][0].Offset, "partition 0 is read again from its first uncommitted record")
			require.NotContains(t, r.group.rewinds[0]["in"], int32(1), "the revoked partition is not the thread's to rewind")

			// The records are read again and commit this time.
			r.group.push("in", 0, recs(1, "a", "a")...)
			require.NoError(t, r.poll())
			require.NoError(t, r.commit())
			require.Equal(t, int64(3), r.committedCount(0, "a"))
		})
	}
}

// Under exactly-once a task whose partition is lost while its transaction
// is open is closed without a commit and without a checkpoint (the group
// gave it to someone else, who starts from the committed offsets); the
// transaction then aborts, and the thread's other tasks go back to their
// last commit.
func TestLoseDuringTransaction(t *testing.T) {
	t.Parallel()
	r := newRig(t, eos.ExactlyOnce)
	r.assign(0, 1)
	r.group.push("in", 0, recs(0, "a")...)
	r.group.push("in", 1, recs(0, "b")...)
	require.NoError(t, r.poll())
	require.NoError(t, r.poll())
	require.NoError(t, r.commit())
	taskDir := filepath.Join(r.rt.appDir, "0_1")

	r.group.push("in", 1, recs(1, "b")...)
	r.group.push("in", 0, recs(1, "a")...)
	require.NoError(t, r.poll())
	require.NoError(t, r.poll())
	r.lose(1)
	require.Equal(t, "gone", r.taskState(1))
	_, err := os.Stat(filepath.Join(taskDir, ".checkpoint"))
	require.ErrorIs(t, err, os.ErrNotExist, "a lost task leaves no checkpoint")

	require.NoError(t, r.commit())
	require.Equal(t, []bool{true, false}, r.txn.ends, "the open transaction aborts")
	require.Equal(t, int64(1), r.committedCount(0, "a"))
	require.Equal(t, int64(1), r.group.rewinds[0]["in"][0].Offset)
	require.NotContains(t, r.group.rewinds[0]["in"], int32(1))
	require.Equal(t, []processor.TaskID{{Partition: 1}}, r.closing)
}

// A partition assigned while another task restores starts restoring too;
// meanwhile neither processes. Under at-least-once their records wait in
// their buffers (the input is paused once MaxPollRecords wait); under
// exactly-once they are rewound and their input paused at once. Once a
// task's stores caught up it processes, counting on from what it restored.
func TestAssignDuringRestore(t *testing.T) {
	t.Parallel()
	for _, g := range []eos.Guarantee{eos.AtLeastOnce, eos.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, g)
			r.changelogOf(0, "a", 1, "a", 2, "b", 1, "a", 3, "b", 2)
			r.changelogOf(1, "c", 1, "c", 2, "c", 3)
			r.assign(0)
			require.Equal(t, "Restoring", r.taskState(0))
			require.NoError(t, r.tm.restoreStep(context.Background(), time.Millisecond)) // one batch of two
			require.True(t, r.tm.restoring())

			r.assign(1)
			require.Equal(t, "Restoring", r.taskState(1))
			r.group.push("in", 0, recs(0, "a", "b", "a")...)
			r.group.push("in", 1, recs(0, "c")...)
			require.NoError(t, r.poll())
			require.NoError(t, r.poll())
			require.Empty(t, r.group.producedTo("out"), "restoring tasks do not process")
			require.True(t, r.group.isPaused("in", 0), "a restoring task with MaxPollRecords buffered (or any, exactly-once) pauses its input")
			if g == eos.ExactlyOnce {
				require.True(t, r.group.isPaused("in", 1))
				require.Len(t, r.group.rewinds, 2, "each restoring task's records are rewound")
			} else {
				require.False(t, r.group.isPaused("in", 1), "one buffered record is not enough to pause")
				require.Empty(t, r.group.rewinds)
			}

			r.restore()
			require.Equal(t, "Running", r.taskState(0))
			require.Equal(t, "Running", r.taskState(1))
			require.False(t, r.group.isPaused("in", 0), "restored: its input resumes")
			require.False(t, r.group.isPaused("in", 1))
			require.ElementsMatch(t, []processor.TaskID{{Partition: 0}, {Partition: 1}}, r.running)
			if g == eos.ExactlyOnce {
				// The rewound records come again.
				r.group.push("in", 0, recs(0, "a", "b", "a")...)
				r.group.push("in", 1, recs(0, "c")...)
			}
			r.group.push("in", 0, recs(3, "b")...)
			require.NoError(t, r.poll())
			require.NoError(t, r.poll())
			if g == eos.ExactlyOnce {
				require.NoError(t, r.poll())
			}
			require.NoError(t, r.commit())
			require.Equal(t, int64(5), r.committedCount(0, "a"), "3 restored + 2 processed")
			require.Equal(t, int64(4), r.committedCount(0, "b"), "2 restored + 2 processed")
			require.Equal(t, int64(4), r.committedCount(1, "c"))
		})
	}
}

// A revocation of a task that is still restoring closes it where it is:
// its partial restore is dropped, nothing of it is committed, and it
// leaves no checkpoint that would claim more than its store holds.
func TestRevokeDuringRestore(t *testing.T) {
	t.Parallel()
	r := newRig(t, eos.AtLeastOnce)
	r.changelogOf(0, "a", 1, "a", 2, "a", 3, "a", 4)
	r.assign(0)
	require.NoError(t, r.tm.restoreStep(context.Background(), time.Millisecond))
	r.revoke(0)
	r.requireNoFatal()
	require.Equal(t, "gone", r.taskState(0))
	require.False(t, r.tm.restoring())
	_, err := os.Stat(filepath.Join(r.rt.appDir, "0_0", ".checkpoint"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Empty(t, r.running, "it never ran")
}

// A task holds its directory's lock while it is open, so that no other
// thread or process opens its stores meanwhile; closing it lets go.
func TestTaskHoldsItsDirectoryLock(t *testing.T) {
	t.Parallel()
	r := newRig(t, eos.AtLeastOnce)
	r.assign(0)
	dir := filepath.Join(r.rt.appDir, "0_0")
	_, err := lockDir(dir)
	require.ErrorIs(t, err, ErrStateDirLocked)
	require.ErrorContains(t, err, dir)
	r.revoke(0)
	l, err := lockDir(dir)
	require.NoError(t, err, "the closed task let go of its directory")
	// A task assigned while its directory is held (another thread of the
	// process still closing it) waits for it, then opens.
	done := make(chan struct{})
	go func() { r.assign(0); close(done) }()
	select {
	case <-done:
		t.Fatal("the task opened a directory another holds")
	case <-time.After(100 * time.Millisecond):
	}
	l.unlock()
	<-done
	require.Equal(t, "Running", r.taskState(0))
}
