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
	const batch = 500
	topo, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	rt := New(Config{ApplicationID: "app", StateDir: b.TempDir(), NumStreamThreads: 1, CommitInterval: time.Hour,
		Guarantee: eos.AtLeastOnce, TransactionTimeout: time.Second, OffsetReset: topology.Earliest, MaxPollRecords: batch,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RestoreProgressEvery: time.Hour, Hooks: Hooks{
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
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		k := min(batch, b.N-n)
		for _, r := range recs[:k] {
			r.Offset, r.Timestamp = offset, ts
			offset++
		}
		part.Records = recs[:k]
		if err := tm.step(ctx, fetches); err != nil {
			b.Fatal(err)
		}
		n += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if got := rt.metrics.Processed.Load(); got != int64(b.N) {
		b.Fatalf("processed %d records, want %d", got, b.N)
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
