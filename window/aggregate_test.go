package window_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// countTopology counts "in" per key in windows w, sending the results to
// "out" keyed by window.
func countTopology(t *testing.T, name string, w window.TimeWindows, emit window.Emit, wallClock time.Duration) (*testdriver.Driver, *testdriver.InputTopic[string, string], *testdriver.OutputTopic[state.Windowed[string], int64]) {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	initial, add := window.Count[string, string]()
	counts := window.AddTimeAggregation(b, name, window.TimeAggregation[string, string, int64]{
		Windows: w, Store: name + "-store", KeySerde: serde.String(), AggSerde: serde.Int64(),
		Init: initial, Add: add, Emit: emit, WallClockClose: wallClock,
	}, src)
	ws := window.TimeWindowedSerde(serde.String(), w.Size)
	topology.AddSink(b, "out", topology.Sink[state.Windowed[string], int64]{Topic: "out", KeySerde: ws, ValueSerde: serde.Int64()}, counts)
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
	require.NoError(t, err)
	runs(name, d)
	t.Cleanup(func() { _ = d.Close() })
	return d, testdriver.CreateInputTopic(d, "in", serde.String(), serde.String()),
		testdriver.CreateOutputTopic(d, "out", ws, serde.Int64())
}

// results renders windowed counts as "key@startSec-endSec=count".
func results(t *testing.T, out *testdriver.OutputTopic[state.Windowed[string], int64]) []string {
	t.Helper()
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	got := []string{}
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s@%d-%d=%d", kv.Key.Key, kv.Key.Start.Unix(), kv.Key.End.Unix(), kv.Value))
	}
	return got
}

func sec(n int64) time.Time { return time.Unix(n, 0).UTC() }

// Emit on update: every record updates its window and sends the new count;
// a record exactly at a window's end counts in the next window.
func TestTumblingCountEmitsEveryUpdate(t *testing.T) {
	t.Parallel()
	late := lateSince("tumbling-updates")
	_, in, out := countTopology(t, "tumbling-updates", window.Tumbling(10*time.Second), window.EmitOnUpdate, 0)
	require.NoError(t, in.Pipe("a", "x", sec(1)))
	require.NoError(t, in.Pipe("a", "x", sec(9)))
	require.NoError(t, in.Pipe("b", "x", sec(5)))
	require.NoError(t, in.Pipe("a", "x", sec(10))) // the next window
	require.Equal(t, []string{"a@0-10=1", "a@0-10=2", "b@0-10=1", "a@10-20=1"}, results(t, out))
	// No grace: stream time 10 s closed [0,10), so this record is late.
	require.NoError(t, in.Pipe("b", "x", sec(6)))
	require.Empty(t, results(t, out))
	require.Equal(t, int64(1), late())
}

// A hopping window: a record counts in every window it falls into.
func TestHoppingCountUpdatesOverlappingWindows(t *testing.T) {
	t.Parallel()
	_, in, out := countTopology(t, "hopping", window.Hopping(20*time.Second, 10*time.Second), window.EmitOnUpdate, 0)
	require.NoError(t, in.Pipe("a", "x", sec(15)))
	require.NoError(t, in.Pipe("a", "x", sec(25)))
	require.Equal(t, []string{"a@0-20=1", "a@10-30=1", "a@10-30=2", "a@20-40=1"}, results(t, out))
}

// Final results only: each window is emitted once, when stream time passes
// its end plus grace; out-of-order records within the grace period count;
// a record later than that is dropped and counted.
func TestEmitOnWindowCloseWithGrace(t *testing.T) {
	t.Parallel()
	const name = "final-results"
	late := lateSince(name)
	d, in, out := countTopology(t, name, window.Tumbling(10*time.Second).WithGrace(5*time.Second), window.EmitOnWindowClose, 0)
	require.NoError(t, in.Pipe("a", "x", sec(1)))
	require.NoError(t, in.Pipe("b", "x", sec(8)))
	require.NoError(t, in.Pipe("a", "x", sec(12)))
	require.NoError(t, in.Pipe("a", "x", sec(7))) // out of order, within grace: counts in [0,10)
	require.Empty(t, results(t, out), "nothing before a window closes")
	require.NoError(t, in.Pipe("a", "x", sec(14)))
	require.Empty(t, results(t, out), "[0,10) closes at 15 s, not before")
	require.NoError(t, in.Pipe("c", "x", sec(15)))
	require.Equal(t, []string{"a@0-10=2", "b@0-10=1"}, results(t, out), "final results, once")
	require.NoError(t, in.Pipe("a", "x", sec(3))) // late: [0,10) has closed
	require.Equal(t, int64(1), late())
	require.Equal(t, int64(1), d.DroppedRecords(), "counted in the task's metrics too")
	require.NoError(t, in.Pipe("z", "x", sec(40)))
	require.Equal(t, []string{"a@10-20=2", "c@10-20=1"}, results(t, out))
}

