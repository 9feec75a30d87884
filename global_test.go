package streams_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
)

var gstrs = kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}

// enrichment joins "orders" (value: a customer id) with the global table
// of "customers" into "enriched"; store makes the table's store.
func enrichment(t *testing.T, store kstream.KeyValueStoreFunc) *topology.Topology {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	customers := kstream.GlobalTable(sb, "customers", gstrs, kstream.Materialized[string, string]{Name: "customers", KeyValueStore: store})
	orders := kstream.Stream(sb, []string{"orders"}, gstrs)
	kstream.JoinGlobal(orders, customers, func(_, c string) string { return c }, func(_, o, c string) string { return o + "/" + c }).To("enriched")
	topo, err := sb.Build()
	require.NoError(t, err)
	return topo
}

func produceRows(t *testing.T, c *embedded.Cluster, topic string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "c%d", i), Value: fmt.Appendf(nil, "name%d", i)})
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
}

// waitRows waits until the store name of app has n rows.
func waitRows(t *testing.T, app *streams.App, name string, n int) state.ReadOnlyKeyValueStore[string, string] {
	t.Helper()
	q, err := streams.QueryKeyValue[string, string](app, name)
	require.NoError(t, err)
	var got int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = 0
		for _, err := range q.All() {
			require.NoError(t, err)
			got++
		}
		if got == n {
			return q
		}
	}
	t.Fatalf("store %q has %d rows, want %d", name, got, n)
	return nil
}

// Two instances of an app in one group each hold the whole global table,
// every partition of its topic, and answer queries for every key, while
// they share the orders' tasks. Every order was produced after its
// customer: the global store is restored before any task processes, so
// every order joins. A row written later reaches both instances.
func TestGlobalTableOnTwoInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"customers", "orders", "enriched"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 3))
	}
	produceRows(t, c, "customers", 0, 30)
	var orders []*kgo.Record
	for i := range 60 {
		orders = append(orders, &kgo.Record{Topic: "orders", Key: fmt.Appendf(nil, "o%d", i), Value: fmt.Appendf(nil, "c%d", i%30)})
	}
	require.NoError(t, c.Produce(ctxT(t), orders...))

	topo := enrichment(t, nil)
	a := start(t, topo, config(t, c, "global-two"))
	b := start(t, topo, config(t, c, "global-two"))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "global-two", "orders"))
	for _, app := range []*streams.App{a.app, b.app} {
		q := waitRows(t, app, "customers", 30)
		for i := range 30 {
			v, ok, err := q.Get(fmt.Sprintf("c%d", i))
			require.NoError(t, err)
			require.True(t, ok, "c%d", i)
			require.Equal(t, fmt.Sprintf("name%d", i), v)
		}
		md, err := streams.QueryMetadataForKey(app, "customers", "c1", serde.String())
		require.NoError(t, err)
		require.True(t, md.Local, "a global store is local on every instance")
	}
	// A global store's committed changes can be subscribed to as well.
	sub, err := streams.Subscribe[string, state.ValueAndTimestamp[string]](a.app, "customers", 0)
	require.NoError(t, err)
	defer sub.Close()
	produceRows(t, c, "customers", 30, 31)
	select {
	case ch := <-sub.Changes():
		require.Equal(t, "c30", ch.Key)
		require.Equal(t, "name30", ch.New.Value)
		require.Equal(t, "-1_-1", ch.Task.String())
	case <-time.After(20 * time.Second):
		t.Fatal("no change of the global store was delivered")
	}
	waitRows(t, a.app, "customers", 31)
	waitRows(t, b.app, "customers", 31)
	require.NoError(t, a.stop(t))
	require.NoError(t, b.stop(t))

	recs, err := c.ReadAll(ctxT(t), "enriched")
	require.NoError(t, err)
	joined := map[string]string{}
	for _, r := range recs {
		joined[string(r.Key)] = string(r.Value)
	}
	require.Len(t, joined, 60, "every order joined")
	for i := range 60 {
		require.Equal(t, fmt.Sprintf("c%d/name%d", i%30, i%30), joined[fmt.Sprintf("o%d", i)])
	}
}

