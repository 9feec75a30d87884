package window_test

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// Orders per category in 5-minute tumbling windows with 5 seconds of grace,
// final results only.
func ExampleAddTimeAggregation() {
	b := topology.NewBuilder()
	orders := topology.AddSource(b, "orders", topology.Source[string, string]{
		Topics: []string{"orders"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	w := window.Tumbling(5 * time.Minute).WithGrace(5 * time.Second)
	initial, add := window.Count[string, string]()
	counts := window.AddTimeAggregation(b, "count-5m", window.TimeAggregation[string, string, int64]{
		Windows: w, Store: "orders-5m", KeySerde: serde.String(), AggSerde: serde.Int64(),
		Init: initial, Add: add, Emit: window.EmitOnWindowClose,
	}, orders)
	ws := window.TimeWindowedSerde(serde.String(), w.Size)
	topology.AddSink(b, "out", topology.Sink[state.Windowed[string], int64]{Topic: "orders-5m", KeySerde: ws, ValueSerde: serde.Int64()}, counts)
	topo, _ := b.Build()

	d, _ := testdriver.New(topo, testdriver.Options{})
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "orders-5m", ws, serde.Int64())
	at := func(m, s int) time.Time { return time.Date(2026, 11, 22, 10, m, s, 0, time.UTC) }
	_ = in.Pipe("books", "o1", at(0, 10))
	_ = in.Pipe("games", "o2", at(3, 0))
	_ = in.Pipe("books", "o3", at(5, 1))
	_ = in.Pipe("books", "o4", at(4, 59)) // out of order, within grace
	_ = in.Pipe("games", "o5", at(5, 6))  // stream time passes 10:05:05: [10:00, 10:05) closes
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Printf("%s [%s, %s) %d\n", kv.Key.Key, kv.Key.Start.Format("15:04"), kv.Key.End.Format("15:04"), kv.Value)
	}
	// Output:
	// books [10:00, 10:05) 2
	// games [10:00, 10:05) 1
}
