package testdriver_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// The driver commits with the runtime's commit steps, so that what an App
// hands a store's observers (Subscribe) after each commit, the driver hands
// them after each Pipe: the changes of the records piped, once. Before, the
// driver only flushed its stores and observers heard nothing.
func TestDriverCommitsToStoreObservers(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", source("in"))
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, string] { return &keyCounter{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()).WithCaching(), "count")
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	defer d.Close()
	st, err := testdriver.KeyValueStore[string, int64](d, "counts")
	require.NoError(t, err)
	var heard [][]state.Change[string, int64]
	st.(stateproto.Observable[string, int64]).SetObserver(func(cs []state.Change[string, int64]) { heard = append(heard, cs) })

	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
	require.NoError(t, in.Pipe("a", "x", time.Unix(1, 0)))
	require.Len(t, heard, 1, "one commit after the Pipe")
	require.Len(t, heard[0], 1)
	require.Equal(t, "a", heard[0][0].Key)
	require.Equal(t, int64(1), heard[0][0].New)
	require.False(t, heard[0][0].HadOld)

	require.NoError(t, in.Pipe("a", "y", time.Unix(2, 0)))
	require.Len(t, heard, 2)
	c := heard[1][0]
	require.True(t, c.Timestamp.Equal(time.Unix(2, 0)), "stamped with the record's time, got %v", c.Timestamp)
	c.Timestamp = time.Time{}
	require.Equal(t, state.Change[string, int64]{Key: "a", Old: 1, HadOld: true, New: 2}, c)
}

type keyCounter struct {
	st state.KeyValueStore[string, int64]
}

func (c *keyCounter) Init(ctx processor.Context[string, string]) (err error) {
	c.st, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *keyCounter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.st.Get(rec.Key)
	if err != nil {
		return err
	}
	return c.st.Put(rec.Key, n+1)
}

func (c *keyCounter) Close() error { return nil }
