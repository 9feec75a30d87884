package testdriver_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// upsertInto is a state-update processor: a nil value deletes the key.
func upsertInto(store string) processor.Supplier[string, *string, struct{}, struct{}] {
	return func() processor.Processor[string, *string, struct{}, struct{}] { return &upserter{store: store} }
}

type upserter struct {
	store string
	kv    state.KeyValueStore[string, string]
}

func (u *upserter) Init(ctx processor.Context[struct{}, struct{}]) error {
	var err error
	u.kv, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, u.store)
	return err
}

func (u *upserter) Process(rec processor.Record[string, *string]) error {
	if rec.Value == nil {
		_, _, err := u.kv.Delete(rec.Key)
		return err
	}
	return u.kv.Put(rec.Key, *rec.Value)
}

func (u *upserter) Close() error { return nil }

// enrich looks each order's customer up in the global store "customers",
// which it reads without being connected to it, and tries to write it.
type enrich struct {
	ctx       processor.Context[string, string]
	customers state.KeyValueStore[string, string]
	writeErr  *error
}

func (e *enrich) Init(ctx processor.Context[string, string]) error {
	e.ctx = ctx
	var err error
	e.customers, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, "customers")
	return err
}

func (e *enrich) Process(rec processor.Record[string, string]) error {
	name, ok, err := e.customers.Get(rec.Value)
	if err != nil {
		return err
	}
	if !ok {
		name = "?"
	}
	*e.writeErr = e.customers.Put("x", "y")
	return e.ctx.Forward(rec.WithValue(name))
}

func (e *enrich) Close() error { return nil }

// A record piped to a global topic is in the global store before the next
// record of any task, which reads it through a read-only view; a
// tombstone deletes the row.
func TestGlobalStore(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddGlobalStore(b,
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("customers"), serde.String(), serde.String()).WithLoggingDisabled(),
		"customers-source",
		topology.GlobalSource[string, *string]{Topic: "customers", KeySerde: serde.String(), ValueSerde: serde.Nullable(serde.String())},
		"customers-update", upsertInto("customers"))
	var writeErr error
	orders := topology.AddSource(b, "orders", source("orders"))
	e := topology.AddProcessor(b, "enrich", func() processor.Processor[string, string, string, string] {
		return &enrich{writeErr: &writeErr}
	}, orders)
	topology.AddSink(b, "out", sink("enriched"), e)
	d := newDriver(t, b)

	customers := testdriver.CreateInputTopic(d, "customers", serde.String(), serde.Nullable(serde.String()))
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "enriched", serde.String(), serde.String())

	require.NoError(t, in.PipeKeyValue("o1", "c1"))
	require.NoError(t, customers.PipeKeyValue("c1", new("alice")))
	require.NoError(t, in.PipeKeyValue("o2", "c1"))
	require.NoError(t, customers.PipeKeyValue("c1", nil))
	require.NoError(t, in.PipeKeyValue("o3", "c1"))
	got, err := out.ReadKeyValues()
	require.NoError(t, err)
	require.Equal(t, []testdriver.KeyValue[string, string]{{Key: "o1", Value: "?"}, {Key: "o2", Value: "alice"}, {Key: "o3", Value: "?"}}, got)

	require.ErrorIs(t, writeErr, state.ErrReadOnly, "a task cannot write a global store")
	st, err := testdriver.KeyValueStore[string, string](d, "customers")
	require.NoError(t, err)
	_, ok, err := st.Get("x")
	require.NoError(t, err)
	require.False(t, ok)
}

// The global store's processor has no punctuation and no sink; a
// processor that asks for them fails with ErrGlobalContext's message.
func TestGlobalStoreProcessorCannotSchedule(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddGlobalStore(b,
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("g"), serde.String(), serde.String()).WithLoggingDisabled(),
		"g-source", topology.GlobalSource[string, string]{Topic: "g", KeySerde: serde.String(), ValueSerde: serde.String()},
		"g-update", processor.Func(func(ctx processor.Context[struct{}, struct{}], rec processor.Record[string, string]) error {
			_, err := ctx.Schedule(processor.MinPunctuationInterval, processor.WallClockTime, processor.PunctuatorFunc(func(time.Time) error { return nil }))
			return err
		}))
	topology.AddSource(b, "in", source("in"))
	d := newDriver(t, b)
	err := testdriver.CreateInputTopic(d, "g", serde.String(), serde.String()).PipeKeyValue("k", "v")
	var pe *processor.ProcessingError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, "-1_-1", pe.TaskID.String())
	require.ErrorContains(t, err, "not supported by a global store's processor")
}
