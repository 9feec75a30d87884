package window_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// sessionTopology sums "in" (values as int64) per key in sessions with the
// given gap and grace.
func sessionTopology(t *testing.T, name string, w window.SessionWindows, emit window.Emit) (*testdriver.InputTopic[string, int64], *testdriver.OutputTopic[state.Windowed[string], int64]) {
	t.Helper()
	d, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddSessionAggregation(b, name, window.SessionAggregation[string, int64, int64]{
			Windows: w, Store: name + "-store", KeySerde: serde.String(), AggSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum, Merge: func(_ string, a, b int64) int64 { return a + b }, Emit: emit,
		}, src)
	})
	runs(name, d)
	return in, out
}

func sessions(t *testing.T, out *testdriver.OutputTopic[state.Windowed[string], int64]) []string {
	t.Helper()
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	got := []string{}
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s@%d-%d=%d", kv.Key.Key, kv.Key.Start.Unix(), kv.Key.End.Unix(), kv.Value))
	}
	return got
}

// Records within the gap join a session; a record that bridges two
// sessions merges them; one beyond the gap starts a new session.
func TestSessionMergingAndSplitting(t *testing.T) {
	t.Parallel()
	in, out := sessionTopology(t, "sessions", window.Session(10*time.Second).WithGrace(time.Minute), window.EmitOnUpdate)
	require.NoError(t, in.Pipe("a", 1, sec(0)))
	require.NoError(t, in.Pipe("a", 2, sec(5)))   // joins [0,0]
	require.NoError(t, in.Pipe("a", 4, sec(25)))  // 20 s after: a new session
	require.NoError(t, in.Pipe("a", 8, sec(15)))  // out of order, within 10 s of both: merges them
	require.NoError(t, in.Pipe("a", 32, sec(36))) // 11 s after the merged session: a new one
	require.NoError(t, in.Pipe("b", 16, sec(21))) // another key, its own session
	require.Equal(t, []string{
		"a@0-0=1",
		"a@0-0=0", "a@0-5=3", // [0,0] is retracted: [0,5] replaces it
		"a@25-25=4",
		"a@0-5=0", "a@25-25=0", "a@0-25=15", // both retracted, then the merged session
		"a@36-36=32",
		"b@21-21=16",
	}, sessions(t, out))
	require.NoError(t, in.Pipe("a", 64, sec(10))) // inside [0,25]: same session, nothing to retract
	require.Equal(t, []string{"a@0-25=79"}, sessions(t, out))
}

// Final results: each session once, when stream time passes its end + gap
// + grace; a record for a closed session is late.
func TestSessionEmitOnClose(t *testing.T) {
	t.Parallel()
	const name = "session-final"
	late := lateSince(name)
	in, out := sessionTopology(t, name, window.Session(10*time.Second).WithGrace(5*time.Second), window.EmitOnWindowClose)
	require.NoError(t, in.Pipe("a", 1, sec(0)))
	require.NoError(t, in.Pipe("a", 2, sec(8)))
	require.NoError(t, in.Pipe("b", 4, sec(22)))
	require.NoError(t, in.Pipe("b", 8, sec(23)))
	require.Empty(t, sessions(t, out), "[0,8] is open until stream time passes 8+10+5 = 23 s")
	require.NoError(t, in.Pipe("c", 0, sec(24)))
	require.Equal(t, []string{"a@0-8=3"}, sessions(t, out))
	require.NoError(t, in.Pipe("a", 16, sec(5))) // its session closed after 23 s: late
	require.Equal(t, int64(1), late())
	require.NoError(t, in.Pipe("a", 64, sec(9))) // [0,8] has closed: a new session, still open
	require.NoError(t, in.Pipe("d", 32, sec(60)))
	require.Equal(t, []string{"a@9-9=64", "b@22-23=12", "c@24-24=0"}, sessions(t, out), "oldest end first")
}

// A session reduction: the smallest value of each session, merges
// included, with no initial result.
func TestSessionReduce(t *testing.T) {
	t.Parallel()
	_, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		first, add := window.Reduce[string](func(agg, v int64) int64 { return min(agg, v) })
		return window.AddSessionAggregation(b, "min", window.SessionAggregation[string, int64, int64]{
			Windows: window.Session(10 * time.Second).WithGrace(time.Minute), Store: "min-store",
			KeySerde: serde.String(), AggSerde: serde.Int64(), First: first, Add: add,
			Merge: func(_ string, a, b int64) int64 { return min(a, b) },
		}, src)
	})
	require.NoError(t, in.Pipe("a", 7, sec(0)))
	require.NoError(t, in.Pipe("a", 9, sec(18)))
	require.NoError(t, in.Pipe("a", 8, sec(9))) // within 10 s of both: bridges them
	require.Equal(t, []string{"a@0-0=7", "a@18-18=9", "a@0-0=0", "a@18-18=0", "a@0-18=7"}, sessions(t, out),
		"the bridged sessions are retracted with the zero value")
}

