package runtime

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// nopProducer is a fake group whose produced records go nowhere: each is
// acknowledged at once, as if the broker took it, its promise called
// before Produce returns (franz-go calls it later, on its own goroutine). A
// benchmark then measures the thread's own work per record, not the fake's
// bookkeeping.
type nopProducer struct{ *fakeGroup }

func (nopProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, nil)
}

// BenchmarkStep runs the thread's per-record path on the fakes: a poll's
// records handed to their task (addRecords), deserialized, processed from
// source through a processor to a sink, serialized and handed to the
// record collector, which produces them. One op is one record; a step
// takes a poll of batch records of partition 0 of "in". No commit falls in
// the loop (the commit interval is an hour).
//
//   - map: source -> map (value = key) -> sink, strings.
//   - count: source -> count of each key in a logged in-memory store ->
//     sink of the int64 count, so each record also sends a changelog
//     record.
func BenchmarkStep(b *testing.B) {
	b.Run("map", func(b *testing.B) {
		bld := topology.NewBuilder()
		src := topology.AddSource(bld, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
		up := topology.AddProcessor(bld, "map", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
			return ctx.Forward(rec.WithValue(rec.Key))
		}), src)
		topology.AddSink(bld, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, up)
		benchStep(b, bld)
	})
	b.Run("count", func(b *testing.B) {
		bld := topology.NewBuilder()
		src := topology.AddSource(bld, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
		count := topology.AddProcessor(bld, "count", func() processor.Processor[string, string, string, int64] { return &benchCounter{} }, src)
		bld.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
		topology.AddSink(bld, "out", topology.Sink[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, count)
		benchStep(b, bld)
	})
}

func benchStep(b *testing.B, bld *topology.Builder) {
	step, processed := newStepper(b, bld, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		n += step(min(stepBatch, b.N-n))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if got := processed(); got != int64(b.N) {
		b.Fatalf("processed %d records, want %d", got, b.N)
	}
}

const stepBatch = 500

// newStepper makes a thread of bld's topology on the fakes, with the
// metrics registry reg (nil for none), and returns a function that hands
// it a poll of k records and processes them, and the count of records
// processed.
func newStepper(b *testing.B, bld *topology.Builder, reg *metrics.Registry) (step func(k int) int, processed func() int64) {
	const batch = stepBatch
	topo, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	rt := New(Config{ApplicationID: "app", StateDir: b.TempDir(), NumStreamThreads: 1, CommitInterval: time.Hour,
		Guarantee: eos.AtLeastOnce, TransactionTimeout: time.Second, OffsetReset: topology.Earliest, MaxPollRecords: batch,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RestoreProgressEvery: time.Hour, Metrics: reg, Hooks: Hooks{
			OnDeserializationError: func(context.Context, *kgo.Record, *processor.DeserializationError) Response { return Response{} },
			OnProcessingError:      func(context.Context, *processor.ProcessingError) Response { return Response{} },
			OnProductionError:      func(context.Context, *kgo.Record, error) Response { return Response{} },
			OnUncaughtError:        func(error) UncaughtErrorResponse { return ShutdownClient },
			OnStateChange:          func(State, State) {},
			TaskRunning:            func(*task.Task) {},
			TaskClosing:            func(*task.Task) {},
		}}, graph.ProgramOf(topo))
	cl := &fakeChangelog{logs: map[TopicPartition][]*kgo.Record{}, reading: map[TopicPartition]int64{}, maxBatch: batch}
	rt.admin = fakeAdmin{cl}
	group := nopProducer{newFakeGroup()}
	th := &StreamThread{rt: rt, idx: 0, log: rt.log, client: group}
	tm := newTaskManager(rt, 0, rt.log)
	th.tm, tm.thread = tm, th
	th.wire(cl, nil, 0)
	ctx := context.Background()
	tm.OnAssigned(ctx, nil, map[string][]int32{"in": {0}})
	for tm.restoring() {
		if err := tm.restoreStep(ctx, time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { tm.shutdown(false) })

	// A poll of batch records over 1,000 keys; the same records are polled
	// again with their offsets moved on.
	recs := make([]*kgo.Record, batch)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "in", Partition: 0, Key: []byte("key-" + strconv.Itoa(i%1000)), Value: []byte("value-" + strconv.Itoa(i))}
	}
	fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "in", Partitions: []kgo.FetchPartition{{Partition: 0}}}}}}
	part := &fetches[0].Topics[0].Partitions[0]
	offset := int64(0)
	ts := time.UnixMilli(1_000_000)
	step = func(k int) int {
		for _, r := range recs[:k] {
			r.Offset, r.Timestamp = offset, ts
			offset++
		}
		part.Records = recs[:k]
		part.HighWatermark = offset
		start := time.Now()
		if err := tm.step(ctx, fetches); err != nil {
			b.Fatal(err)
		}
		// What the thread's loop records of each poll.
		tm.sensors.polled(start, fetches, false)
		return k
	}
	return step, rt.metrics.Processed.Load
}

// BenchmarkMetricsOverhead runs the per-record path of BenchmarkStep's
// count topology twice in the same loop, with no metrics registry and with
// one recording at info (and, in its own sub-benchmark, debug) level, and
// reports each one's time per record and with/without, the throughput with
// metrics over the throughput without (the aim: a few percent at most).
func BenchmarkMetricsOverhead(b *testing.B) {
	for _, level := range []metrics.Level{metrics.Info, metrics.Debug} {
		b.Run(level.String(), func(b *testing.B) {
			count := func() *topology.Builder {
				bld := topology.NewBuilder()
				src := topology.AddSource(bld, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
				count := topology.AddProcessor(bld, "count", func() processor.Processor[string, string, string, int64] { return &benchCounter{} }, src)
				bld.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
				topology.AddSink(bld, "out", topology.Sink[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, count)
				return bld
			}
			off, _ := newStepper(b, count(), nil)
			on, _ := newStepper(b, count(), metrics.New(level))
			var offTime, onTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			timed := func(step func(int) int, k int, into *time.Duration) {
				start := time.Now()
				step(k)
				*into += time.Since(start)
			}
			for i, n := 0, 0; n < b.N; i++ {
				k := min(stepBatch, b.N-n)
				// Each goes first every other round.
				if i%2 == 0 {
					timed(off, k, &offTime)
					timed(on, k, &onTime)
				} else {
					timed(on, k, &onTime)
					timed(off, k, &offTime)
				}
				n += k
			}
			b.ReportMetric(float64(offTime.Nanoseconds())/float64(b.N), "off-ns/record")
			b.ReportMetric(float64(onTime.Nanoseconds())/float64(b.N), "on-ns/record")
			b.ReportMetric(offTime.Seconds()/onTime.Seconds(), "with/without")
		})
	}
}

// benchCounter counts each key in "counts" and forwards the count.
type benchCounter struct {
	ctx processor.Context[string, int64]
	st  state.KeyValueStore[string, int64]
}

func (c *benchCounter) Init(ctx processor.Context[string, int64]) (err error) {
	c.ctx = ctx
	c.st, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *benchCounter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.st.Get(rec.Key)
	if err != nil {
		return err
	}
	if err := c.st.Put(rec.Key, n+1); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, n+1))
}

func (c *benchCounter) Close() error { return nil }
