// Command enrichment joins a stream of orders to the customer each order
// names, as the customer was at the order's event time, exactly once, on
// Kafka: the customers topic is read as a versioned table (Kafka Streams'
// KIP-889 and KIP-914), and every order is left-joined to the version of
// its customer valid at its eventTime.
//
// With no -brokers flag it starts an in-process Kafka (kfake) on 127.0.0.1,
// so it runs on a fresh machine with nothing else installed:
//
//	go run ./examples/enrichment -orders ORDERS -customers CUSTOMERS
//	go run ./examples/enrichment                          # built-in samples
//	go run ./examples/enrichment -orders O -customers C -brokers host:9092
//	go run ./examples/enrichment -describe=mermaid        # draw the topology
//
// Flags:
//
//	-orders FILE      orders as JSON lines (as examples/customermetrics reads them)
//	-customers FILE   customer versions as JSON lines
//	-history D        how far back the customers table answers (default 720h, 30 days)
//	-brokers LIST     comma-separated host:port of an existing cluster; default: start one in-process
//	-partitions N     partitions of the topics it creates (default 1)
//	-app-id ID        application id: consumer group and internal topic prefix (default "enrichment")
//	-timeout D        give up if processing takes longer (default 2m)
//	-describe         print the topology and exit, in Kafka Streams' text format
//	-describe=F       the same in format F: text, mermaid (a Mermaid flowchart) or dot (a
//	                  Graphviz DOT graph); the '=' is needed: "-describe mermaid" is an error
//
// # Input
//
// ORDERS has one order per line, in any order of eventTime:
//
//	{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:30:00Z"}
//
// CUSTOMERS has one version of a customer per line, valid from updatedAt
// until the customer's next line; a line with "deleted": true deletes the
// customer at updatedAt (name and tier may then be left out):
//
//	{"customerId":"alice","name":"Alice","tier":"gold","updatedAt":"2024-05-01T09:00:00Z"}
//	{"customerId":"alice","updatedAt":"2024-05-03T00:00:00Z","deleted":true}
//
// Every line of both files is checked before anything is produced; a bad
// one stops the command with an error naming its file and line.
//
// The command creates the topics "customers", "orders" and
// "enriched-orders" (an existing topic is kept as it is), writes the whole
// customers file to "customers" (keyed by customerId, timestamped with
// updatedAt, a deletion as a tombstone), lets the app read all of it, then
// writes the orders to "orders" (keyed by customerId, timestamped with
// eventTime), runs the app under exactly-once until every order is
// processed and committed, and reads "enriched-orders" read_committed.
//
// # Output
//
// One JSON line per order on stdout, in no particular order, and nothing
// else: the order's five fields, and the customer's name and tier as of
// the order's eventTime, each null if the customer did not exist then or
// had been deleted:
//
//	{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:30:00Z","name":"Alice","tier":"gold"}
//
// The table keeps each customer's versions for -history behind the newest
// updatedAt it has read: an order older than that finds no customer, and
// a customer line older than that is dropped. Inputs that span more time
// need a longer -history.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/examples/internal/describeflag"
	"github.com/gostreams/streams/examples/internal/orders"
	"github.com/gostreams/streams/internal/embedded"
)

// sampleCustomers and sampleOrders are the inputs when no file is given:
// alice moves from silver to gold and is deleted later; bob comes after
// his first order; carol never exists.
const sampleCustomers = `{"customerId":"alice","name":"Alice","tier":"silver","updatedAt":"2024-05-01T08:00:00Z"}
{"customerId":"bob","name":"Bob","tier":"bronze","updatedAt":"2024-05-01T10:00:00Z"}
{"customerId":"alice","name":"Alice","tier":"gold","updatedAt":"2024-05-01T12:00:00Z"}
{"customerId":"alice","updatedAt":"2024-05-02T00:00:00Z","deleted":true}
`

const sampleOrders = `{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:00:00Z"}
{"orderId":"o-2","customerId":"bob","amount":5,"category":"grocery","eventTime":"2024-05-01T09:30:00Z"}
{"orderId":"o-3","customerId":"alice","amount":42.5,"category":"garden","eventTime":"2024-05-01T13:00:00Z"}
{"orderId":"o-4","customerId":"bob","amount":12,"category":"books","eventTime":"2024-05-01T11:00:00Z"}
{"orderId":"o-5","customerId":"alice","amount":7.25,"category":"books","eventTime":"2024-05-01T11:59:59Z"}
{"orderId":"o-6","customerId":"carol","amount":1,"category":"apps","eventTime":"2024-05-01T12:00:00Z"}
{"orderId":"o-7","customerId":"alice","amount":3,"category":"apps","eventTime":"2024-05-02T08:00:00Z"}
`

type options struct {
	orders, customers string
	brokers           string
	appID             string
	partitions        int
	history           time.Duration
	timeout           time.Duration
	describe          describeflag.Format
}

func main() {
	o, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "enrichment:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "enrichment:", err)
		os.Exit(1)
	}
}