// An idle input keeps windows open; with WallClockClose the wall clock
// closes them, and a record that comes for an emitted window is late.
func TestWallClockClosesWindowsWhileIdle(t *testing.T) {
	t.Parallel()
	const name = "wall-clock"
	late := lateSince(name)
	d, in, out := countTopology(t, name, window.Tumbling(10*time.Second), window.EmitOnWindowClose, time.Second)
	// The mock wall clock starts at the epoch, as do these event times.
	require.NoError(t, in.Pipe("a", "x", sec(5)))
	require.NoError(t, in.Pipe("a", "x", sec(8)))
	require.NoError(t, d.AdvanceWallClock(9*time.Second))
	require.Empty(t, results(t, out), "stream time 8 s and wall clock 9 s: the window is open")
	require.NoError(t, d.AdvanceWallClock(20*time.Second))
	require.Equal(t, []string{"a@0-10=2"}, results(t, out), "the idle input's window closed by the wall clock")
	require.NoError(t, in.Pipe("a", "x", sec(9)))
	require.Equal(t, int64(1), late(), "its window was emitted already")
	require.Empty(t, results(t, out))
}

func TestAddTimeAggregationRejectsBadWindows(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	initial, add := window.Count[string, string]()
	require.PanicsWithValue(t, `window: aggregation "bad": window: Size is 0s; a window must be at least 1ms long
window: Advance is 0s; it must be at least 1ms and at most Size (0s)`, func() {
		window.AddTimeAggregation(b, "bad", window.TimeAggregation[string, string, int64]{
			Store: "s", KeySerde: serde.String(), AggSerde: serde.Int64(), Init: initial, Add: add,
		}, src)
	})
}

// Reduce: a window's result is its first value, then f of the result and
// each next value (here the largest value seen), with no initial result.
func TestReduceKeepsTheLargestValue(t *testing.T) {
	t.Parallel()
	_, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		first, add := window.Reduce[string](func(agg, v int64) int64 { return max(agg, v) })
		return window.AddTimeAggregation(b, "max", window.TimeAggregation[string, int64, int64]{
			Windows: window.Tumbling(10 * time.Second), Store: "max-store", KeySerde: serde.String(), AggSerde: serde.Int64(), First: first, Add: add,
		}, src)
	})
	for i, v := range []int64{-5, -9, -2, -7} { // all negative: an initial 0 would win
		require.NoError(t, in.Pipe("a", v, sec(int64(i))))
	}
	got, err := out.ReadValues()
	require.NoError(t, err)
	require.Equal(t, []int64{-5, -5, -2, -2}, got)

	require.PanicsWithValue(t, `window: aggregation "no-start": set Init (or First, for a reduction)`, func() {
		b := topology.NewBuilder()
		src := topology.AddSource(b, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
		window.AddTimeAggregation(b, "no-start", window.TimeAggregation[string, int64, int64]{
			Windows: window.Tumbling(10 * time.Second), Store: "s2", KeySerde: serde.String(), AggSerde: serde.Int64(), Add: sum,
		}, src)
	})
}

// A late record is logged with the app's logger, naming the aggregation
// and the record.
func TestLateRecordIsLoggedThroughTheAppLogger(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	_, in, _ := windowDriver(t, slog.New(slog.NewTextHandler(&logs, nil)), serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddTimeAggregation(b, "per-minute", window.TimeAggregation[string, int64, int64]{
			Windows: window.Tumbling(time.Minute), Store: "per-minute-store", KeySerde: serde.String(), AggSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum,
		}, src)
	})
	require.NoError(t, in.Pipe("a", 1, sec(120)))
	require.NoError(t, in.Pipe("a", 1, sec(30))) // [0,60) closed at 60 s
	require.Contains(t, logs.String(), "window: dropping a late record")
	require.Contains(t, logs.String(), "task=0_0 processor=per-minute")
	require.Contains(t, logs.String(), "topic=in partition=0 offset=1")
}

// A record late for some of its windows is added to the open ones, logged
// for the closed ones, and not counted as dropped.
func TestPartlyLateRecordIsLoggedNotDropped(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	d, in, out := windowDriver(t, slog.New(slog.NewTextHandler(&logs, nil)), serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddTimeAggregation(b, "hopping", window.TimeAggregation[string, int64, int64]{
			Windows: window.Hopping(10*time.Second, 5*time.Second), Store: "hopping-store", KeySerde: serde.String(), AggSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum,
		}, src)
	})
	require.NoError(t, in.Pipe("a", 1, sec(12)))
	require.NoError(t, in.Pipe("a", 2, sec(7))) // [0,10) closed at 12 s; [5,15) is open
	require.Equal(t, []string{"a@5-15=1", "a@10-20=1", "a@5-15=3"}, sessions(t, out))
	require.Contains(t, logs.String(), "window: a late record skips the windows that have closed")
	require.Contains(t, logs.String(), "closed_windows=1")
	require.Zero(t, d.DroppedRecords())
}
