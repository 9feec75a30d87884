package streams_test

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
)

// tally is a key's count and the offset of the last input record it
// counted, written together in one Put.
type tally struct {
	Count  int64 `json:"count"`
	Offset int64 `json:"offset"`
}

var tallySerde = serde.JSON[tally]()

// idempotentCounting counts keyed input in a RocksDB store, skipping
// records at or below the offset it last counted for the key: processing a
// record twice after a crash (at-least-once) changes nothing, so the counts
// are exact exactly when nothing is lost, neither from the store nor from
// its changelog.
func idempotentCounting() *topology.Topology {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, string] { return &idempotentCounter{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("tallies", rocksdb.Options{}), serde.String(), tallySerde), "count")
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}
	return topo
}

type idempotentCounter struct {
	ctx processor.Context[string, string]
	st  state.KeyValueStore[string, tally]
}

func (p *idempotentCounter) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	var err error
	p.st, err = processor.GetStore[state.KeyValueStore[string, tally]](ctx, "tallies")
	return err
}

func (p *idempotentCounter) Process(rec processor.Record[string, string]) error {
	md, _ := p.ctx.RecordMetadata()
	t, ok, err := p.st.Get(rec.Key)
	if err != nil {
		return err
	}
	if ok && md.Offset <= t.Offset {
		return nil // counted before the crash
	}
	return p.st.Put(rec.Key, tally{Count: t.Count + 1, Offset: md.Offset})
}

func (p *idempotentCounter) Close() error { return nil }

// kill -9 an app process mid-run and restart it on the same state
// directory: it restores its RocksDB store from the changelog (the crash
// left no checkpoint, so from the beginning, onto a wiped store), finishes
// the run with exact counts, and its store on disk equals what the
// changelog says.
func TestKillNineThenRestartRestoresAndCountsExactly(t *testing.T) {
	t.Parallel()
	c := startCluster(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	const appID = "crash"
	dir := t.TempDir()
	env := []string{"STREAMS_CHILD_TOPOLOGY=idempotent", "STREAMS_STATE_DIR=" + dir}

	want := map[string]int64{}
	produce := func(n int) {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", (len(want)+i*7)%12)
		}
		produceValues(t, c, "in", true, keys...)
		for _, k := range keys {
			want[k]++
		}
	}

	first := startChild(t, c, appID, "first", env...)
	produce(1500)
	require.Eventually(t, func() bool {
		off, err := c.Admin().FetchOffsets(ctxT(t), appID)
		return err == nil && len(off) > 0
	}, 30*time.Second, 20*time.Millisecond, "the first process committed something")
	produce(1500)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()

	second := startChild(t, c, appID, "second", env...)
	produce(1000)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in"), "second: %s", second.out.String())
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.cmd.Wait(), "second: %s", second.out.String())

	// The changelog's latest tally per key.
	recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic(appID, "tallies"))
	require.NoError(t, err)
	logged := map[string]tally{}
	for _, r := range recs {
		tl, err := tallySerde.Deserialize(r.Value)
		require.NoError(t, err)
		logged[string(r.Key)] = tl
	}
	require.Len(t, logged, len(want))
	for k, n := range want {
		require.Equal(t, n, logged[k].Count, "key %s", k)
	}

	// The stores on disk say the same.
	onDisk := map[string]tally{}
	for p := range 2 {
		st := state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("tallies", rocksdb.Options{}), serde.String(), tallySerde).WithLoggingDisabled().BuildStore()
		require.NoError(t, st.Init(state.StoreContext{Dir: filepath.Join(dir, appID, fmt.Sprintf("0_%d", p))}))
		for kv, err := range st.All() {
			require.NoError(t, err)
			onDisk[kv.Key] = kv.Value
		}
		require.NoError(t, st.Close())
	}
	require.Equal(t, logged, onDisk, "the stores equal their changelog")
}
