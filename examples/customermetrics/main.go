// Command customermetrics keeps running metrics per customer over a stream
// of order events with the customer-metrics topology (see Topology) on
// Kafka, and prints every metrics update it produced.
//
// With no -brokers flag it starts an in-process Kafka (kfake) on 127.0.0.1,
// so it runs on a fresh machine with nothing else installed:
//
//	go run ./examples/customermetrics                  # built-in sample of 20 orders
//	go run ./examples/customermetrics -input FILE      # the orders of FILE
//	go run ./examples/customermetrics -brokers host:9092
//
// Flags:
//
//	-input FILE       orders as JSON lines; default: the built-in sample
//	-brokers LIST     comma-separated host:port of an existing cluster; default: start one in-process
//	-partitions N     partitions of the topics it creates (default 1)
//	-app-id ID        application id: consumer group and internal topic prefix (default "customermetrics")
//	-timeout D        give up if processing takes longer (default 2m)
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
// It creates the topics "orders" and "customer-metrics" (an existing topic
// is kept as it is), writes the orders to "orders" keyed by customerId and
// stamped with their eventTime, runs the app until every order is processed
// and committed, then reads "customer-metrics" from the beginning.
//
// # Output
//
// Every record of "customer-metrics", one JSON line each, in partition
// order and, within a partition, offset order (so a customer's updates are
// in the order they were made):
//
//	{"topic": "customer-metrics", "key": "alice", "value": {"customerId":"alice","totalOrders":1,"totalSpent":19.99,"lastOrderTime":"2024-05-01T09:30:00Z","averageOrderValue":19.99}}
//
// The topology emits a customer's metrics after each of their orders:
//
//   - totalOrders: how many orders the customer placed;
//   - totalSpent: the sum of their amounts, exact to the cent;
//   - lastOrderTime: the latest eventTime of their orders, in UTC, even when
//     orders arrive out of order;
//   - averageOrderValue: totalSpent / totalOrders.
//
// The last record of each key is the customer's final metrics. Progress and
// a summary of those final metrics go to stderr.
//
// On an existing cluster, records left in "customer-metrics" by earlier
// runs are printed too, and the metrics cover every order in "orders".
// Give each run there a new -app-id: the runtime does not yet restore state
// stores from their changelogs, so a reused id resumes from its committed
// offsets with empty stores and restarts every customer's totals at zero.
package main

import (
	"bufio"
	"bytes"
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
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
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
}

func main() {
	var o options
	flag.StringVar(&o.input, "input", "", "read orders, one JSON object per line, from `FILE` instead of the built-in sample")
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated `host:port` list of an existing cluster; default: start one in-process")
	flag.StringVar(&o.appID, "app-id", "customermetrics", "the application id (consumer group, internal topic prefix)")
	flag.IntVar(&o.partitions, "partitions", 1, "partitions of the topics, if they are created")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up if processing takes longer")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "customermetrics: unexpected arguments %q; pass a file with -input\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "customermetrics:", err)
		os.Exit(1)
	}
}

// inputLine is one order of the input and the line it was read from.
type inputLine struct {
	raw   []byte
	order Order
}

// readOrders reads and checks every order of path (the built-in sample if
// path is ""). The first bad line is an error naming it.
func readOrders(path string) ([]inputLine, error) {
	name := "the built-in sample"
	var in io.Reader = strings.NewReader(sampleOrders)
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening the input: %w", err)
		}
		defer f.Close()
		name, in = path, f
	}
	var lines []inputLine
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		o, err := ParseOrder(raw)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w; fix the line and run again (nothing was produced)", name, n, err)
		}
		lines = append(lines, inputLine{raw: bytes.Clone(raw), order: o})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return lines, nil
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.partitions < 1 {
		return fmt.Errorf("-partitions is %d; use 1 or more", o.partitions)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	orders, err := readOrders(o.input)
	if err != nil {
		return err
	}
	topo, err := Topology()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var cluster *embedded.Cluster
	if o.brokers == "" {
		fmt.Fprintln(stderr, "customermetrics: starting an in-process Kafka on 127.0.0.1")
		cluster, err = embedded.Start()
	} else {
		cluster, err = embedded.Connect(strings.Split(o.brokers, ","))
	}
	if err != nil {
		return err
	}
	defer cluster.Close()
	for _, topic := range []string{InputTopic, OutputTopic} {
		if err := cluster.CreateTopic(ctx, topic, int32(o.partitions)); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, len(orders))
	for i, l := range orders {
		recs[i] = &kgo.Record{Topic: InputTopic, Key: []byte(l.order.CustomerID), Value: l.raw, Timestamp: l.order.EventTime}
	}
	if err := cluster.Produce(ctx, recs...); err != nil {
		return fmt.Errorf("producing the orders to %q: %w", InputTopic, err)
	}
	fmt.Fprintf(stderr, "customermetrics: wrote %d orders to %s\n", len(orders), InputTopic)

	stateDir, err := os.MkdirTemp("", "customermetrics-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID:  o.appID,
		Brokers:        cluster.Addrs(),
		StateDir:       stateDir,
		CommitInterval: 100 * time.Millisecond,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	// Orders are keyed by customer already: there is no repartition topic
	// to wait for. A topology that re-keys must list its repartition topics
	// here, after the input topic.
	if err := cluster.RunUntilCaughtUp(ctx, app, o.appID, InputTopic); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "customermetrics: every order processed and committed; reading", OutputTopic)

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
	fmt.Fprintf(stderr, "customermetrics: %d orders, %d customers, %d metrics records\n", len(orders), len(final), len(out))
	for _, c := range slices.Sorted(maps.Keys(final)) {
		m := final[c]
		fmt.Fprintf(stderr, "  %-12s %4d orders  spent %12.2f  average %10.2f  last order %s\n",
			c, m.TotalOrders, m.TotalSpent, m.AverageOrderValue, m.LastOrderTime.Format(time.RFC3339))
	}
	return nil
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
