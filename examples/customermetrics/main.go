// Command customermetrics computes customer and category metrics over a
// stream of order events with the customer-metrics topology (see Topology),
// exactly once, on Kafka, by event time, and prints every record of its
// four output topics. The topology is written in the DSL, package kstream
// (see README.md).
//
// With no -brokers flag it starts an in-process Kafka (kfake) on 127.0.0.1,
// so it runs on a fresh machine with nothing else installed:
//
//	go run ./examples/customermetrics                  # built-in sample of 20 orders
//	go run ./examples/customermetrics -input FILE      # the orders of FILE
//	go run ./examples/customermetrics -brokers host:9092
//	go run ./examples/customermetrics -describe=mermaid  # draw the topology
//
// Flags:
//
//	-input FILE       orders as JSON lines; default: the built-in sample
//	-brokers LIST     comma-separated host:port of an existing cluster; default: start one in-process
//	-partitions N     partitions of the topics it creates (default 1; see README.md before raising it)
//	-grace D          how late an order may come for its windows and sessions (default 5s)
//	-app-id ID        application id: consumer group and internal topic prefix (default "customermetrics")
//	-timeout D        give up if processing takes longer (default 2m)
//	-postgres URL     also write each customer's metrics into the table customer_metrics of this
//	                  PostgreSQL database, exactly once (see README.md); on the in-process Kafka
//	                  it empties the table and forgets the offsets of the last run first
//	-describe         print the topology and exit, in Kafka Streams' text format; with -postgres
//	                  its database sub-topology too (no connection is made)
//	-describe=F       the same in format F: text, mermaid (a Mermaid flowchart) or dot (a
//	                  Graphviz DOT graph); the '=' is needed: "-describe mermaid" is an error
//
// # Input
//
// One order per line, a JSON object:
//
//	{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:30:00Z"}
//
// customerId, amount and eventTime are required: amount is a number of whole
// cents from 0 to 1e12, eventTime an RFC 3339 time. Blank lines are
// skipped. Every line is checked before anything is produced; a bad one
// stops the command with an error naming its line number.
//
// It creates the topic "orders" and the four output topics (an existing
// topic is kept as it is), writes the orders to "orders" keyed by
// customerId, runs the app under exactly-once until every order is
// processed and committed, then reads the output topics from the beginning,
// read_committed.
//
// # Output
//
// Every record of the four topics, one JSON line each, topic by topic, in
// partition order and, within a partition, offset order:
//
//		{"topic": "customer-metrics", "key": "alice", "value": {"customerId":"alice","totalOrders":1,"totalSpent":19.99,"lastOrderTime":"2024-05-01T09:30:00Z","averageOrderValue":19.99}}
//		{"topic": "category-revenue-5m", "key": "books", "windowStart": "2024-05-01T09:30:00Z", "windowEnd": "2024-05-01T09:35:00Z", "value": {"orderCount":1,"totalRevenue":19.99,"avgOrderValue":19.99}}
//
//	  - customer-metrics, after each order of a customer: totalOrders,
//	    totalSpent (exact to the cent), lastOrderTime (the latest eventTime,
//	    in UTC, even when orders arrive out of order), averageOrderValue.
//	  - category-revenue-5m, per category and 5-minute tumbling window, once
//	    the window has closed: orderCount, totalRevenue, avgOrderValue.
//	  - category-revenue-1h, per category and hour-long window starting every
//	    10 minutes, once closed: orderCount, movingAvgRevenue (the window's
//	    revenue per order).
//	  - customer-sessions, per customer and session (orders less than 30
//	    minutes apart), once closed: ordersInSession, sessionTotal,
//	    sessionDurationMinutes (whole minutes from the first order to the
//	    last).
//
// A window closes when the stream time (the latest eventTime seen) passes
// its end plus the grace period; windows still open when the input ends are
// not printed. An order that comes after its windows closed is late: the
// windowed outputs leave it out (customer-metrics still counts it), and
// stderr says how many were dropped, with progress and each customer's
// final metrics.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/examples/internal/describeflag"
	"github.com/gostreams/streams/examples/internal/orders"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
	"github.com/gostreams/streams/window"
)

