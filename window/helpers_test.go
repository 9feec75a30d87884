package window_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// quiet is the tests' logger: late records are expected.
var quiet = slog.New(slog.DiscardHandler)

// windowDriver builds a topology in which add wires an aggregation between
// the source "in" (string keys, int64 values) and the sink "out" (keys with
// both window bounds, values written with vs), and returns its driver, run
// with logger log, and topics.
func windowDriver[A any](t *testing.T, log *slog.Logger, vs serde.Serde[A], add func(*topology.Builder, topology.Node[string, int64]) topology.Node[state.Windowed[string], A]) (*testdriver.Driver, *testdriver.InputTopic[string, int64], *testdriver.OutputTopic[state.Windowed[string], A]) {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	ws := window.SessionWindowedSerde(serde.String())
	topology.AddSink(b, "out", topology.Sink[state.Windowed[string], A]{Topic: "out", KeySerde: ws, ValueSerde: vs}, add(b, src))
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64()), testdriver.CreateOutputTopic(d, "out", ws, vs)
}

// lates maps an aggregation's name to the driver that runs it, for
// lateSince.
var lates struct {
	mu     sync.Mutex
	byName map[string]*testdriver.Driver
}

// runs records that d runs the aggregation name.
func runs(name string, d *testdriver.Driver) {
	lates.mu.Lock()
	defer lates.mu.Unlock()
	if lates.byName == nil {
		lates.byName = map[string]*testdriver.Driver{}
	}
	lates.byName[name] = d
}

// lateSince returns how many records the aggregation name has dropped as
// late (the driver's DroppedRecordsOf(name), the node's dropped-records
// metric in an App), once runs said which driver runs it.
func lateSince(name string) func() int64 {
	return func() int64 {
		lates.mu.Lock()
		d := lates.byName[name]
		lates.mu.Unlock()
		return d.DroppedRecordsOf(name)
	}
}