// parseFlags parses the flags from args with fs (flag.CommandLine in
// main). Arguments left after the flags are an error.
func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	fs.StringVar(&o.orders, "orders", "", "read orders, one JSON object per line, from `FILE`")
	fs.StringVar(&o.customers, "customers", "", "read customer versions, one JSON object per line, from `FILE`")
	fs.DurationVar(&o.history, "history", DefaultHistory, "how far back the customers table answers")
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated `host:port` list of an existing cluster; default: start one in-process")
	fs.StringVar(&o.appID, "app-id", "enrichment", "the application id (consumer group, internal topic prefix)")
	fs.IntVar(&o.partitions, "partitions", 1, "partitions of the topics, if they are created")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up if processing takes longer")
	describeflag.Var(fs, &o.describe)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q; %s", fs.Args(), cmp.Or(describeflag.Misplaced(o.describe, fs.Args()), "pass files with -orders and -customers"))
	}
	return o, nil
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	switch {
	case (o.orders == "") != (o.customers == ""):
		return errors.New("give both -orders and -customers, or neither for the built-in samples")
	case o.partitions < 1:
		return fmt.Errorf("-partitions is %d; use 1 or more", o.partitions)
	case o.history < 0:
		return fmt.Errorf("-history is %v; use 0 or more", o.history)
	case o.describe != "":
		topo, err := Topology(o.history)
		if err != nil {
			return err
		}
		return describeflag.Write(stdout, topo, o.describe)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	custs, err := orders.ReadFile(o.customers, sampleCustomers, ParseCustomer)
	if err != nil {
		return err
	}
	ords, err := orders.ReadFile(o.orders, sampleOrders, orders.Parse)
	if err != nil {
		return err
	}
	topo, err := Topology(o.history)
	if err != nil {
		return err
	}

	cluster, err := embedded.Open(o.brokers, stderr, "enrichment")
	if err != nil {
		return err
	}
	defer cluster.Close()
	for _, topic := range []string{CustomersTopic, OrdersTopic, OutputTopic} {
		if err := cluster.CreateTopic(ctx, topic, int32(o.partitions)); err != nil {
			return err
		}
	}
	crecs := make([]*kgo.Record, len(custs))
	for i, l := range custs {
		var v []byte
		if !l.Value.Deleted {
			if v, err = CustomerSerde.Serialize(&l.Value.Customer); err != nil {
				return err
			}
		}
		crecs[i] = &kgo.Record{Topic: CustomersTopic, Key: []byte(l.Value.CustomerID), Value: v, Timestamp: l.Value.UpdatedAt}
	}
	if err := cluster.Produce(ctx, crecs...); err != nil {
		return fmt.Errorf("producing the customers to %q: %w", CustomersTopic, err)
	}
	fmt.Fprintf(stderr, "enrichment: wrote %d customer lines to %s\n", len(custs), CustomersTopic)

	stateDir, err := os.MkdirTemp("", "enrichment-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID: o.appID,
		Brokers:       cluster.Addrs(),
		StateDir:      stateDir,
		Guarantee:     eos.ExactlyOnce,
		Logger:        slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	stopApp := func(err error) error { return errors.Join(err, app.Close(), <-runErr) }
	// The whole table first: the app processes what it has fetched, so
	// orders written alongside could be joined before the versions they
	// need were read.
	if err := waitCaughtUp(ctx, cluster, o.appID, runErr, CustomersTopic); err != nil {
		return stopApp(err)
	}
	orecs := make([]*kgo.Record, len(ords))
	for i, l := range ords {
		orecs[i] = &kgo.Record{Topic: OrdersTopic, Key: []byte(l.Value.CustomerID), Value: l.Raw, Timestamp: l.Value.EventTime}
	}
	if err := cluster.Produce(ctx, orecs...); err != nil {
		return stopApp(fmt.Errorf("producing the orders to %q: %w", OrdersTopic, err))
	}
	fmt.Fprintf(stderr, "enrichment: the customers table is loaded; wrote %d orders to %s\n", len(ords), OrdersTopic)
	if err := waitCaughtUp(ctx, cluster, o.appID, runErr, OrdersTopic, CustomersTopic); err != nil {
		return stopApp(err)
	}
	if err := stopApp(nil); err != nil {
		return err
	}
	out, err := cluster.ReadAll(ctx, OutputTopic)
	if err != nil {
		return err
	}
	for _, r := range out {
		var e Enriched
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		b, err := line(e)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "enrichment: %d orders enriched\n", len(out))
	if len(out) != len(ords) {
		return fmt.Errorf("%d orders in, %d enriched orders out; see the log above", len(ords), len(out))
	}
	return nil
}

// waitCaughtUp waits until the app has committed every record of topics,
// or fails if the app stops first.
func waitCaughtUp(ctx context.Context, c *embedded.Cluster, group string, runErr <-chan error, topics ...string) error {
	done := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- c.WaitCaughtUp(wctx, group, topics...) }()
	select {
	case err := <-done:
		return err
	case err := <-runErr:
		return errors.Join(errors.New("the app stopped before processing every record"), err)
	}
}
