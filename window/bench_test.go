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

// BenchmarkTumblingCount counts 1,000 keys in 1-minute tumbling windows
// through the test driver, one record a millisecond of event time, beside
// the same records counted per key in a plain key-value store (the
// baseline: same driver, no windows).
//
//	go test -run '^$' -bench TumblingCount -benchmem ./window/
func BenchmarkTumblingCount(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	run := func(b *testing.B, topo *topology.Topology) {
		d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := in.Pipe(keys[i%len(keys)], "x", time.UnixMilli(int64(i))); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	}
	for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
		b.Run(fmt.Sprintf("windowed/%v", emit), func(b *testing.B) {
			tb := topology.NewBuilder()
			src := topology.AddSource(tb, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
			initial, add := window.Count[string, string]()
			w := window.Tumbling(time.Minute)
			counts := window.AddTimeAggregation(tb, "count", window.TimeAggregation[string, string, int64]{
				Windows: w, Store: "counts", KeySerde: serde.String(), AggSerde: serde.Int64(), Init: initial, Add: add, Emit: emit,
			}, src)
			topology.AddSink(tb, "out", topology.Sink[state.Windowed[string], int64]{Topic: "out",
				KeySerde: window.TimeWindowedSerde(serde.String(), w.Size), ValueSerde: serde.Int64()}, counts)
			topo, err := tb.Build()
			if err != nil {
				b.Fatal(err)
			}
			run(b, topo)
		})
	}
	b.Run("baseline/key-value", func(b *testing.B) {
		tb := topology.NewBuilder()
		src := topology.AddSource(tb, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
		counts := topology.AddProcessor(tb, "count", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, string]) error {
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
			return ctx.Forward(processor.Derive(rec, rec.Key, n+1))
		}), src)
		tb.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
		topology.AddSink(tb, "out", topology.Sink[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, counts)
		topo, err := tb.Build()
		if err != nil {
			b.Fatal(err)
		}
		run(b, topo)
	})
}

// BenchmarkSlidingSum sums 100 keys in sliding windows through the test
// driver, one record a millisecond of event time, in order: each key has a
// record every 100 ms, and the windows are sized to hold 10 or 100 of them.
//
//	go test -run '^$' -bench SlidingSum -benchmem ./window/
func BenchmarkSlidingSum(b *testing.B) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%03d", i)
	}
	for _, perWindow := range []int{10, 100} {
		for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
			b.Run(fmt.Sprintf("records-per-window=%d/%v", perWindow, emit), func(b *testing.B) {
				tb := topology.NewBuilder()
				src := topology.AddSource(tb, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
				sums := window.AddSlidingAggregation(tb, "sum", window.SlidingAggregation[string, int64, int64]{
					Windows: window.Sliding(time.Duration(perWindow) * 100 * time.Millisecond), Store: "records",
					KeySerde: serde.String(), ValueSerde: serde.Int64(),
					Init: func() int64 { return 0 }, Add: func(_ string, v, agg int64) int64 { return agg + v }, Emit: emit,
				}, src)
				topology.AddSink(tb, "out", topology.Sink[state.Windowed[string], int64]{Topic: "out",
					KeySerde: window.SessionWindowedSerde(serde.String()), ValueSerde: serde.Int64()}, sums)
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
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%05d", i)
	}
	for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
		b.Run(emit.String(), func(b *testing.B) {
			tb := topology.NewBuilder()
			src := topology.AddSource(tb, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
			counts := window.AddSessionAggregation(tb, "count", window.SessionAggregation[string, int64, int64]{
				Windows: window.Session(time.Second), Store: "sessions", KeySerde: serde.String(), AggSerde: serde.Int64(),
				Init: func() int64 { return 0 }, Add: func(_ string, _, n int64) int64 { return n + 1 },
				Merge: func(_ string, a, b int64) int64 { return a + b }, Emit: emit,
			}, src)
			topology.AddSink(tb, "out", topology.Sink[state.Windowed[string], int64]{Topic: "out",
				KeySerde: window.SessionWindowedSerde(serde.String()), ValueSerde: serde.Int64()}, counts)
			topo, err := tb.Build()
			if err != nil {
				b.Fatal(err)
			}
			d, err := testdriver.New(topo, testdriver.Options{})
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
		})
	}
}
