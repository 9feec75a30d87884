package kstream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// On the embedded cluster, under each guarantee: a stream re-grouped by
// word (a repartition of plain records) and a table re-grouped by region
// (a repartition of changes, old and new values) count exactly, across
// three partitions, and their stores answer interactive queries.
func TestGroupingWithRepartitionOnKafka(t *testing.T) {
	for _, g := range []eos.Guarantee{eos.AtMostOnce, eos.AtLeastOnce, eos.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			ctx, c := startCluster(t, 3, "lines", "users", "word-counts", "region-counts")
			lines := []string{"a b c", "b c", "c", "A  B", "d"}
			var recs []*kgo.Record
			for i, l := range lines {
				recs = append(recs, &kgo.Record{Topic: "lines", Key: []byte(fmt.Sprint(i)), Value: []byte(l)})
			}
			// alice moves from eu to us, bob is deleted, carol stays.
			for _, u := range []struct{ user, region string }{{"alice", "eu"}, {"bob", "eu"}, {"carol", "us"}, {"alice", "us"}, {"bob", ""}} {
				r := &kgo.Record{Topic: "users", Key: []byte(u.user)}
				if u.region != "" {
					r.Value = []byte(u.region)
				}
				recs = append(recs, r)
			}
			require.NoError(t, c.Produce(ctx, recs...))

			sb := kstream.NewStreamsBuilder()
			words := kstream.FlatMapValues(kstream.Stream(sb, []string{"lines"}, strs), func(l string) []string { return strings.Fields(strings.ToLower(l)) })
			kstream.GroupBy(words, func(_, w string) string { return w }).Count(kstream.Materialized[string, int64]{Name: "words"}).
				ToStream().To("word-counts")
			users := kstream.Table(sb, "users", strs)
			kstream.GroupByTable(users, func(_, region string) (string, string) { return region, region }).
				Count(kstream.Materialized[string, int64]{Name: "regions"}).ToStream().To("region-counts")
			topo, err := sb.Build()
			require.NoError(t, err)

			appID := "dsl-" + strings.ToLower(g.String())
			app, err := streams.New(topo, appConfig(t, c, appID, g))
			require.NoError(t, err)
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			runErr := make(chan error, 1)
			go func() { runErr <- app.Run(runCtx) }()
			require.NoError(t, c.WaitCaughtUp(ctx, appID, "lines", "users",
				streams.RepartitionTopic(appID, "words"), streams.RepartitionTopic(appID, "regions")))

			// The stores answer queries, plain or with timestamps.
			wordStore, err := streams.QueryKeyValue[string, int64](app, "words")
			require.NoError(t, err)
			regions, err := streams.QueryKeyValue[string, state.ValueAndTimestamp[int64]](app, "regions")
			require.NoError(t, err)
			// At most once commits offsets before processing: the group can
			// be caught up before the stores are. Poll, on this goroutine.
			var n int64
			var us state.ValueAndTimestamp[int64]
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				var err1, err2 error
				n, _, err1 = wordStore.Get("c")
				us, _, err2 = regions.Get("us")
				require.NoError(t, err1)
				require.NoError(t, err2)
				if n == 3 && us.Value == 2 {
					break
				}
			}
			require.Equal(t, int64(3), n)
			require.Equal(t, int64(2), us.Value)
			require.False(t, us.Timestamp.IsZero())

			// Stopped, the app has flushed everything (at most once commits
			// its offsets before it processes, so caught-up offsets do not
			// mean flushed output).
			stop()
			require.NoError(t, <-runErr)
			require.Equal(t, map[string]int64{"a": 2, "b": 3, "c": 3, "d": 1}, lastCounts(t, ctx, c, "word-counts"))
			require.Equal(t, map[string]int64{"eu": 0, "us": 2}, lastCounts(t, ctx, c, "region-counts"))
			if g != eos.AtMostOnce {
				recs, err := c.ReadAll(ctx, "word-counts")
				require.NoError(t, err)
				require.Len(t, recs, 9, "one count per word, none twice")
			}
		})
	}
}

// startCluster starts an embedded cluster, closed with the test, with
// topics of partitions partitions, and a context that ends with the test
// or in two minutes.
func startCluster(t *testing.T, partitions int32, topics ...string) (context.Context, *embedded.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	for _, topic := range topics {
		require.NoError(t, c.CreateTopic(ctx, topic, partitions))
	}
	return ctx, c
}

