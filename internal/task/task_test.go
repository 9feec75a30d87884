package task_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// collector records what the task's sinks send, copying the key and value,
// which the task reuses.
type collector struct{ sent []graph.Output }

func (c *collector) Send(out *graph.Output) error {
	cp := *out
	cp.Key, cp.Value = bytes.Clone(out.Key), bytes.Clone(out.Value)
	c.sent = append(c.sent, cp)
	return nil
}
func (c *collector) NumPartitions(string) (int, error) { return 4, nil }

// lifecycle records Init/Close calls and can fail Init.
type lifecycle struct {
	log      *[]string
	failInit error
	ctx      processor.Context[string, string]
}

func (p *lifecycle) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	*p.log = append(*p.log, "init")
	return p.failInit
}
func (p *lifecycle) Process(rec processor.Record[string, string]) error {
	if rec.Value == "commit" {
		p.ctx.Commit()
	}
	return p.ctx.Forward(rec)
}
func (p *lifecycle) Close() error { *p.log = append(*p.log, "close"); return nil }

func build(t *testing.T, log *[]string, failInit error) *task.Task {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"a", "b"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	p := topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] {
		return &lifecycle{log: log, failInit: failInit}
	}, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("s"), serde.String(), serde.String()), "p")
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, p)
	topo, err := b.Build()
	require.NoError(t, err)
	tk, err := task.New(task.Config{
		ID: processor.TaskID{Subtopology: 0, Partition: 3}, ApplicationID: "app",
		Program: graph.ProgramOf(topo), Collector: &collector{},
		Clock: func() time.Time { return time.Unix(0, 0) },
	})
	require.NoError(t, err)
	return tk
}

func raw(topic string, offset int64, value string, ts int64) *graph.RawRecord {
	return &graph.RawRecord{Topic: topic, Partition: 3, Offset: offset, Key: []byte("k"), Value: []byte(value), Timestamp: time.Unix(ts, 0)}
}

// ConsumedOffsets is what the runtime commits: for each input partition,
// the offset after the last processed record. Buffered records that were
// not processed yet must not count, or a crash would skip them.
func TestConsumedOffsetsCountOnlyProcessedRecords(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	require.Empty(t, tk.ConsumedOffsets())

	require.NoError(t, tk.AddRecord(raw("a", 10, "x", 5)))
	require.NoError(t, tk.AddRecord(raw("a", 11, "x", 6)))
	require.NoError(t, tk.AddRecord(raw("b", 7, "x", 1)))
	require.Equal(t, 3, tk.Buffered())

	ok, err := tk.Process() // b@7 (ts 1) goes first
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, map[task.TopicPartition]int64{{Topic: "b", Partition: 3}: 8}, tk.ConsumedOffsets())
	_, err = tk.Process() // a@10
	require.NoError(t, err)
	require.Equal(t, map[task.TopicPartition]int64{{Topic: "b", Partition: 3}: 8, {Topic: "a", Partition: 3}: 11}, tk.ConsumedOffsets())
	_, err = tk.Process()
	require.NoError(t, err)
	ok, err = tk.Process()
	require.NoError(t, err)
	require.False(t, ok, "nothing left")
	require.Equal(t, int64(12), tk.ConsumedOffsets()[task.TopicPartition{Topic: "a", Partition: 3}])
	require.True(t, tk.StreamTime().Equal(time.Unix(6, 0)))
}

func TestAddRecordForATopicNoSourceReads(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	require.EqualError(t, tk.AddRecord(raw("c", 0, "x", 1)), `task 0_3: no source reads topic "c"`)
	require.True(t, tk.Reads("a"))
	require.False(t, tk.Reads("c"))
}

func TestCommitRequestAndFlush(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	require.NoError(t, tk.AddRecord(raw("a", 0, "commit", 1)))
	_, err := tk.Process()
	require.NoError(t, err)
	require.True(t, tk.CommitRequested())
	require.NoError(t, tk.PrepareCommit())
	require.False(t, tk.CommitRequested())
}

