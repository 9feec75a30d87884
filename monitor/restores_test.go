package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
)

// countingListener counts the events it hears.
type countingListener struct{ starts, batches, ends int }

func (l *countingListener) OnRestoreStart(streams.RestoreEvent)  { l.starts++ }
func (l *countingListener) OnBatchRestored(streams.RestoreEvent) { l.batches++ }
func (l *countingListener) OnRestoreEnd(streams.RestoreEvent)    { l.ends++ }

// Restores lists the restores under way by store, task and partition,
// then the finished ones newest first, the last keepRestores of them; it
// keeps each restore's start time across its batches and passes every
// event on to Next.
func TestRestores(t *testing.T) {
	t.Parallel()
	next := &countingListener{}
	r := &Restores{Next: next}
	require.Empty(t, r.snapshot())
	require.Nil(t, (*Restores)(nil).snapshot(), "no Config.Restores")

	ev := func(store string, p int32, offset int64, elapsed time.Duration) streams.RestoreEvent {
		return streams.RestoreEvent{Store: store, Task: processor.TaskID{Subtopology: 1, Partition: p}, Topic: "app-" + store + "-changelog",
			Partition: p, StartOffset: 10, EndOffset: 110, Offset: offset, Records: offset - 10, Elapsed: elapsed}
	}
	r.OnRestoreStart(ev("b", 0, 10, 0))
	r.OnRestoreStart(ev("a", 10, 10, 0))
	r.OnRestoreStart(ev("a", 2, 10, 0))
	r.OnBatchRestored(ev("a", 2, 60, time.Second))
	s := r.snapshot()
	require.Len(t, s, 3)
	require.Equal(t, []string{"a 1_2", "a 1_10", "b 1_0"}, []string{s[0].Store + " " + s[0].Task, s[1].Store + " " + s[1].Task, s[2].Store + " " + s[2].Task})
	require.EqualValues(t, 60, s[0].Offset)
	require.EqualValues(t, 50, s[0].Records)
	require.False(t, s[0].Done)
	started := s[0].Started

	r.OnRestoreEnd(ev("a", 2, 110, 2*time.Second))
	s = r.snapshot()
	require.Len(t, s, 3)
	require.Equal(t, "b", s[1].Store, "those under way first")
	require.True(t, s[2].Done)
	require.Equal(t, started, s[2].Started, "the start is the first event's")
	require.EqualValues(t, 100, s[2].Records)
	require.False(t, s[2].Ended.IsZero())

	for i := range keepRestores + 5 {
		e := ev(fmt.Sprintf("z%02d", i), 0, 110, time.Millisecond)
		r.OnRestoreStart(e)
		r.OnRestoreEnd(e)
	}
	s = r.snapshot()
	require.Len(t, s, 2+keepRestores, "two under way and the last finished")
	require.Equal(t, fmt.Sprintf("z%02d", keepRestores+4), s[2].Store, "the newest finished first")
	require.Equal(t, &countingListener{starts: 3 + keepRestores + 5, batches: 1, ends: 1 + keepRestores + 5}, next)
}