// A persistent (RocksDB) global store closed cleanly writes its checkpoint
// under <state.dir>/<app>/global; the next start restores only the records
// written since, counted by the restore listener.
func TestPersistentGlobalStoreRestoresOnlyTheTail(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"customers", "orders", "enriched"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 2))
	}
	dir := t.TempDir()
	topo := enrichment(t, func(name string) state.KeyValueBytesStoreSupplier {
		return rocksdb.KeyValueStore(name, rocksdb.Options{})
	})
	runOnce := func(rows int) int64 {
		l := &listener{}
		cfg := config(t, c, "global-persist")
		cfg.StateDir, cfg.RestoreListener = dir, l
		r := start(t, topo, cfg)
		waitRows(t, r.app, "customers", rows)
		require.NoError(t, r.stop(t))
		return l.restoredRecords()
	}
	produceRows(t, c, "customers", 0, 50)
	require.Equal(t, int64(50), runOnce(50), "the first start restores everything")
	_, err := os.Stat(filepath.Join(dir, "global-persist", "global", ".checkpoint"))
	require.NoError(t, err, "a clean close writes the global stores' checkpoint")

	produceRows(t, c, "customers", 50, 70)
	require.Equal(t, int64(20), runOnce(70), "a restart restores only the tail")
	require.Equal(t, int64(0), runOnce(70), "nothing new: nothing to restore")
}

// transactional produces recs in one transaction, committed or aborted.
func transactional(t *testing.T, c *embedded.Cluster, commit bool, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.TransactionalID(fmt.Sprintf("writer-%v", commit)))
	require.NoError(t, err)
	defer cl.Close()
	ctx := ctxT(t)
	require.NoError(t, cl.BeginTransaction())
	for _, r := range recs {
		require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
	}
	require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
}

// Under ExactlyOnce the global store reads committed records only: an
// aborted transaction's writes to its topic are never applied, neither by
// the bootstrap (which reads up to the last stable offset) nor later.
func TestExactlyOnceGlobalStoreIgnoresAbortedWrites(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"customers", "orders", "enriched"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	rec := func(k, v string) *kgo.Record {
		return &kgo.Record{Topic: "customers", Key: []byte(k), Value: []byte(v)}
	}
	transactional(t, c, false, rec("before", "aborted"))
	transactional(t, c, true, rec("c1", "committed"))
	r := start(t, enrichment(t, nil), eosConfig(t, c, "global-eos"))
	q := waitRows(t, r.app, "customers", 1)
	transactional(t, c, false, rec("after", "aborted"), rec("c1", "aborted"))
	transactional(t, c, true, rec("c2", "committed"))
	waitRows(t, r.app, "customers", 2)
	for k, want := range map[string]string{"c1": "committed", "c2": "committed"} {
		v, ok, err := q.Get(k)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, v)
	}
	for _, k := range []string{"before", "after"} {
		_, ok, err := q.Get(k)
		require.NoError(t, err)
		require.False(t, ok, k)
	}
	require.NoError(t, r.stop(t))
}

// A global store's processor that fails stops the app, with an error
// naming the store: nothing replaces the global thread.
func TestGlobalThreadFailureStopsTheApp(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"g", "in"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	b := topology.NewBuilder()
	topology.AddGlobalStore(b,
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("g"), serde.String(), serde.String()).WithLoggingDisabled(),
		"g-source", topology.GlobalSource[string, string]{Topic: "g", KeySerde: serde.String(), ValueSerde: serde.String()},
		"g-update", processor.Func(func(_ processor.Context[struct{}, struct{}], rec processor.Record[string, string]) error {
			if rec.Value == "bad" {
				return fmt.Errorf("cannot take %q", rec.Value)
			}
			return nil
		}))
	topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topo, err := b.Build()
	require.NoError(t, err)
	r := start(t, topo, config(t, c, "global-fail"))
	produceValues(t, c, "g", true, "good")
	for deadline := time.Now().Add(20 * time.Second); r.app.State() != streams.Running && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	produceValues(t, c, "g", true, "bad")
	err = r.wait(t)
	require.ErrorContains(t, err, `global store "g"`)
	require.ErrorContains(t, err, `cannot take "bad"`)
	require.Equal(t, streams.Error, r.app.State())
}