// sampleOrders are four customers' orders. Some arrive after later ones
// (o-1005, o-1011, o-1017), so lastOrderTime is not always the time of the
// last order processed.
const sampleOrders = `{"orderId":"o-1001","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:00:00Z"}
{"orderId":"o-1002","customerId":"bob","amount":250,"category":"electronics","eventTime":"2024-05-01T09:05:00Z"}
{"orderId":"o-1003","customerId":"carol","amount":5.5,"category":"grocery","eventTime":"2024-05-01T09:12:30Z"}
{"orderId":"o-1004","customerId":"alice","amount":42.1,"category":"garden","eventTime":"2024-05-01T10:15:00Z"}
{"orderId":"o-1005","customerId":"alice","amount":7.25,"category":"books","eventTime":"2024-05-01T09:45:00Z"}
{"orderId":"o-1006","customerId":"dave","amount":99.99,"category":"sports","eventTime":"2024-05-01T10:20:00Z"}
{"orderId":"o-1007","customerId":"bob","amount":12.49,"category":"grocery","eventTime":"2024-05-01T10:30:00Z"}
{"orderId":"o-1008","customerId":"carol","amount":64,"category":"clothing","eventTime":"2024-05-01T11:00:00Z"}
{"orderId":"o-1009","customerId":"dave","amount":15,"category":"books","eventTime":"2024-05-01T11:10:00Z"}
{"orderId":"o-1010","customerId":"alice","amount":0.1,"category":"apps","eventTime":"2024-05-01T11:30:00Z"}
{"orderId":"o-1011","customerId":"bob","amount":3.2,"category":"grocery","eventTime":"2024-05-01T08:55:00Z"}
{"orderId":"o-1012","customerId":"alice","amount":0.2,"category":"apps","eventTime":"2024-05-01T11:31:00Z"}
{"orderId":"o-1013","customerId":"carol","amount":120.75,"category":"electronics","eventTime":"2024-05-01T12:00:00+02:00"}
{"orderId":"o-1014","customerId":"dave","amount":8.8,"category":"grocery","eventTime":"2024-05-01T12:05:00Z"}
{"orderId":"o-1015","customerId":"bob","amount":45,"category":"clothing","eventTime":"2024-05-01T12:40:00Z"}
{"orderId":"o-1016","customerId":"carol","amount":33.33,"category":"books","eventTime":"2024-05-01T13:00:00Z"}
{"orderId":"o-1017","customerId":"dave","amount":60,"category":"sports","eventTime":"2024-05-01T09:30:00Z"}
{"orderId":"o-1018","customerId":"alice","amount":15.15,"category":"garden","eventTime":"2024-05-01T13:20:00Z"}
{"orderId":"o-1019","customerId":"bob","amount":1.99,"category":"apps","eventTime":"2024-05-01T13:45:00Z"}
{"orderId":"o-1020","customerId":"carol","amount":9.95,"category":"grocery","eventTime":"2024-05-01T14:00:00Z"}
`

type options struct {
	input      string
	brokers    string
	appID      string
	partitions int
	timeout    time.Duration
	grace      time.Duration
	postgres   string
	describe   describeflag.Format
}

func main() {
	o, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "customermetrics:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "customermetrics:", err)
		os.Exit(1)
	}
}

// parseFlags parses the flags from args with fs (flag.CommandLine in
// main). Arguments left after the flags are an error.
func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	fs.StringVar(&o.input, "input", "", "read orders, one JSON object per line, from `FILE` instead of the built-in sample")
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated `host:port` list of an existing cluster; default: start one in-process")
	fs.StringVar(&o.appID, "app-id", "customermetrics", "the application id (consumer group, internal topic prefix)")
	fs.IntVar(&o.partitions, "partitions", 1, "partitions of the topics, if they are created")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up if processing takes longer")
	fs.DurationVar(&o.grace, "grace", DefaultGrace, "how late an order may come for its windows and sessions")
	fs.StringVar(&o.postgres, "postgres", "", "also write each customer's metrics, exactly once, into the table customer_metrics of the PostgreSQL database at `URL`")
	describeflag.Var(fs, &o.describe)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q; %s", fs.Args(), cmp.Or(describeflag.Misplaced(o.describe, fs.Args()), "pass a file with -input"))
	}
	return o, nil
}