func TestCloseIsIdempotentAndClosesProcessorsAndStores(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	require.NoError(t, tk.AddRecord(raw("a", 0, "x", 1)))
	require.NoError(t, tk.Close())
	require.NoError(t, tk.Close())
	require.Equal(t, []string{"init", "close"}, log)
	require.Zero(t, tk.Buffered(), "closing drops buffered records")
	st, _ := tk.Store("s")
	require.ErrorIs(t, st.(state.KeyValueStore[string, string]).Put("k", "v"), state.ErrStoreClosed)
}

func TestFailedInitClosesWhatItOpened(t *testing.T) {
	t.Parallel()
	var log []string
	boom := errors.New("boom")
	tk := build(t, &log, boom)
	require.NoError(t, tk.Init(), "the stores open; the processors start once they are restored")
	err := tk.CompleteRestoration()
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, `task 0_3: processor "p": init: boom`)
	st, _ := tk.Store("s")
	require.ErrorIs(t, st.(state.KeyValueStore[string, string]).Put("k", "v"), state.ErrStoreClosed, "the stores were closed")
}

func TestNextWallClock(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	_, ok := tk.NextWallClock()
	require.False(t, ok)
	c, err := tk.Schedule("p", 3*time.Second, processor.WallClockTime, processor.PunctuatorFunc(func(time.Time) error { return nil }))
	require.NoError(t, err)
	_, err = tk.Schedule("p", time.Second, processor.StreamTime, processor.PunctuatorFunc(func(time.Time) error { return nil }))
	require.NoError(t, err)
	next, ok := tk.NextWallClock()
	require.True(t, ok)
	require.True(t, next.Equal(time.Unix(3, 0)))
	c.Cancel()
	_, ok = tk.NextWallClock()
	require.False(t, ok, "a cancelled schedule is not due")
	_, err = tk.Schedule("p", time.Second, processor.PunctuationType(9), processor.PunctuatorFunc(func(time.Time) error { return nil }))
	require.ErrorContains(t, err, "unknown punctuation type")
	_, err = tk.Schedule("p", time.Second, processor.StreamTime, nil)
	require.ErrorContains(t, err, "nil punctuator")
}

