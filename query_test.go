package streams_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Interactive queries: any goroutine reads the app's store across its
// tasks while it processes; after it caught up, the answers are the exact
// counts, in key order.
func TestQueryKeyValueAcrossTasksWhileProcessing(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 3))
	r := start(t, counting(t), config(t, c, "query"))
	q, err := streams.QueryKeyValue[string, int64](r.app, "counts")
	require.NoError(t, err)

	// Readers hammer the store while records flow: every scan is in key
	// order, and a key's count never goes down between scans.
	stop := make(chan struct{})
	// One instance, no rebalance after the start: no scan may fail, and
	// the readers must see data (they run from before the first record to
	// after the last).
	var scansWithData, scanErrors atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]int64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var keys []string
				for kv, err := range q.All() {
					if err != nil {
						scanErrors.Add(1)
						t.Errorf("scan: %v", err)
						break
					}
					keys = append(keys, kv.Key)
					if kv.Value < seen[kv.Key] {
						t.Errorf("%s went back from %d to %d", kv.Key, seen[kv.Key], kv.Value)
					}
					seen[kv.Key] = kv.Value
				}
				if !slices.IsSorted(keys) {
					t.Errorf("scan out of order: %v", keys)
				}
				if len(keys) > 0 {
					scansWithData.Add(1)
				}
			}
		}()
	}
	for round := range 5 {
		vs := make([]string, 60)
		for i := range vs {
			vs[i] = fmt.Sprintf("key-%02d", (round*60+i)%30)
		}
		produceValues(t, c, "in", false, vs...)
	}
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "query", "in", streams.RepartitionTopic("query", "by-key")))
	close(stop)
	wg.Wait()
	require.Zero(t, scanErrors.Load())
	require.Positive(t, scansWithData.Load(), "the readers saw data")

	var got []string
	for kv, err := range q.All() {
		require.NoError(t, err)
		require.Equal(t, int64(10), kv.Value, kv.Key)
		got = append(got, kv.Key)
	}
	require.Len(t, got, 30)
	require.True(t, slices.IsSorted(got))
	n, ok, err := q.Get("key-07")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(10), n)
	from, to := "key-10", "key-12"
	var ranged []string
	for kv, err := range q.Range(&from, &to) {
		require.NoError(t, err)
		ranged = append(ranged, kv.Key)
	}
	require.Equal(t, []string{"key-10", "key-11", "key-12"}, ranged)

	_, err = streams.QueryKeyValue[string, int64](r.app, "nope")
	require.ErrorIs(t, err, streams.ErrUnknownStore)
	wrong, err := streams.QueryKeyValue[string, string](r.app, "counts")
	require.NoError(t, err)
	_, _, err = wrong.Get("key-07")
	require.ErrorContains(t, err, `store "counts" is a`)
	require.NoError(t, r.stop(t))
}

// Each instance advertises its server; both agree on where every key
// lives, and the instance named holds the key (its local query finds it
// with the right count) while the other does not.
func TestQueryMetadataForKeyRoutesToTheOwner(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	repartition := streams.RepartitionTopic("owners", "by-key")
	cfgA, cfgB := config(t, c, "owners"), config(t, c, "owners")
	cfgA.ApplicationServer, cfgB.ApplicationServer = "a.example:1", "b.example:2"
	a := start(t, counting(t), cfgA)
	b := start(t, counting(t), cfgB)
	apps := map[string]*streams.App{"a.example:1": a.app, "b.example:2": b.app}
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%02d", i)
	}
	// During a rebalance answers may be in flux (a task moving between the
	// instances); once the group settles they hold for every key.
	round := 0
	require.Eventually(t, func() bool {
		produceValues(t, c, "in", false, keys...)
		round++
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "owners", "in", repartition))
		servers := map[string]bool{}
		for _, k := range keys {
			ma, errA := streams.QueryMetadataForKey(a.app, "counts", k, serde.String())
			mb, errB := streams.QueryMetadataForKey(b.app, "counts", k, serde.String())
			if errA != nil || errB != nil || ma.Server != mb.Server || ma.Task != mb.Task || ma.Local == mb.Local {
				return false
			}
			servers[ma.Server] = true
			for server, app := range apps {
				q, err := streams.QueryKeyValue[string, int64](app, "counts")
				require.NoError(t, err)
				n, ok, err := q.Get(k)
				if err != nil || ok != (server == ma.Server) || ok && n != int64(round) {
					return false
				}
			}
		}
		return len(servers) == 2 // both instances hold keys
	}, 30*time.Second, 50*time.Millisecond, "both instances agree on every key's owner, and the owner (only) holds it")

	_, err := streams.QueryMetadataForKey(a.app, "nope", "k", serde.String())
	require.ErrorIs(t, err, streams.ErrUnknownStore)
	require.NoError(t, b.stop(t))
	require.NoError(t, a.stop(t))
}

// A DSL count's store (a timestamped one) read with plain values scans
// across the tasks of this instance in key order, as it does with
// timestamps. The bug: the merged scan needed each task's store to be one
// the builders made, and the plain-values wrapper was not, so every scan
// over two or more local tasks failed ("MergeKeyValue scans need stores
// made by the state builders, not streams.valuesOnly[string,int64]").
func TestQueryKeyValueScansATimestampedStoreWithPlainValues(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := ctxT(t)
	require.NoError(t, c.CreateTopic(ctx, "lines", 3))
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"lines"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	kstream.GroupBy(kstream.FlatMapValues(lines, strings.Fields), func(_, w string) string { return w }).
		Count(kstream.Materialized[string, int64]{Name: "Counts"})
	topo, err := sb.Build()
	require.NoError(t, err)
	var words []string
	for i := range 30 {
		words = append(words, fmt.Sprintf("w%02d", i%10))
	}
	produceValues(t, c, "lines", true, words...)
	r := start(t, topo, config(t, c, "query-plain"))
	require.NoError(t, c.WaitCaughtUp(ctx, "query-plain", "lines", streams.RepartitionTopic("query-plain", "Counts")))
	require.Len(t, r.app.LocalThreadsMetadata()[0].ActiveTasks, 6, "3 tasks per sub-topology: the scans merge 3 stores")

	plain, err := streams.QueryKeyValue[string, int64](r.app, "Counts")
	require.NoError(t, err)
	stamped, err := streams.QueryKeyValue[string, state.ValueAndTimestamp[int64]](r.app, "Counts")
	require.NoError(t, err)
	var got, gotStamped []string
	for kv, err := range plain.All() {
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%s=%d", kv.Key, kv.Value))
	}
	for kv, err := range stamped.All() {
		require.NoError(t, err)
		gotStamped = append(gotStamped, fmt.Sprintf("%s=%d", kv.Key, kv.Value.Value))
	}
	require.Equal(t, []string{"w00=3", "w01=3", "w02=3", "w03=3", "w04=3", "w05=3", "w06=3", "w07=3", "w08=3", "w09=3"}, got)
	require.Equal(t, got, gotStamped)
	from, to := "w03", "w05"
	var ranged []string
	for kv, err := range plain.ReverseRange(&from, &to) {
		require.NoError(t, err)
		ranged = append(ranged, kv.Key)
	}
	require.Equal(t, []string{"w05", "w04", "w03"}, ranged)
	n, ok, err := plain.Get("w07")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, n)
	require.NoError(t, r.stop(t))
}
