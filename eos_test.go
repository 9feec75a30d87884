package streams_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// eosTopology echoes "in" to "echo" and, through a repartition, keeps a
// per-key sum and count of the (decimal) values in stores "sums" and
// "counts", sending "sum,count" to "totals" after each record. failAt, if
// set, makes the summing processor fail once on the record with that
// value.
func eosTopology(t *testing.T, failAt *atomic.Int64) *topology.Topology {
	t.Helper()
	topo, err := eosTopologyOn(state.InMemoryKeyValueStore, failAt)
	require.NoError(t, err)
	return topo
}

// eosTopologyOn is eosTopology with its stores on the backends supply
// makes.
func eosTopologyOn(supply func(name string) state.KeyValueBytesStoreSupplier, failAt *atomic.Int64) (*topology.Topology, error) {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddSink(b, "echo", topology.Sink[string, string]{Topic: "echo", KeySerde: serde.String(), ValueSerde: serde.String()}, src)
	byKey := topology.AddRepartition(b, "by-key", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, src)
	sum := topology.AddProcessor(b, "sum", func() processor.Processor[string, string, string, string] {
		return &summing{failAt: failAt}
	}, byKey)
	b.AddStateStore(state.NewKeyValueStoreBuilder(supply("sums"), serde.String(), serde.Int64()), "sum")
	b.AddStateStore(state.NewKeyValueStoreBuilder(supply("counts"), serde.String(), serde.Int64()), "sum")
	topology.AddSink(b, "totals", topology.Sink[string, string]{Topic: "totals", KeySerde: serde.String(), ValueSerde: serde.String()}, sum)
	return b.Build()
}

type summing struct {
	ctx          processor.Context[string, string]
	sums, counts state.KeyValueStore[string, int64]
	failAt       *atomic.Int64
}

func (p *summing) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	var err error
	if p.sums, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "sums"); err != nil {
		return err
	}
	p.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (p *summing) Process(rec processor.Record[string, string]) error {
	v, err := strconv.ParseInt(rec.Value, 10, 64)
	if err != nil {
		return err
	}
	s, _, err := p.sums.Get(rec.Key)
	if err != nil {
		return err
	}
	n, _, err := p.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	s, n = s+v, n+1
	if err := p.sums.Put(rec.Key, s); err != nil {
		return err
	}
	if err := p.counts.Put(rec.Key, n); err != nil {
		return err
	}
	// Fail after the writes, so that the failed transaction has store
	// writes and output to throw away.
	if p.failAt != nil && p.failAt.CompareAndSwap(v, -1) {
		return fmt.Errorf("injected failure at value %d", v)
	}
	return p.ctx.Forward(rec.WithValue(fmt.Sprintf("%d,%d", s, n)))
}

func (p *summing) Close() error { return nil }

// eosInput writes n records with values 1..n, keyed k0..k(keys-1), to "in".
func eosInput(t *testing.T, c *embedded.Cluster, from, n, keys int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "in", Key: []byte(fmt.Sprintf("k%d", i%keys)), Value: []byte(strconv.Itoa(i + 1))})
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
}

// verifyExactlyOnce checks, as a read_committed consumer, that "echo" is
// "in" exactly, partition by partition, that each key's "totals" are the
// running sums and counts of its values in input order, once each, that
// the stores' changelogs end at the final values, and that no transaction
// is left open.
func verifyExactlyOnce(t *testing.T, c *embedded.Cluster, appID string) {
	t.Helper()
	in, err := c.ReadAll(ctxT(t), "in")
	require.NoError(t, err)
	echo, err := c.ReadAll(ctxT(t), "echo")
	require.NoError(t, err)
	type kv struct{ k, v string }
	byPart := func(recs []*kgo.Record) map[int32][]kv {
		m := map[int32][]kv{}
		for _, r := range recs {
			m[r.Partition] = append(m[r.Partition], kv{string(r.Key), string(r.Value)})
		}
		return m
	}
	require.Equal(t, byPart(in), byPart(echo), "echo must equal the input, partition by partition, in order")

	want := map[string][]string{}
	sums, counts := map[string]int64{}, map[string]int64{}
	for _, r := range in {
		k := string(r.Key)
		v, err := strconv.ParseInt(string(r.Value), 10, 64)
		require.NoError(t, err)
		sums[k] += v
		counts[k]++
		want[k] = append(want[k], fmt.Sprintf("%d,%d", sums[k], counts[k]))
	}
	totals, err := c.ReadAll(ctxT(t), "totals")
	require.NoError(t, err)
	got := map[string][]string{}
	for _, r := range totals {
		got[string(r.Key)] = append(got[string(r.Key)], string(r.Value))
	}
	require.Equal(t, want, got, "each key's totals, in order, once each")

	for store, final := range map[string]map[string]int64{"sums": sums, "counts": counts} {
		recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic(appID, store))
		require.NoError(t, err)
		last := map[string]int64{}
		for _, r := range recs {
			n, err := serde.Int64().Deserialize(r.Value)
			require.NoError(t, err)
			last[string(r.Key)] = n
		}
		require.Equal(t, final, last, "changelog of %s", store)
	}

	for _, topic := range []string{"echo", "totals", streams.RepartitionTopic(appID, "by-key"),
		streams.ChangelogTopic(appID, "sums"), streams.ChangelogTopic(appID, "counts")} {
		stable, err := c.Admin().ListCommittedOffsets(ctxT(t), topic)
		require.NoError(t, err)
		ends, err := c.Admin().ListEndOffsets(ctxT(t), topic)
		require.NoError(t, err)
		ends.Each(func(e kadm.ListedOffset) {
			s, _ := stable.Lookup(e.Topic, e.Partition)
			require.Equal(t, e.Offset, s.Offset, "%s-%d: a transaction is still open", e.Topic, e.Partition)
		})
	}
}