// A sink's partitioner chooses the partition among the topic's partitions;
// an answer outside them is an error naming the sink, never a silent
// misroute.
func TestSinkPartitioner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    topology.Partitioner[string, string]
		want int32
		err  string
	}{
		{"chooses", func(topic, key, value string, n int) (int, bool) { return n - 1, true }, 3, ""},
		{"falls back to the default", func(string, string, string, int) (int, bool) { return 0, false }, -1, ""},
		{"out of range", func(string, string, string, int) (int, bool) { return 4, true }, 0,
			`processor "out": record a-3@0: partitioner chose partition 4 of topic "out", which has 4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := topology.NewBuilder()
			src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"a"}, KeySerde: serde.String(), ValueSerde: serde.String()})
			topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String(), Partitioner: tc.p}, src)
			topo, err := b.Build()
			require.NoError(t, err)
			c := &collector{}
			tk, err := task.New(task.Config{ID: processor.TaskID{Partition: 3}, ApplicationID: "app", Program: graph.ProgramOf(topo), Collector: c})
			require.NoError(t, err)
			require.NoError(t, tk.Init())
			require.NoError(t, tk.CompleteRestoration())
			defer tk.Close()
			require.NoError(t, tk.AddRecord(raw("a", 0, "v", 1)))
			_, err = tk.Process()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Empty(t, c.sent)
				return
			}
			require.NoError(t, err)
			require.Len(t, c.sent, 1)
			require.Equal(t, tc.want, c.sent[0].Partition)
			require.Equal(t, "out", c.sent[0].Sink)
		})
	}
}

// A skipped record (a deserialization error the handler chose to go on
// past) counts as consumed only once the records buffered before it on its
// partition are processed: committing its offset earlier would lose them.
func TestSkippedRecordsAdvanceConsumedOffsetsInOrder(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	a := task.TopicPartition{Topic: "a", Partition: 3}

	require.NoError(t, tk.Skip("a", 3, 0)) // nothing buffered: consumed at once
	require.Equal(t, int64(1), tk.ConsumedOffsets()[a])

	require.NoError(t, tk.AddRecord(raw("a", 1, "x", 1)))
	require.NoError(t, tk.AddRecord(raw("a", 2, "x", 2)))
	require.NoError(t, tk.Skip("a", 3, 3))
	require.Equal(t, int64(1), tk.ConsumedOffsets()[a], "offsets 1 and 2 are not processed yet")
	_, err := tk.Process()
	require.NoError(t, err)
	require.Equal(t, int64(2), tk.ConsumedOffsets()[a])
	_, err = tk.Process()
	require.NoError(t, err)
	require.Equal(t, int64(4), tk.ConsumedOffsets()[a], "past the skipped record once the partition is drained")
}

// A record whose processing fails is not consumed: committing its offset
// would lose it under at-least-once.
func TestFailedRecordIsNotConsumed(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"a"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "p", processor.Func(func(_ processor.Context[string, string], rec processor.Record[string, string]) error {
		if rec.Value == "bad" {
			return errors.New("bad")
		}
		return nil
	}), src)
	topo, err := b.Build()
	require.NoError(t, err)
	tk, err := task.New(task.Config{ID: processor.TaskID{Partition: 3}, Program: graph.ProgramOf(topo), Collector: &collector{}})
	require.NoError(t, err)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	require.NoError(t, tk.AddRecord(raw("a", 0, "ok", 1)))
	require.NoError(t, tk.AddRecord(raw("a", 1, "bad", 2)))
	_, err = tk.Process()
	require.NoError(t, err)
	_, err = tk.Process()
	require.Error(t, err)
	a := task.TopicPartition{Topic: "a", Partition: 3}
	require.Equal(t, int64(1), tk.ConsumedOffsets()[a], "offset 1 failed and must not be committed")
	require.NoError(t, tk.Skip("a", 3, 1)) // the handler chose to go on
	require.Equal(t, int64(2), tk.ConsumedOffsets()[a])
}

// A revoked task kept as a standby (Recycle) closes its processors, keeps
// its open stores with what they hold, drops its buffered records and
// stream time, and runs again with new processors when promoted.
func TestRecycleKeepsTheStoresAndRenewsTheProcessors(t *testing.T) {
	t.Parallel()
	var log []string
	tk := build(t, &log, nil)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	st, _ := tk.Store("s")
	kv := st.(state.KeyValueStore[string, string])
	require.NoError(t, kv.Put("kept", "v"))
	require.NoError(t, tk.AddRecord(raw("a", 10, "x", 5)))
	_, err := tk.Process()
	require.NoError(t, err)
	require.NoError(t, tk.AddRecord(raw("a", 11, "x", 6))) // buffered, not processed

	require.Error(t, tk.Recycle(), "only a suspended task is recycled")
	require.NoError(t, tk.Suspend())
	require.NoError(t, tk.Recycle())
	require.Equal(t, task.Restoring, tk.State())
	require.Equal(t, []string{"init", "close"}, log, "its processors are closed")
	require.Zero(t, tk.Buffered(), "its buffered records are dropped: the next owner reads them again")
	v, ok, err := kv.Get("kept")
	require.NoError(t, err)
	require.True(t, ok, "the store stays open with what it holds")
	require.Equal(t, "v", v)

	require.NoError(t, tk.CompleteRestoration(), "promoted again")
	require.Equal(t, []string{"init", "close", "init"}, log, "with a new processor")
	require.NoError(t, tk.AddRecord(raw("a", 20, "x", 9)))
	ok, err = tk.Process()
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, tk.StreamTime().Equal(time.Unix(9, 0)))
}
