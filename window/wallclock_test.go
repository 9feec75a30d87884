package window_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

func sum(_ string, v, agg int64) int64 { return agg + v }

// An idle key's last session comes out by the wall clock; a record for it
// afterwards starts a new session, or is late if it would have been in it.
func TestWallClockClosesSessionsWhileIdle(t *testing.T) {
	t.Parallel()
	const name = "session-wall-clock"
	late := lateSince(name)
	d, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddSessionAggregation(b, name, window.SessionAggregation[string, int64, int64]{
			Windows: window.Session(10 * time.Second), Store: name, KeySerde: serde.String(), AggSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum, Merge: func(_ string, a, b int64) int64 { return a + b },
			Emit: window.EmitOnWindowClose, WallClockClose: time.Second,
		}, src)
	})
	runs(name, d)
	// The mock wall clock starts at the epoch, as do these event times.
	require.NoError(t, in.Pipe("a", 1, sec(0)))
	require.NoError(t, in.Pipe("a", 2, sec(5)))
	require.NoError(t, d.AdvanceWallClock(14*time.Second))
	require.Empty(t, sessions(t, out), "wall clock 14 s: [0,5] is open until 5 + 10 s")
	require.NoError(t, d.AdvanceWallClock(2*time.Second))
	require.Equal(t, []string{"a@0-5=3"}, sessions(t, out), "closed by the wall clock while the input is idle")
	require.NoError(t, in.Pipe("a", 4, sec(12))) // within the gap of [0,5], which is out: a new session
	require.NoError(t, in.Pipe("a", 8, sec(1)))  // inside [0,5], out of [12,12]'s gap: late
	require.Equal(t, int64(1), late())
	require.NoError(t, d.AdvanceWallClock(10*time.Second))
	require.Equal(t, []string{"a@12-12=4"}, sessions(t, out))
}

// Sliding windows close by the wall clock too, each once.
func TestWallClockClosesSlidingWindowsWhileIdle(t *testing.T) {
	t.Parallel()
	const name = "sliding-wall-clock"
	late := lateSince(name)
	d, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddSlidingAggregation(b, name, window.SlidingAggregation[string, int64, int64]{
			Windows: window.Sliding(10 * time.Second).WithGrace(5 * time.Second), Store: name, KeySerde: serde.String(), ValueSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum, Emit: window.EmitOnWindowClose, WallClockClose: time.Second,
		}, src)
	})
	runs(name, d)
	require.NoError(t, in.Pipe("a", 1, sec(1)))
	require.NoError(t, in.Pipe("a", 2, sec(4)))
	require.NoError(t, d.AdvanceWallClock(6*time.Second))
	require.Empty(t, slides(t, out), "wall clock 6 s: [-9,1] is open until past 1 s + grace 5 s")
	require.NoError(t, d.AdvanceWallClock(time.Second))
	require.Equal(t, []string{"a@-9..1=1"}, slides(t, out), "closed by the wall clock while the input is idle")
	require.NoError(t, d.AdvanceWallClock(3*time.Second))
	require.Equal(t, []string{"a@-6..4=3"}, slides(t, out))
	require.NoError(t, d.AdvanceWallClock(20*time.Second))
	require.Equal(t, []string{"a@1.001..11.001=2"}, slides(t, out), "the window after 1 s holds 4 s")
	require.NoError(t, in.Pipe("a", 4, sec(2))) // every window it would touch is out
	require.Equal(t, int64(1), late())
	require.NoError(t, d.AdvanceWallClock(20*time.Second))
	require.Empty(t, slides(t, out), "no window twice")
}
