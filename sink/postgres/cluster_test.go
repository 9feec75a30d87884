package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/internal/pgtest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
)

// logBuffer collects an app's logs, safe for its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func startCluster(t *testing.T, partitions int32, topics ...string) (context.Context, *embedded.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	for _, topic := range topics {
		require.NoError(t, c.CreateTopic(ctx, topic, partitions))
	}
	return ctx, c
}

func produce(t *testing.T, ctx context.Context, c *embedded.Cluster, topic string, from, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		v, err := serde.Int64().Serialize(int64(i))
		require.NoError(t, err)
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%7), Value: v})
	}
	require.NoError(t, c.Produce(ctx, recs...))
}

// runApp runs an app of the events topology (orders into the events
// table, exactly once) until stop is called; stop returns Run's error.
func runApp(t *testing.T, ctx context.Context, c *embedded.Cluster, pool *pgxpool.Pool, appID, stateDir string, g eos.Guarantee, logs *logBuffer) (stop func() error) {
	t.Helper()
	top := sinkTopologyOn(t, "orders", postgres.Sink[string, int64]{Pool: pool, Write: insertEvent})
	app, err := streams.New(top, streams.Config{
		ApplicationID: appID, Brokers: c.Addrs(), StateDir: stateDir, Guarantee: g,
		CommitInterval: 50 * time.Millisecond, TaskTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitRows(t *testing.T, pool *pgxpool.Pool, want int64, logs *logBuffer) {
	t.Helper()
	var n int64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err == nil && n >= want {
			break
		}
	}
	require.Equal(t, want, n, "rows in events; the app logged:\n%s", logs.b.String())
}

func endOffsets(t *testing.T, ctx context.Context, c *embedded.Cluster, topic string) map[processor.TopicPartition]int64 {
	t.Helper()
	ends, err := c.Admin().ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	out := map[processor.TopicPartition]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		out[processor.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
	})
	return out
}

// The app writes every record once, the offsets table ends at the topic's
// end, the group's offsets follow it, and a restart starts from the
// database's offsets, not the group's: with the group's offsets set back to
// the start, nothing is written twice (the events table's primary key would
// fail the app).
func TestExactlyOnceSinkOnKafka(t *testing.T) {
	for _, g := range []eos.Guarantee{eos.AtLeastOnce, eos.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			ctx, c := startCluster(t, 3, "orders")
			pool := newDB(t)
			exec(t, pool, eventsDDL)
			appID := "pg-" + strings.ToLower(g.String())
			stateDir := t.TempDir()
			logs := &logBuffer{}

			produce(t, ctx, c, "orders", 0, 300)
			stop := runApp(t, ctx, c, pool, appID, stateDir, g, logs)
			waitRows(t, pool, 300, logs)
			ends := endOffsets(t, ctx, c, "orders")
			require.Eventually(t, func() bool {
				stored, err := postgres.StoredOffsets(ctx, pool, "", appID)
				return err == nil && fmt.Sprint(stored) == fmt.Sprint(ends)
			}, 10*time.Second, 20*time.Millisecond, "the offsets table ends at the topic's end")
			require.NoError(t, c.WaitCaughtUp(ctx, appID, "orders"), "the group's offsets follow, for lag monitoring")
			require.NoError(t, stop())

			// The group forgets where it was.
			rewind := kadm.Offsets{}
			for tp := range ends {
				rewind.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: 0, LeaderEpoch: -1})
			}
			resp, err := c.Admin().CommitOffsets(ctx, appID, rewind)
			require.NoError(t, err)
			require.NoError(t, resp.Error())

			produce(t, ctx, c, "orders", 300, 60)
			stop = runApp(t, ctx, c, pool, appID, stateDir, g, logs)
			waitRows(t, pool, 360, logs)
			require.NoError(t, c.WaitCaughtUp(ctx, appID, "orders"))
			require.NoError(t, stop())
			require.EqualValues(t, 360, count(t, pool, `SELECT count(DISTINCT (topic, part, off)) FROM events`))
			require.EqualValues(t, 359*360/2, count(t, pool, `SELECT sum(v) FROM events`))
		})
	}
}

// The database goes away for a few seconds while records flow: the task
// retries its commit, then goes on, with nothing lost or doubled.
func TestDatabaseOutageIsRetried(t *testing.T) {
	ctx, c := startCluster(t, 2, "orders")
	srv := pgtest.Start(t)
	pool := srv.Pool(t, srv.NewDatabase(t))
	exec(t, pool, eventsDDL)
	logs := &logBuffer{}
	stop := runApp(t, ctx, c, pool, "pg-outage", t.TempDir(), eos.ExactlyOnce, logs)

	produce(t, ctx, c, "orders", 0, 100)
	waitRows(t, pool, 100, logs)

	srv.Stop(t)
	produce(t, ctx, c, "orders", 100, 100)
	require.Eventually(t, func() bool { return logs.count("external commit failed; retrying") > 0 }, 20*time.Second, 20*time.Millisecond,
		"the app saw the database go away")
	time.Sleep(3 * time.Second)
	srv.StartAgain(t)
	produce(t, ctx, c, "orders", 200, 100)

	waitRows(t, pool, 300, logs)
	require.NoError(t, c.WaitCaughtUp(ctx, "pg-outage", "orders"))
	require.NoError(t, stop())
	require.Positive(t, logs.count("external commit succeeded after retries"), logs.b.String())
	require.EqualValues(t, 299*300/2, count(t, pool, `SELECT sum(v) FROM events`))
	stored, err := postgres.StoredOffsets(ctx, pool, "", "pg-outage")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(endOffsets(t, ctx, c, "orders")), fmt.Sprint(stored))
}
