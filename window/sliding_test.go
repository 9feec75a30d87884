package window_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// slidingTopology sums "in" per key in sliding windows.
func slidingTopology(t *testing.T, name string, w window.SlidingWindows, emit window.Emit) (*testdriver.InputTopic[string, int64], *testdriver.OutputTopic[state.Windowed[string], int64]) {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	sums := window.AddSlidingAggregation(b, name, window.SlidingAggregation[string, int64, int64]{
		Windows: w, Store: name + "-store", KeySerde: serde.String(), ValueSerde: serde.Int64(),
		Init: func() int64 { return 0 }, Add: func(_ string, v, agg int64) int64 { return agg + v }, Emit: emit,
	}, src)
	ws := window.SessionWindowedSerde(serde.String()) // start and end both written
	topology.AddSink(b, "out", topology.Sink[state.Windowed[string], int64]{Topic: "out", KeySerde: ws, ValueSerde: serde.Int64()}, sums)
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64()), testdriver.CreateOutputTopic(d, "out", ws, serde.Int64())
}

func slides(t *testing.T, out *testdriver.OutputTopic[state.Windowed[string], int64]) []string {
	t.Helper()
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	got := []string{}
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s@%d..%d=%d", kv.Key.Key, kv.Key.Start.Unix(), kv.Key.End.Unix(), kv.Value))
	}
	return got
}

// The window ending at each record holds the key's records of the last
// 10 s, both bounds inclusive; an out-of-order record also updates the
// windows of the later records it falls into.
func TestSlidingWindowContents(t *testing.T) {
	t.Parallel()
	in, out := slidingTopology(t, "sliding", window.Sliding(10*time.Second).WithGrace(time.Minute), window.EmitOnUpdate)
	require.NoError(t, in.Pipe("a", 1, sec(100)))
	require.NoError(t, in.Pipe("a", 2, sec(110))) // exactly 10 s later: both in [100,110]
	require.NoError(t, in.Pipe("a", 4, sec(111))) // 100 has left: [101,111] holds 110 and 111
	require.NoError(t, in.Pipe("b", 8, sec(111)))
	require.Equal(t, []string{"a@90..100=1", "a@100..110=3", "a@101..111=6", "b@101..111=8"}, slides(t, out))
	require.NoError(t, in.Pipe("a", 16, sec(105))) // out of order: its window, then 110's and 111's again
	require.Equal(t, []string{"a@95..105=17", "a@100..110=19", "a@101..111=22"}, slides(t, out))
}

func TestSlidingEmitOnClose(t *testing.T) {
	t.Parallel()
	const name = "sliding-final"
	late := lateSince(name)
	in, out := slidingTopology(t, name, window.Sliding(10*time.Second).WithGrace(5*time.Second), window.EmitOnWindowClose)
	require.NoError(t, in.Pipe("a", 1, sec(100)))
	require.NoError(t, in.Pipe("a", 2, sec(104)))
	require.NoError(t, in.Pipe("a", 4, sec(105)))
	require.Empty(t, slides(t, out), "the window ending at 100 s closes after 105 s")
	require.NoError(t, in.Pipe("a", 8, sec(106)))
	require.Equal(t, []string{"a@90..100=1"}, slides(t, out))
	require.NoError(t, in.Pipe("a", 16, sec(100))) // its window closed: late
	require.Equal(t, int64(1), late())
	require.NoError(t, in.Pipe("a", 32, sec(200)))
	require.Equal(t, []string{"a@94..104=3", "a@95..105=7", "a@96..106=15"}, slides(t, out), "each window once, oldest first")
}
