package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/pgtest"
	"github.com/gostreams/streams/sink/postgres"
)

// -postgres: the customer_metrics table equals the final metrics of the
// example's Kafka output for the same input, and the sink's offsets table
// ends at the end of the topic it read.
func TestRunWritesTheMetricsIntoPostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	pool := srv.Pool(t, url)

	// Two runs, each on a new in-process cluster, with other orders: the
	// second's table is the second's output, not a mix.
	for run, seed := range []uint64{6, 5} {
		runWithPostgres(t, url, pool, seed, 200-50*run)
	}
}

func runWithPostgres(t *testing.T, url string, pool *pgxpool.Pool, seed uint64, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	customers := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var sb strings.Builder
	for i := range n {
		ts := start.Add(time.Duration(rng.IntN(24*3600)) * time.Second)
		o := testOrder{fmt.Sprintf("o-%d", i), customers[rng.IntN(len(customers)-int(seed%2))], rng.Int64N(100000), ts.Format(time.RFC3339)}
		sb.WriteString(o.jsonLine() + "\n")
	}
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o644))

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{input: path, appID: "customermetrics-pg", partitions: 3, timeout: time.Minute, postgres: url}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	final := map[string]Metrics{}
	lines := metricsLines(stdout.String())
	require.Len(t, lines, n)
	for _, line := range lines {
		m := outputLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		var v Metrics
		require.NoError(t, json.Unmarshal([]byte(m[2]), &v))
		final[v.CustomerID] = v
	}

	rows, err := pool.Query(context.Background(), `SELECT customer_id, total_orders, total_spent::text, last_order_time, average_order_value FROM customer_metrics`)
	require.NoError(t, err)
	got := map[string]Metrics{}
	for rows.Next() {
		var m Metrics
		var spent string
		require.NoError(t, rows.Scan(&m.CustomerID, &m.TotalOrders, &spent, &m.LastOrderTime, &m.AverageOrderValue))
		require.Equal(t, fmt.Sprintf("%.2f", final[m.CustomerID].TotalSpent), spent, "customer %s: the amount is exact", m.CustomerID)
		m.TotalSpent = final[m.CustomerID].TotalSpent
		m.LastOrderTime = m.LastOrderTime.UTC()
		got[m.CustomerID] = m
	}
	require.NoError(t, rows.Err())
	require.Equal(t, final, got)
	require.Contains(t, stderr.String(), fmt.Sprintf("table customer_metrics holds %d customers", len(final)))

	stored, err := postgres.StoredOffsets(context.Background(), pool, "", "customermetrics-pg")
	require.NoError(t, err)
	var sum int64
	for tp, off := range stored {
		require.Equal(t, OutputTopic, tp.Topic)
		sum += off
	}
	// Under exactly-once each partition's end is past its records by the
	// transaction markers: at least one offset per record.
	require.Len(t, stored, 3)
	require.GreaterOrEqual(t, sum, int64(n))
}

func TestRunReportsABadPostgresURL(t *testing.T) {
	err := run(context.Background(), options{appID: "x", partitions: 1, timeout: 10 * time.Second, postgres: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, `-postgres "postgres://nobody@127.0.0.1:1/none`)
	require.ErrorContains(t, err, "creating the table customer_metrics")
}