func eosConfig(t *testing.T, c *embedded.Cluster, appID string) streams.Config {
	cfg := config(t, c, appID)
	cfg.Guarantee = eos.ExactlyOnce
	return cfg
}

func eosTopics(t *testing.T, c *embedded.Cluster) {
	t.Helper()
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 3))
	require.NoError(t, c.CreateTopic(ctxT(t), "echo", 3))
	require.NoError(t, c.CreateTopic(ctxT(t), "totals", 3))
}

func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	eosTopics(t, c)
	eosInput(t, c, 0, 300, 20)
	cfg := eosConfig(t, c, "eos")
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), mustApp(t, eosTopology(t, nil), cfg), "eos", "in", streams.RepartitionTopic("eos", "by-key")))
	verifyExactlyOnce(t, c, "eos")
}

// A processing error aborts the transaction: Run fails, and nothing of the
// failed transaction (output, changelog, offsets) is visible. The next run
// redoes it from the last commit, exactly once.
func TestExactlyOnceProcessingErrorAbortsTheTransaction(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	eosTopics(t, c)
	eosInput(t, c, 0, 300, 20)
	var failAt atomic.Int64
	failAt.Store(150)
	cfg := eosConfig(t, c, "eos-fail")
	cfg.CommitInterval = 20 * time.Millisecond
	app := mustApp(t, eosTopology(t, &failAt), cfg)
	err := app.Run(ctxT(t))
	require.ErrorContains(t, err, "injected failure at value 150")
	require.Equal(t, int64(-1), failAt.Load(), "the failure fired")

	app = mustApp(t, eosTopology(t, nil), cfg)
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, "eos-fail", "in", streams.RepartitionTopic("eos-fail", "by-key")))
	verifyExactlyOnce(t, c, "eos-fail")
}

// kill -9 an ExactlyOnce app process with RocksDB stores mid-run, restart
// it on the same state directory: its stores kept the changelog offset of
// their last applied commit with their data, so it restores only the
// changelog's tail, not the whole of it, with no wipe; and the output is
// exactly once. A third run on an empty state directory, for comparison,
// restores everything.
func TestExactlyOnceKillNineRestoresOnlyTheTail(t *testing.T) {
	t.Parallel()
	c := startCluster(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	eosTopics(t, c)
	const appID, keys = "eos-crash", 3000
	dir := t.TempDir()
	env := []string{"STREAMS_CHILD_TOPOLOGY=eos-rocksdb", "STREAMS_STATE_DIR=" + dir}
	repartition := streams.RepartitionTopic(appID, "by-key")

	first := startChild(t, c, appID, "first", env...)
	eosInput(t, c, 0, 6000, keys)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	eosInput(t, c, 6000, 6000, keys)
	require.Eventually(t, func() bool {
		off, err := c.Admin().FetchOffsets(ctxT(t), appID)
		if err != nil {
			return false
		}
		var n int64
		off.Each(func(o kadm.OffsetResponse) {
			if o.Topic == "in" {
				n += o.At
			}
		})
		return n > 6000
	}, 30*time.Second, 5*time.Millisecond, "the first process is working on the second batch")
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()

	changelogRecords := func() int64 {
		var n int64
		for _, store := range []string{"sums", "counts"} {
			recs, err := c.ReadAll(ctxT(t), streams.ChangelogTopic(appID, store))
			require.NoError(t, err)
			n += int64(len(recs))
		}
		return n
	}
	before := changelogRecords()

	second := startChild(t, c, appID, "second", env...)
	eosInput(t, c, 12000, 1000, keys)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.cmd.Wait(), "second: %s", second.out.String())
	tail, tailTook, restored := childRestores(t, second.out.String())
	// Without this, a second run that restored nothing (or did not say so)
	// would pass the check below.
	require.Len(t, restored, 6, "each of the two stores of the three tasks was restored: %v", restored)
	require.Less(t, tail, before/2, "after kill -9 the stores restore only the tail of their changelogs (%d of %d records)", tail, before)
	verifyExactlyOnce(t, c, appID)

	// For comparison: the same stores restored from nothing.
	third := startChild(t, c, appID, "third", "STREAMS_CHILD_TOPOLOGY=eos-rocksdb", "STREAMS_STATE_DIR="+t.TempDir())
	require.Eventually(t, func() bool {
		off, err := c.Admin().DescribeGroups(ctxT(t), appID)
		return err == nil && len(off.Sorted()) == 1 && len(off.Sorted()[0].Members) == 1
	}, 30*time.Second, 20*time.Millisecond)
	eosInput(t, c, 13000, 10, keys)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", repartition))
	require.NoError(t, third.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, third.cmd.Wait(), "third: %s", third.out.String())
	full, fullTook, restored := childRestores(t, third.out.String())
	require.Len(t, restored, 6, "each of the two stores of the three tasks was restored: %v", restored)
	require.Equal(t, changelogRecords()-20, full, "a fresh state directory restores the whole changelog but the last run's records")
	t.Logf("restore after kill -9: %d records in %v; full restore: %d records in %v", tail, tailTook, full, fullTook)
	verifyExactlyOnce(t, c, appID)
}
