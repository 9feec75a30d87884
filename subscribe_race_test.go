package streams

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// The bug this catches: when the last subscription of a store closed while
// a new one subscribed, the closing one detached the store's observer
// after the new one had joined (or attached), so the new subscription
// never heard of a change. Found by reading hub.remove; with the old
// remove this test fails within its first few dozen iterations.
func TestSubscribeWhileTheLastSubscriptionCloses(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "p", processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }), src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "p")
	topo, err := b.Build()
	require.NoError(t, err)
	a, err := New(topo, Config{ApplicationID: "subs", Brokers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)

	// A running task's store, as the runtime registers it.
	st := state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()).Build()
	require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0"}))
	defer st.Close()
	kv := st.(state.KeyValueStore[string, int64])
	a.taskRunning(processor.TaskID{}, map[string]state.Store{"counts": st})

	for i := range int64(300) {
		first, err := Subscribe[string, int64](a, "counts", 0)
		require.NoError(t, err)
		var second *Subscription[string, int64]
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); first.Close() }()
		go func() {
			defer wg.Done()
			var err error
			second, err = Subscribe[string, int64](a, "counts", 0)
			require.NoError(t, err)
		}()
		wg.Wait()

		// The task writes and commits (on its goroutine: here).
		require.NoError(t, kv.Put("k", i))
		st.(stateproto.Committer).Committed()
		select {
		case c := <-second.Changes():
			require.Equal(t, i, c.New)
		default:
			t.Fatalf("iteration %d: the subscription made while the last one closed heard nothing", i)
		}
		second.Close()
	}
}