// describe writes the topology that run would run to stdout, in the
// format of -describe. With -postgres the topology has the database
// sub-topology, whose sink needs a pool to be built but makes no
// connection until it runs: the pool is made with none to keep open.
func describe(o options, stdout io.Writer) error {
	var pool *pgxpool.Pool
	if o.postgres != "" {
		cfg, err := pgxpool.ParseConfig(o.postgres)
		if err != nil {
			return fmt.Errorf("-postgres %q: %w", o.postgres, err)
		}
		cfg.MinConns, cfg.MinIdleConns = 0, 0
		if pool, err = pgxpool.NewWithConfig(context.Background(), cfg); err != nil {
			return fmt.Errorf("-postgres %q: %w", o.postgres, err)
		}
		defer pool.Close()
	}
	topo, err := TopologyWithPostgres(o.grace, pool)
	if err != nil {
		return err
	}
	return describeflag.Write(stdout, topo, o.describe)
}

// readOrders reads and checks every order of path (the built-in sample if
// path is ""). The first bad line is an error naming it.
func readOrders(path string) ([]orders.Line[Order], error) {
	return orders.ReadFile(path, sampleOrders, ParseOrder)
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.partitions < 1 {
		return fmt.Errorf("-partitions is %d; use 1 or more", o.partitions)
	}
	if o.grace < 0 {
		return fmt.Errorf("-grace is %v; use 0 or more", o.grace)
	}
	if o.describe != "" {
		return describe(o, stdout)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	lines, err := readOrders(o.input)
	if err != nil {
		return err
	}
	var pool *pgxpool.Pool
	if o.postgres != "" {
		if pool, err = openMetricsTable(ctx, o.postgres); err != nil {
			return err
		}
		defer pool.Close()
	}
	topo, err := TopologyWithPostgres(o.grace, pool)
	if err != nil {
		return err
	}
	// The windowed aggregations count their late records in their nodes'
	// dropped-records metric, read before the app closes.
	lateNodes := []string{Revenue5mNode, Revenue1hNode, SessionsNode}
	late := make([]int64, len(lateNodes))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	cluster, err := embedded.Open(o.brokers, stderr, "customermetrics")
	if err != nil {
		return err
	}
	defer cluster.Close()
	if pool != nil && o.brokers == "" {
		// A new in-process cluster each run: the offsets the table's sink
		// stored are of the last run's topics, and the table mirrors this
		// run's output.
		if err := postgres.ResetOffsets(ctx, pool, "", o.appID); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `TRUNCATE `+MetricsTable); err != nil {
			return fmt.Errorf("emptying %s for this run's in-process cluster: %w", MetricsTable, err)
		}
	}
	for _, topic := range append([]string{InputTopic}, outputTopics...) {
		if err := cluster.CreateTopic(ctx, topic, int32(o.partitions)); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: InputTopic, Key: []byte(l.Value.CustomerID), Value: l.Raw, Timestamp: l.Value.EventTime}
	}
	if err := cluster.Produce(ctx, recs...); err != nil {
		return fmt.Errorf("producing the orders to %q: %w", InputTopic, err)
	}
	fmt.Fprintf(stderr, "customermetrics: wrote %d orders to %s\n", len(lines), InputTopic)

	stateDir, err := os.MkdirTemp("", "customermetrics-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID: o.appID,
		Brokers:       cluster.Addrs(),
		StateDir:      stateDir,
		Guarantee:     eos.ExactlyOnce,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	// The input topic first, then the repartition topic it feeds, then the
	// output topic the database sink reads: its offsets are committed
	// after the database's transaction.
	caughtUp := []string{InputTopic, streams.RepartitionTopic(o.appID, ByCategory)}
	if pool != nil {
		caughtUp = append(caughtUp, OutputTopic)
	}
	countLate := func() {
		m := app.Metrics()
		for i, n := range lateNodes {
			late[i] = int64(m.Sum("stream-processor-node-metrics", "dropped-records-total", "processor-node-id", n))
		}
	}
	if err := cluster.RunUntilCaughtUpThen(ctx, app, o.appID, countLate, caughtUp...); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "customermetrics: every order processed and committed; reading the output topics")

	out, err := cluster.ReadAll(ctx, OutputTopic)
	if err != nil {
		return err
	}
	final := map[string]Metrics{}
	for _, r := range out {
		m, err := MetricsSerde.Deserialize(r.Value)
		if err != nil {
			return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		line, err := formatRecord(r.Topic, r.Key, m)
		if err != nil {
			return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if _, err := fmt.Fprintln(stdout, line); err != nil {
			return err
		}
		final[string(r.Key)] = m // a customer's records are in order in its partition
	}
	windowed := 0
	for _, topic := range outputTopics[1:] {
		n, err := printWindowed(ctx, cluster, topic, stdout)
		if err != nil {
			return err
		}
		windowed += n
	}
	fmt.Fprintf(stderr, "customermetrics: %d orders, %d customers, %d metrics records, %d windowed records\n", len(lines), len(final), len(out), windowed)
	fmt.Fprintf(stderr, "customermetrics: %d records dropped by the app's processors (Metrics.DroppedRecords)\n", app.Metrics().DroppedRecords)
	fmt.Fprintf(stderr, "customermetrics: late orders dropped: %d from the 5-minute windows, %d from the hourly windows, %d from the sessions (grace %v)\n",
		late[0], late[1], late[2], o.grace)
	if pool != nil {
		var n int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+MetricsTable).Scan(&n); err != nil {
			return fmt.Errorf("counting the rows of %s: %w", MetricsTable, err)
		}
		fmt.Fprintf(stderr, "customermetrics: table %s holds %d customers\n", MetricsTable, n)
	}
	for _, c := range slices.Sorted(maps.Keys(final)) {
		m := final[c]
		fmt.Fprintf(stderr, "  %-12s %4d orders  spent %12.2f  average %10.2f  last order %s\n",
			c, m.TotalOrders, m.TotalSpent, m.AverageOrderValue, m.LastOrderTime.Format(time.RFC3339))
	}
	return nil
}