// appConfig is an App's configuration on c, in a state directory of its
// own, committing every 50 ms, quiet.
func appConfig(t *testing.T, c *embedded.Cluster, appID string, g eos.Guarantee) streams.Config {
	return streams.Config{
		ApplicationID: appID, Brokers: c.Addrs(), StateDir: t.TempDir(), Guarantee: g,
		CommitInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// lastCounts reads topic (read_committed) and keeps each key's last count.
func lastCounts(t *testing.T, ctx context.Context, c *embedded.Cluster, topic string) map[string]int64 {
	t.Helper()
	recs, err := c.ReadAll(ctx, topic)
	require.NoError(t, err)
	got := map[string]int64{}
	for _, r := range recs {
		n, err := serde.Int64().Deserialize(r.Value)
		require.NoError(t, err)
		got[string(r.Key)] = n
	}
	return got
}

// restoreCounter adds up the records each store restored, and from which
// topics.
type restoreCounter struct {
	mu      sync.Mutex
	records map[string]int64
	topics  map[string]bool
}

func (r *restoreCounter) OnRestoreStart(streams.RestoreEvent)  {}
func (r *restoreCounter) OnBatchRestored(streams.RestoreEvent) {}
func (r *restoreCounter) OnRestoreEnd(e streams.RestoreEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records[e.Store] += e.Records
	r.topics[e.Topic] = true
}

// A table read from a topic has no changelog of its own: a fresh instance
// restores it from the topic, up to what the app committed there, and
// processes the rest, so nothing is forwarded twice.
func TestTableRestoresFromItsSourceTopic(t *testing.T) {
	for _, g := range []eos.Guarantee{eos.AtLeastOnce, eos.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			ctx, c := startCluster(t, 3, "users", "users-out")
			produce := func(kvs ...[2]string) {
				var recs []*kgo.Record
				for _, kv := range kvs {
					r := &kgo.Record{Topic: "users", Key: []byte(kv[0])}
					if kv[1] != "" {
						r.Value = []byte(kv[1])
					}
					recs = append(recs, r)
				}
				require.NoError(t, c.Produce(ctx, recs...))
			}
			appID := "table-src-" + strings.ToLower(g.String())
			// run runs the app until it caught up on "users", then until
			// ready says its store shows that (under exactly-once the group's
			// offsets commit in the transaction, and the store applies the
			// commit right after, so a query can trail the offsets for a
			// moment), then checks it.
			run := func(ready func(app *streams.App) bool, check func(app *streams.App)) *restoreCounter {
				sb := kstream.NewStreamsBuilder()
				kstream.Table(sb, "users", strs, kstream.Materialized[string, string]{Name: "users-store"}).ToStream().
					To("users-out", kstream.Produced[string, string]{ValueSerde: serde.String()})
				topo, err := sb.Build()
				require.NoError(t, err)
				rc := &restoreCounter{records: map[string]int64{}, topics: map[string]bool{}}
				cfg := appConfig(t, c, appID, g) // a fresh state dir: a full restore
				cfg.RestoreListener = rc
				app, err := streams.New(topo, cfg)
				require.NoError(t, err)
				runCtx, stop := context.WithCancel(ctx)
				runErr := make(chan error, 1)
				go func() { runErr <- app.Run(runCtx) }()
				require.NoError(t, c.WaitCaughtUp(ctx, appID, "users"))
				for deadline := time.Now().Add(10 * time.Second); !ready(app) && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				check(app)
				stop()
				require.NoError(t, <-runErr)
				return rc
			}
			get := func(app *streams.App, key string) (string, bool) {
				q, err := streams.QueryKeyValue[string, string](app, "users-store")
				require.NoError(t, err)
				v, ok, err := q.Get(key)
				require.NoError(t, err)
				return v, ok
			}
			// shows is a probe for run's ready: no failing, only looking.
			shows := func(key, want string) func(app *streams.App) bool {
				return func(app *streams.App) bool {
					q, err := streams.QueryKeyValue[string, string](app, "users-store")
					if err != nil {
						return false
					}
					v, ok, err := q.Get(key)
					return err == nil && ok == (want != "") && v == want
				}
			}

			produce([2]string{"alice", "eu"}, [2]string{"bob", "eu"}, [2]string{"carol", "us"})
			first := run(shows("bob", "eu"), func(app *streams.App) {
				v, ok := get(app, "bob")
				require.True(t, ok)
				require.Equal(t, "eu", v)
			})
			require.Zero(t, first.records["users-store"], "nothing committed yet: nothing to restore")

			topics, err := c.Admin().ListTopics(ctx)
			require.NoError(t, err)
			require.NotContains(t, topics.Names(), streams.ChangelogTopic(appID, "users-store"), "the table writes no changelog")

			produce([2]string{"alice", "us"}, [2]string{"bob", ""})
			second := run(func(app *streams.App) bool { return shows("alice", "us")(app) && shows("bob", "")(app) }, func(app *streams.App) {
				v, ok := get(app, "alice")
				require.True(t, ok)
				require.Equal(t, "us", v)
				_, ok = get(app, "bob")
				require.False(t, ok, "bob's tombstone deleted him")
				v, ok = get(app, "carol")
				require.True(t, ok, "carol was restored from the topic")
				require.Equal(t, "us", v)
			})
			require.Equal(t, int64(3), second.records["users-store"], "the three committed records, restored from the topic")
			require.Equal(t, map[string]bool{"users": true}, second.topics)

			// Each input record reached the output once: the restored ones
			// were not processed again.
			recs, err := c.ReadAll(ctx, "users-out")
			require.NoError(t, err)
			require.Len(t, recs, 5)
		})
	}
}

