package task_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// summer adds each record's value length to a store "sum" and to a field,
// so a test can tell a fresh processor from a reused one.
type summer struct {
	st     state.KeyValueStore[string, int64]
	inits  *int
	inMem  int64
	ctx    processor.Context[string, int64]
	closed *int
}

func (p *summer) Init(ctx processor.Context[string, int64]) error {
	*p.inits++
	p.ctx = ctx
	var err error
	p.st, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "sum")
	return err
}

func (p *summer) Process(rec processor.Record[string, string]) error {
	n, _, err := p.st.Get(rec.Key)
	if err != nil {
		return err
	}
	p.inMem += int64(len(rec.Value))
	return p.st.Put(rec.Key, n+int64(len(rec.Value)))
}

func (p *summer) Close() error { *p.closed++; return nil }

// A transactional task keeps its stores' writes until Apply; Revive drops
// them, makes its processors anew and forgets buffered records, without
// closing or restoring its stores.
func TestTransactionalTaskPrepareApplyRevive(t *testing.T) {
	t.Parallel()
	inits, closed := 0, 0
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "sum", func() processor.Processor[string, string, string, int64] {
		return &summer{inits: &inits, closed: &closed}
	}, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("sum"), serde.String(), serde.Int64()), "sum")
	topo, err := b.Build()
	require.NoError(t, err)
	coll := &collector{}
	tk, err := task.New(task.Config{
		ID: processor.TaskID{Subtopology: 0, Partition: 0}, ApplicationID: "app",
		Program: graph.ProgramOf(topo), Collector: coll, Transactional: true,
	})
	require.NoError(t, err)
	require.NoError(t, tk.Init())
	require.NoError(t, tk.CompleteRestoration())
	defer tk.Close()
	rec := func(off int64, v string) *graph.RawRecord {
		return &graph.RawRecord{Topic: "in", Partition: 0, Offset: off, Key: []byte("k"), Value: []byte(v), Timestamp: time.Unix(off, 0)}
	}
	st, _ := tk.Store("sum")
	view := st.(stateproto.CommittedViewer).CommittedView().(state.ReadOnlyKeyValueStore[string, int64])
	get := func() (int64, bool) {
		n, ok, err := view.Get("k")
		require.NoError(t, err)
		return n, ok
	}

	require.NoError(t, tk.AddRecord(rec(0, "aaa")))
	_, err = tk.Process()
	require.NoError(t, err)
	require.NoError(t, tk.PrepareCommit())
	require.Len(t, coll.sent, 1, "Prepare sends the changelog record")
	_, ok := get()
	require.False(t, ok, "not applied before the transaction commits")
	require.NoError(t, tk.FinishCommit(func(string) int64 { return -1 }))
	n, _ := get()
	require.Equal(t, int64(3), n)

	// The next transaction aborts.
	require.NoError(t, tk.AddRecord(rec(1, "bb")))
	require.NoError(t, tk.AddRecord(rec(2, "c")))
	_, err = tk.Process()
	require.NoError(t, err)
	require.Equal(t, 1, tk.Buffered())
	require.NoError(t, tk.PrepareCommit())
	require.NoError(t, tk.AbortCommit())
	require.Equal(t, 2, inits, "the processor is made anew")
	require.Equal(t, 1, closed)
	require.Zero(t, tk.Buffered(), "buffered records are forgotten: the input is rewound")
	require.Empty(t, tk.ConsumedOffsets())
	require.False(t, tk.StreamTime().After(time.Unix(0, 0)), "stream time is forgotten")
	n, _ = get()
	require.Equal(t, int64(3), n, "the aborted write never reached the store")
	require.NoError(t, tk.FinishCommit(func(string) int64 { return -1 }))
	n, _ = get()
	require.Equal(t, int64(3), n, "nor does it after a later commit")

	// Redo: the rewound records are processed again, once.
	require.NoError(t, tk.AddRecord(rec(1, "bb")))
	require.NoError(t, tk.AddRecord(rec(2, "c")))
	for tk.Buffered() > 0 {
		_, err = tk.Process()
		require.NoError(t, err)
	}
	require.NoError(t, tk.PrepareCommit())
	require.NoError(t, tk.FinishCommit(func(string) int64 { return -1 }))
	n, _ = get()
	require.Equal(t, int64(6), n)
	require.Equal(t, map[task.TopicPartition]int64{{Topic: "in", Partition: 0}: 3}, tk.ConsumedOffsets())
}