// openMetricsTable connects to the database at url and creates
// MetricsTable there if it does not exist.
func openMetricsTable(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("-postgres %q: %w", url, err)
	}
	if _, err := pool.Exec(ctx, MetricsTableDDL); err != nil {
		pool.Close()
		return nil, fmt.Errorf("-postgres %q: creating the table %s: %w", url, MetricsTable, err)
	}
	return pool, nil
}

// outputTopics are the topology's outputs, in the order they are printed.
var outputTopics = []string{OutputTopic, CategoryRevenue5mTopic, CategoryRevenue1hTopic, CustomerSessionsTopic}

// printWindowed prints every record of a windowed output topic, one line
// each: {"topic": T, "key": K, "windowStart": S, "windowEnd": E, "value": V},
// with the bounds in RFC 3339, UTC. It returns how many it printed.
func printWindowed(ctx context.Context, c *embedded.Cluster, topic string, stdout io.Writer) (int, error) {
	recs, err := c.ReadAll(ctx, topic)
	if err != nil {
		return 0, err
	}
	keys := window.SessionWindowedSerde(serde.String())
	switch topic {
	case CategoryRevenue5mTopic:
		keys = window.TimeWindowedSerde(serde.String(), Revenue5mWindows.Size)
	case CategoryRevenue1hTopic:
		keys = window.TimeWindowedSerde(serde.String(), Revenue1hWindows.Size)
	}
	for _, r := range recs {
		w, err := keys.Deserialize(r.Key)
		if err != nil {
			return 0, fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		var v json.RawMessage
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return 0, fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		t, _ := json.Marshal(topic)
		k, _ := json.Marshal(w.Key)
		if _, err := fmt.Fprintf(stdout, `{"topic": %s, "key": %s, "windowStart": "%s", "windowEnd": "%s", "value": %s}`+"\n",
			t, k, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), v); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

// formatRecord returns the output line of one record of the metrics topic:
// {"topic": T, "key": K, "value": V}, with V the metrics re-encoded, so the
// field order is Metrics' whatever wrote the record. A null key prints as
// null.
func formatRecord(topic string, key []byte, m Metrics) (string, error) {
	t, err := json.Marshal(topic)
	if err != nil {
		return "", err
	}
	k := []byte("null")
	if key != nil {
		if k, err = json.Marshal(string(key)); err != nil {
			return "", err
		}
	}
	v, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`{"topic": %s, "key": %s, "value": %s}`, t, k, v), nil
}