// A suppression's buffer is change-logged: what an instance held when it
// stopped, a fresh instance restores and emits, once.
func TestSuppressionBufferSurvivesARestart(t *testing.T) {
	t.Parallel()
	ctx, c := startCluster(t, 1, "clicks", "held")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	produce := func(key string, at time.Duration) {
		require.NoError(t, c.Produce(ctx, &kgo.Record{Topic: "clicks", Key: []byte(key), Value: []byte("x"), Timestamp: t0.Add(at)}))
	}
	const appID = "suppress-restart"
	run := func() {
		sb := kstream.NewStreamsBuilder()
		kstream.Stream(sb, []string{"clicks"}, strs).GroupByKey().Count().
			Suppress(kstream.UntilTimeLimit(time.Minute, kstream.BufferConfig{})).ToStream().To("held")
		topo, err := sb.Build()
		require.NoError(t, err)
		app, err := streams.New(topo, appConfig(t, c, appID, eos.ExactlyOnce))
		require.NoError(t, err)
		require.NoError(t, c.RunUntilCaughtUp(ctx, app, appID, "clicks"))
	}
	produce("a", 0)
	produce("a", 10*time.Second)
	run() // holds a=2: the limit has not passed
	recs, err := c.ReadAll(ctx, "held")
	require.NoError(t, err)
	require.Empty(t, recs)

	produce("b", 70*time.Second) // a's first held update was at 0: out it goes
	run()                        // a fresh instance: the buffer comes from its changelog
	recs, err = c.ReadAll(ctx, "held")
	require.NoError(t, err)
	require.Len(t, recs, 1, "a, once")
	require.Equal(t, "a", string(recs[0].Key))
	n, err := serde.Int64().Deserialize(recs[0].Value)
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "the count held before the restart")
}

// A stream-table join with a grace period on Kafka, exactly once, across
// restarts of fresh instances (no local state): the versioned table and
// the held stream records come back from their changelogs, and each held
// record is joined once, to the row as of its time, when stream time has
// passed it by the grace period.
func TestStreamTableJoinSurvivesRestarts(t *testing.T) {
	t.Parallel()
	ctx, c := startCluster(t, 2, "rows", "events", "joined")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	produce := func(topic, key, value string, at time.Duration) {
		t.Helper()
		require.NoError(t, c.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: t0.Add(at)}))
	}
	const appID = "join-restart"
	run := func() {
		t.Helper()
		sb := kstream.NewStreamsBuilder()
		rows := kstream.Table(sb, "rows", strs, kstream.Materialized[string, string]{Name: "rows", Versioned: true, HistoryRetention: time.Hour})
		events := kstream.Stream(sb, []string{"events"}, strs)
		kstream.JoinTable(events, rows, func(_, e, r string) string { return e + "+" + r },
			kstream.Joined[string, string, string]{Name: "join", GracePeriod: 10 * time.Second}).
			To("joined", kstream.Produced[string, string]{ValueSerde: serde.String()})
		topo, err := sb.Build()
		require.NoError(t, err)
		app, err := streams.New(topo, appConfig(t, c, appID, eos.ExactlyOnce))
		require.NoError(t, err)
		require.NoError(t, c.RunUntilCaughtUp(ctx, app, appID, "rows", "events"))
	}
	joined := func() map[string]string {
		t.Helper()
		recs, err := c.ReadAll(ctx, "joined")
		require.NoError(t, err)
		out := map[string]string{} // value@key → key
		for _, r := range recs {
			id := string(r.Value) + "@" + string(r.Key)
			_, dup := out[id]
			require.False(t, dup, "%s joined twice", id)
			out[id] = string(r.Key)
		}
		return out
	}
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	for _, k := range keys {
		produce("rows", k, "v1", 0)
	}
	for _, k := range keys {
		for s := 1; s <= 5; s++ {
			produce("events", k, fmt.Sprintf("e%d", s), time.Duration(s)*time.Second)
		}
	}
	run()
	require.Empty(t, joined(), "stream time 5s: every event is held for its 10s of grace")

	for _, k := range keys {
		produce("rows", k, "v2", 3*time.Second) // a version from before the held events' end
	}
	run()
	require.Empty(t, joined(), "table updates do not move the join's stream time")

	for _, k := range keys {
		produce("events", k, "late", 30*time.Second) // stream time 30s: out with everything up to 20s
	}
	run()
	want := map[string]string{}
	for _, k := range keys {
		for s := 1; s <= 5; s++ {
			v := "v1"
			if s >= 3 {
				v = "v2"
			}
			want[fmt.Sprintf("e%d+%s", s, v)+"@"+k] = k
		}
	}
	require.Equal(t, want, joined())
}
