package streams_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

var windowOutputs = []string{"tumbling", "sessions", "sliding"}

// windowedSums sums "in" per key in 10 s tumbling windows, sessions with a
// 5 s gap and 5 s sliding windows, all with 2 s of grace and final results
// only, each to the topic of its name; their stores are in RocksDB if
// persistent, else in memory.
func windowedSums(t *testing.T, persistent bool) *topology.Topology {
	t.Helper()
	var windowStores window.WindowStoreFunc
	var sessionStores window.SessionStoreFunc
	if persistent {
		windowStores = func(name string, retention, size time.Duration, dups bool) state.WindowBytesStoreSupplier {
			return rocksdb.WindowStore(name, rocksdb.Options{}, retention, size, dups)
		}
		sessionStores = func(name string, retention time.Duration) state.SessionBytesStoreSupplier {
			return rocksdb.SessionStore(name, rocksdb.Options{}, retention)
		}
	}
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	zero := func() int64 { return 0 }
	add := func(_ string, v, agg int64) int64 { return agg + v }
	grace := 2 * time.Second
	tumbling := window.AddTimeAggregation(b, "tumbling", window.TimeAggregation[string, int64, int64]{
		Windows: window.Tumbling(10 * time.Second).WithGrace(grace), Store: "tumbling-store", StoreFunc: windowStores,
		KeySerde: serde.String(), AggSerde: serde.Int64(), Init: zero, Add: add, Emit: window.EmitOnWindowClose,
	}, src)
	sessions := window.AddSessionAggregation(b, "sessions", window.SessionAggregation[string, int64, int64]{
		Windows: window.Session(5 * time.Second).WithGrace(grace), Store: "sessions-store", StoreFunc: sessionStores,
		KeySerde: serde.String(), AggSerde: serde.Int64(), Init: zero, Add: add,
		Merge: func(_ string, a, b int64) int64 { return a + b }, Emit: window.EmitOnWindowClose,
	}, src)
	sliding := window.AddSlidingAggregation(b, "sliding", window.SlidingAggregation[string, int64, int64]{
		Windows: window.Sliding(5 * time.Second).WithGrace(grace), Store: "sliding-store", StoreFunc: windowStores,
		KeySerde: serde.String(), ValueSerde: serde.Int64(), Init: zero, Add: add, Emit: window.EmitOnWindowClose,
	}, src)
	for i, n := range []topology.Node[state.Windowed[string], int64]{tumbling, sessions, sliding} {
		topology.AddSink(b, windowOutputs[i]+"-out", topology.Sink[state.Windowed[string], int64]{
			Topic: windowOutputs[i], KeySerde: window.SessionWindowedSerde(serde.String()), ValueSerde: serde.Int64(),
		}, n)
	}
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// windowInput is 400 records of 5 keys, a few hundred ms apart, some out of
// order within the grace period and some late.
func windowInput() []*kgo.Record {
	rng := rand.New(rand.NewPCG(3, 5))
	var recs []*kgo.Record
	now := time.UnixMilli(1_700_000_000_000)
	for range 400 {
		now = now.Add(time.Duration(rng.IntN(800)) * time.Millisecond)
		at := now
		switch rng.IntN(8) {
		case 0:
			at = now.Add(-time.Duration(rng.IntN(2000)) * time.Millisecond) // within grace
		case 1:
			at = now.Add(-10 * time.Second) // late
		}
		v, _ := serde.Int64().Serialize(int64(1 + rng.IntN(1000)))
		recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%d", rng.IntN(5)), Value: v, Timestamp: at})
	}
	return recs
}

// windowLine writes a result of one of windowOutputs.
func windowLine(topic string, w state.Windowed[string], v int64) string {
	return fmt.Sprintf("%s %s@%d..%d=%d", topic, w.Key, w.Start.UnixMilli(), w.End.UnixMilli(), v)
}

// Final results survive a restart that restores the aggregations' stores
// from their changelogs into a new state directory: the outputs equal those
// of one uninterrupted run, each window once, under at-least-once and
// exactly-once alike.
func TestWindowedFinalResultsAcrossARestart(t *testing.T) {
	t.Parallel()
	input := windowInput()
	testWindowsAcrossARestart(t, "random", input, 200, 200)
}

// The stream time an aggregation has seen starts over after a restart; the
// emitted-up-to marks keep which windows closed. Here the first records
// after the restart lie at the edge of what had closed before it.
func TestWindowedLatenessAcrossARestart(t *testing.T) {
	t.Parallel()
	rec := func(key string, ms int64) *kgo.Record {
		v, _ := serde.Int64().Serialize(ms)
		return &kgo.Record{Topic: "in", Key: []byte(key), Value: v, Timestamp: time.UnixMilli(1_700_000_000_000 + ms)}
	}
	input := []*kgo.Record{
		// Before the restart: stream time reaches 20 s, so sessions ending
		// at 13 s or earlier (20 - gap 5 - grace 2) and sliding windows
		// ending before 18 s have closed; no session was due after a's.
		rec("a", 0), rec("b", 14_000), rec("s", 15_000), rec("x", 20_000),
		// After: a session at 10 s would have closed; the last sliding
		// window of a record at 12.999 s ends at 18 s, so it is late too.
		rec("c", 10_000), rec("s", 12_999),
		rec("z", 100_000), // closes everything
	}
	testWindowsAcrossARestart(t, "edge", input, 4, 1)
}

// testWindowsAcrossARestart checks that windowedSums gives the same
// results for input in one run of the test driver and in two runs of an
// app on the embedded cluster, the first given input[:split]; it wants at
// least minResults.
func testWindowsAcrossARestart(t *testing.T, name string, input []*kgo.Record, split, minResults int) {
	want := driverWindows(t, input)
	require.GreaterOrEqual(t, len(want), minResults)
	for _, mode := range []struct{ exactlyOnce, rocksdb bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("exactly-once=%v/rocksdb=%v", mode.exactlyOnce, mode.rocksdb), func(t *testing.T) {
			t.Parallel()
			c := windowCluster(t)
			app := fmt.Sprintf("windows-restart-%s-%v-%v", name, mode.exactlyOnce, mode.rocksdb)
			stateDir := t.TempDir()
			run := func(recs []*kgo.Record) {
				cfg := config(t, c, app) // in memory: a new state directory each time
				if mode.rocksdb {
					cfg.StateDir = stateDir // RocksDB: the same one, restored from its checkpoint or changelog offset
				}
				if mode.exactlyOnce {
					cfg.Guarantee = eos.ExactlyOnce
				}
				r := start(t, windowedSums(t, mode.rocksdb), cfg)
				produceCopies(t, c, recs)
				caughtUp := c.WaitCaughtUp(ctxT(t), app, "in")
				require.NoError(t, r.stop(t))
				require.NoError(t, caughtUp)
			}
			run(input[:split])
			run(input[split:])

			require.Equal(t, want, clusterWindows(t, c))
		})
	}
}

