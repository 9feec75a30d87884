package kstream_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/window"
)

// An outer join stopped mid-way and started again on a fresh state
// directory restores its stores from their changelogs: the records still
// waiting for a partner get theirs, or their result once their window
// closes, and the results emitted before the stop are not emitted again.
func TestStreamJoinSurvivesARestart(t *testing.T) {
	for _, g := range []eos.Guarantee{eos.AtLeastOnce, eos.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			ctx, c := startCluster(t, 1, "orders", "payments", "matched")
			produce := func(topic, key, value string, at time.Duration) {
				require.NoError(t, c.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: t0.Add(at)}))
			}
			appID := "join-restart-" + strings.ToLower(g.String())
			run := func() {
				sb := kstream.NewStreamsBuilder()
				kstream.OuterJoin(kstream.Stream(sb, []string{"orders"}, strs), kstream.Stream(sb, []string{"payments"}, strs),
					func(_ string, o string, hasO bool, p string, hasP bool) string {
						if !hasO {
							o = "null"
						}
						if !hasP {
							p = "null"
						}
						return o + "+" + p
					}, window.JoinTimeDifferenceWithNoGrace(5*time.Second)).To("matched")
				topo, err := sb.Build()
				require.NoError(t, err)
				app, err := streams.New(topo, appConfig(t, c, appID, g)) // a fresh state dir each time
				require.NoError(t, err)
				require.NoError(t, c.RunUntilCaughtUp(ctx, app, appID, "orders", "payments"))
			}
			results := func() []string {
				recs, err := c.ReadAll(ctx, "matched")
				require.NoError(t, err)
				var out []string
				for _, r := range recs {
					out = append(out, fmt.Sprintf("%s:%s@%v", r.Key, r.Value, r.Timestamp.Sub(t0)))
				}
				return out
			}

			produce("orders", "a", "o1", 0)
			produce("payments", "a", "p1", time.Second)   // o1+p1
			produce("orders", "b", "o2", 2*time.Second)   // never paid
			produce("payments", "c", "p3", 3*time.Second) // never ordered
			produce("orders", "x", "o9", 10*time.Second)  // closes o2's and p3's windows
			produce("orders", "d", "o4", 11*time.Second)  // paid after the restart
			run()
			before := []string{"a:o1+p1@1s", "b:o2+null@2s", "c:null+p3@3s"}
			require.Equal(t, before, results())

			produce("payments", "d", "p4", 12*time.Second)  // meets o4, restored
			produce("orders", "y", "o10", 20*time.Second)   // closes o9's window
			produce("payments", "z", "p20", 40*time.Second) // closes o10's
			run()
			got := results()
			require.Equal(t, before, got[:3], "the first run's results, once")
			require.ElementsMatch(t, []string{"d:o4+p4@12s", "x:o9+null@10s", "y:o10+null@20s"}, got[3:])
			require.Len(t, got, 6, "nothing twice: o2 and p3 were removed from the shared store before the restart")
		})
	}
}

// Both sides of a join must be partitioned alike. A side whose key changed
// is repartitioned, through a topic with as many partitions as the other
// side's; sides read as they are with different partition counts are an
// error when the app starts, naming both topics and counts.
func TestStreamJoinCopartitioning(t *testing.T) {
	t.Parallel()
	ctx, c := startCluster(t, 2, "two")
	require.NoError(t, c.CreateTopic(ctx, "three", 3))
	require.NoError(t, c.CreateTopic(ctx, "joined", 1))
	var recs []*kgo.Record
	for i := range 10 {
		k := fmt.Sprint("k", i)
		recs = append(recs,
			&kgo.Record{Topic: "two", Key: []byte("x" + k), Value: []byte("L" + k), Timestamp: t0},
			&kgo.Record{Topic: "three", Key: []byte(k), Value: []byte("R" + k), Timestamp: t0})
	}
	require.NoError(t, c.Produce(ctx, recs...))
	concat := func(_ string, l, r string) string { return l + "+" + r }
	w := window.JoinTimeDifferenceWithNoGrace(time.Minute)

	t.Run("repartitioned", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		rekeyed := kstream.SelectKey(kstream.Stream(sb, []string{"two"}, strs), func(k, _ string) string { return strings.TrimPrefix(k, "x") })
		kstream.Join(rekeyed, kstream.Stream(sb, []string{"three"}, strs), concat, w).To("joined")
		topo, err := sb.Build()
		require.NoError(t, err)
		const appID = "copart"
		repartition := streams.RepartitionTopic(appID, "KSTREAM-KEY-SELECT-0000000001")
		app, err := streams.New(topo, appConfig(t, c, appID, eos.AtLeastOnce))
		require.NoError(t, err)
		require.NoError(t, c.RunUntilCaughtUp(ctx, app, appID, "two", "three", repartition))
		topics, err := c.Admin().ListTopics(ctx, repartition)
		require.NoError(t, err)
		require.Len(t, topics[repartition].Partitions, 3, "as many as the other side's topic")
		got, err := c.ReadAll(ctx, "joined")
		require.NoError(t, err)
		var values []string
		for _, r := range got {
			values = append(values, string(r.Value))
		}
		slices.Sort(values)
		var want []string
		for i := range 10 {
			want = append(want, fmt.Sprintf("Lk%d+Rk%d", i, i))
		}
		require.Equal(t, want, values)
	})
	t.Run("mismatched", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		kstream.Join(kstream.Stream(sb, []string{"two"}, strs), kstream.Stream(sb, []string{"three"}, strs), concat, w).To("joined")
		topo, err := sb.Build()
		require.NoError(t, err)
		app, err := streams.New(topo, appConfig(t, c, "mismatched", eos.AtLeastOnce))
		require.NoError(t, err)
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err = app.Run(runCtx)
		require.ErrorContains(t, err, "must have the same partition count, but three has 3, two has 2")
	})
}
