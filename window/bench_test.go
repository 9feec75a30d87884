package window_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// benchKeys returns n keys, "k" and a number.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%05d", i)
	}
	return keys
}

// benchPipe builds a topology in which add wires a processor between the
// source "in" (string keys, int64 values) and the sink "out", and pipes
// records of value 1 through the test driver, one a millisecond of event
// time, the keys in turn. It reports records/s.
func benchPipe[K, V any](b *testing.B, keys []string, ks serde.Serde[K], vs serde.Serde[V], add func(*topology.Builder, topology.Node[string, int64]) topology.Node[K, V]) {
	b.Helper()
	tb := topology.NewBuilder()
	src := topology.AddSource(tb, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	topology.AddSink(tb, "out", topology.Sink[K, V]{Topic: "out", KeySerde: ks, ValueSerde: vs}, add(tb, src))
	topo, err := tb.Build()
	if err != nil {
		b.Fatal(err)
	}
	d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := in.Pipe(keys[i%len(keys)], 1, time.UnixMilli(int64(i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// windowedKeys writes both window bounds.
var windowedKeys = window.SessionWindowedSerde(serde.String())

// BenchmarkTumblingCount counts 1,000 keys in 1-minute tumbling windows
// through the test driver, one record a millisecond of event time, beside
// the same records counted per key in a plain key-value store (the
// baseline: same driver, no windows).
//
//	go test -run '^$' -bench TumblingCount -benchmem ./window/
func BenchmarkTumblingCount(b *testing.B) {
	keys := benchKeys(1000)
	for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
		b.Run(fmt.Sprintf("windowed/%v", emit), func(b *testing.B) {
			benchPipe(b, keys, windowedKeys, serde.Int64(), func(tb *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
				initial, add := window.Count[string, int64]()
				return window.AddTimeAggregation(tb, "count", window.TimeAggregation[string, int64, int64]{
					Windows: window.Tumbling(time.Minute), Store: "counts", KeySerde: serde.String(), AggSerde: serde.Int64(),
					Init: initial, Add: add, Emit: emit,
				}, src)
			})
		})
	}
	b.Run("baseline/key-value", func(b *testing.B) {
		benchPipe(b, keys, serde.String(), serde.Int64(), func(tb *topology.Builder, src topology.Node[string, int64]) topology.Node[string, int64] {
			counts := topology.AddProcessor(tb, "count", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, int64]) error {
				st, err := processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
				if err != nil {
					return err
				}
				n, _, err := st.Get(rec.Key)
				if err != nil {
					return err
				}
				if err := st.Put(rec.Key, n+1); err != nil {
					return err
				}
				return ctx.Forward(rec.WithValue(n + 1))
			}), src)
			tb.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
			return counts
		})
	})
}

// BenchmarkSlidingSum sums 100 keys in sliding windows through the test
// driver, one record a millisecond of event time, in order: each key has a
// record every 100 ms, and the windows are sized to hold 10 or 100 of them.
//
//	go test -run '^$' -bench SlidingSum -benchmem ./window/
func BenchmarkSlidingSum(b *testing.B) {
	keys := benchKeys(100)
	for _, perWindow := range []int{10, 100} {
		for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
			b.Run(fmt.Sprintf("records-per-window=%d/%v", perWindow, emit), func(b *testing.B) {
				benchPipe(b, keys, windowedKeys, serde.Int64(), func(tb *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
					return window.AddSlidingAggregation(tb, "sum", window.SlidingAggregation[string, int64, int64]{
						Windows: window.Sliding(time.Duration(perWindow) * 100 * time.Millisecond), Store: "records",
						KeySerde: serde.String(), ValueSerde: serde.Int64(), Init: func() int64 { return 0 }, Add: sum, Emit: emit,
					}, src)
				})
			})
		}
	}
}

// BenchmarkSessionCount counts sessions (gap 1 s) of 10,000 keys through
// the test driver, one record a millisecond of event time, in order: each
// key comes back every 10 s, so every session holds one record and one
// closes every millisecond.
//
//	go test -run '^$' -bench SessionCount -benchmem ./window/
func BenchmarkSessionCount(b *testing.B) {
	keys := benchKeys(10_000)
	for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
		b.Run(emit.String(), func(b *testing.B) {
			benchPipe(b, keys, windowedKeys, serde.Int64(), func(tb *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
				initial, add := window.Count[string, int64]()
				return window.AddSessionAggregation(tb, "count", window.SessionAggregation[string, int64, int64]{
					Windows: window.Session(time.Second), Store: "sessions", KeySerde: serde.String(), AggSerde: serde.Int64(),
					Init: initial, Add: add, Merge: func(_ string, a, b int64) int64 { return a + b }, Emit: emit,
				}, src)
			})
		})
	}
}