// driverWindows returns the results of windowedSums for input in one run
// of the test driver.
func driverWindows(t *testing.T, input []*kgo.Record) []string {
	t.Helper()
	d, err := testdriver.New(windowedSums(t, false), testdriver.Options{Logger: quiet})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "in", serde.Bytes(), serde.Bytes())
	for _, r := range input {
		require.NoError(t, in.Pipe(r.Key, r.Value, r.Timestamp))
	}
	var want []string
	for _, topic := range windowOutputs {
		kvs, err := testdriver.CreateOutputTopic(d, topic, window.SessionWindowedSerde(serde.String()), serde.Int64()).ReadKeyValues()
		require.NoError(t, err)
		for _, kv := range kvs {
			want = append(want, windowLine(topic, kv.Key, kv.Value))
		}
	}
	return want
}

// clusterWindows returns the committed records of windowedSums' outputs on
// c.
func clusterWindows(t *testing.T, c *embedded.Cluster) []string {
	t.Helper()
	var got []string
	ws := window.SessionWindowedSerde(serde.String())
	for _, topic := range windowOutputs {
		recs, err := c.ReadAll(ctxT(t), topic)
		require.NoError(t, err)
		for _, r := range recs {
			w, err := ws.Deserialize(r.Key)
			require.NoError(t, err)
			v, err := serde.Int64().Deserialize(r.Value)
			require.NoError(t, err)
			got = append(got, windowLine(topic, w, v))
		}
	}
	return got
}

// Under exactly-once, an aborted transaction revives the aggregations from
// their committed state (their pending windows and emitted marks
// included), and a restarted thread does the same: the committed results
// are still those of one clean run.
func TestWindowedFinalResultsUnderFaults(t *testing.T) {
	t.Parallel()
	input := windowInput()
	want := driverWindows(t, input)
	cases := []struct {
		name     string
		fault    kfake.Fault
		recovery string
	}{
		{"Produce rejected record", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "sliding", Err: kerr.MessageTooLarge}, "abort"},
		{"TxnOffsetCommit rebalance in progress", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RebalanceInProgress}, "abort"},
		{"EndTxn fenced producer", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.ProducerFenced}, "restart"},
	}
	for _, tc := range cases {
		for _, persistent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rocksdb=%v", tc.name, persistent), func(t *testing.T) {
				t.Parallel()
				testWindowsUnderFault(t, input, want, tc.fault, tc.recovery, persistent)
			})
		}
	}
}

// testWindowsUnderFault runs windowedSums under exactly-once with fault
// injected, checks that the app recovered as recovery says, and that its
// committed results are want.
func testWindowsUnderFault(t *testing.T, input []*kgo.Record, want []string, fault kfake.Fault, recovery string, persistent bool) {
	c := windowCluster(t)
	produceCopies(t, c, input)
	h := c.Kfake().Fault(fault)
	cfg := eosConfig(t, c, "windows-faults")
	cfg.CommitInterval = 20 * time.Millisecond
	cfg.MaxPollRecords = 50 // many transactions
	app := mustApp(t, windowedSums(t, persistent), cfg)
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, "windows-faults", "in"))
	require.Positive(t, h.Hits(), "the fault never fired")
	m := app.Metrics()
	switch recovery {
	case "abort":
		require.Positive(t, m.Aborts, "the fault should have aborted a transaction")
	case "restart":
		require.Positive(t, m.ThreadRestarts, "the fault should have restarted the thread")
	}
	require.Equal(t, want, clusterWindows(t, c))
}

// windowCluster starts a cluster with the topics of windowedSums, one
// partition each.
func windowCluster(t *testing.T) *embedded.Cluster {
	t.Helper()
	c := startCluster(t)
	for _, topic := range append([]string{"in"}, windowOutputs...) {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	return c
}

// produceCopies produces copies of recs: the client fills in what it sends,
// so a record is never produced twice.
func produceCopies(t *testing.T, c *embedded.Cluster, recs []*kgo.Record) {
	t.Helper()
	fresh := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		fresh[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	}
	require.NoError(t, c.Produce(ctxT(t), fresh...))
}