// With a pointer result and serde.Nullable at the sink, the retraction of a
// replaced session is a Kafka tombstone: a null value under its key.
func TestSessionRetractionIsATombstone(t *testing.T) {
	t.Parallel()
	d, in, _ := windowDriver(t, quiet, serde.Nullable(serde.Int64()), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], *int64] {
		return window.AddSessionAggregation(b, "count", window.SessionAggregation[string, int64, *int64]{
			Windows: window.Session(10 * time.Second).WithGrace(time.Minute), Store: "count-store",
			KeySerde: serde.String(), AggSerde: serde.Nullable(serde.Int64()),
			Init:  func() *int64 { return new(int64) },
			Add:   func(_ string, _ int64, n *int64) *int64 { c := *n + 1; return &c },
			Merge: func(_ string, a, b *int64) *int64 { c := *a + *b; return &c },
		}, src)
	})
	raw := testdriver.CreateOutputTopic(d, "out", window.SessionWindowedSerde(serde.String()), serde.Bytes())
	require.NoError(t, in.Pipe("a", 0, sec(0)))
	require.NoError(t, in.Pipe("a", 0, sec(20)))
	require.NoError(t, in.Pipe("a", 0, sec(10))) // bridges [0,0] and [20,20]
	kvs, err := raw.ReadKeyValues()
	require.NoError(t, err)
	var got []string
	for _, kv := range kvs {
		v := "null"
		if kv.Value != nil {
			n, err := serde.Int64().Deserialize(kv.Value)
			require.NoError(t, err)
			v = fmt.Sprint(n)
		}
		got = append(got, fmt.Sprintf("%s@%d-%d=%s", kv.Key.Key, kv.Key.Start.Unix(), kv.Key.End.Unix(), v))
	}
	require.Equal(t, []string{"a@0-0=1", "a@20-20=1", "a@0-0=null", "a@20-20=null", "a@0-20=3"}, got)
}

// A table kept from the EmitOnUpdate results, where a retraction (a sum of
// 0: every value is at least 1) deletes its session, ends up holding
// exactly the final sessions EmitOnWindowClose emits for the same random
// input, out of order, some of it late.
func TestSessionUpdatesAndRetractionsMatchFinalResults(t *testing.T) {
	t.Parallel()
	const gap, grace = 1000, 400
	for seed := range int64(10) {
		rng := rand.New(rand.NewPCG(uint64(seed), 11))
		type rec struct {
			key  string
			t, v int64
		}
		var recs []rec
		now := int64(1_000_000)
		for range 200 {
			now += rng.Int64N(500)
			recs = append(recs, rec{fmt.Sprint("k", rng.IntN(3)), now - rng.Int64N(1800), 1 + rng.Int64N(100)})
		}
		recs = append(recs, rec{"flush", now + 100*gap, 1}) // closes every other session
		results := map[window.Emit]map[string]int64{}
		for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
			in, out := sessionTopology(t, fmt.Sprintf("session-table-%d-%d", seed, emit),
				window.Session(gap*time.Millisecond).WithGrace(grace*time.Millisecond), emit)
			for _, r := range recs {
				require.NoError(t, in.Pipe(r.key, r.v, time.UnixMilli(r.t)))
			}
			kvs, err := out.ReadKeyValues()
			require.NoError(t, err)
			table := map[string]int64{}
			for _, kv := range kvs {
				if kv.Key.Key == "flush" {
					continue
				}
				k := fmt.Sprintf("%s@%d-%d", kv.Key.Key, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli())
				if kv.Value == 0 {
					_, ok := table[k]
					require.True(t, ok, "seed %d: %s retracted but never emitted", seed, k)
					delete(table, k)
					continue
				}
				if emit == window.EmitOnWindowClose {
					_, again := table[k]
					require.False(t, again, "seed %d: %s emitted twice", seed, k)
				}
				table[k] = kv.Value
			}
			results[emit] = table
		}
		require.Greater(t, len(results[window.EmitOnWindowClose]), 20, "seed %d", seed)
		require.Equal(t, results[window.EmitOnWindowClose], results[window.EmitOnUpdate], "seed %d", seed)
	}
}

// Bug: once sessions closed a millisecond later (after end + gap + grace,
// as in Kafka Streams), the store still kept them for exactly gap + grace,
// so a record at exactly end + gap + grace evicted a session that had not
// been emitted yet, and EmitOnWindowClose lost it (found by the
// customer-metrics example's comparison). The store now keeps a session a
// millisecond longer.
func TestSessionEmitOnCloseAtTheRetentionEdge(t *testing.T) {
	t.Parallel()
	in, out := sessionTopology(t, "session-edge", window.Session(time.Minute).WithGrace(5*time.Second), window.EmitOnWindowClose)
	require.NoError(t, in.Pipe("a", 1, sec(0)))
	require.NoError(t, in.Pipe("b", 2, sec(65))) // exactly [0,0]'s end + gap + grace: still open
	require.Empty(t, sessions(t, out))
	require.NoError(t, in.Pipe("c", 4, sec(66)))
	require.Equal(t, []string{"a@0-0=1"}, sessions(t, out))
}
