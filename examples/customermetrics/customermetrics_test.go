package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// Floating point. Amounts are whole cents (ParseOrder rejects others), so
// the tests write them as integer cents and recompute totals as integer
// sums: exact, with no float arithmetic to copy from the code under test.
// totalSpent must then equal float64(cents)/100, the float64 closest to the
// exact total, bit for bit: the topology rounds to cents after every
// addition precisely so that it does. averageOrderValue is a quotient, not
// money: it is compared within avgTolerance.
const avgTolerance = 1e-9

// testOrder is an order as the tests write it, with its amount in cents.
type testOrder struct {
	id, customer string
	cents        int64
	time         string // RFC 3339
}

func (o testOrder) order(t *testing.T) Order {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, o.time)
	require.NoError(t, err)
	return Order{OrderID: o.id, CustomerID: o.customer, Amount: float64(o.cents) / 100, Category: "test", EventTime: ts}
}

func (o testOrder) jsonLine() string {
	return fmt.Sprintf(`{"orderId":%q,"customerId":%q,"amount":%d.%02d,"category":"test","eventTime":%q}`,
		o.id, o.customer, o.cents/100, o.cents%100, o.time)
}

// want is a customer's expected metrics, recomputed from the definitions.
type want struct {
	customer string
	orders   int64
	cents    int64
	last     time.Time
}

// expectedUpdates returns the metrics expected after each order, in order:
// count, integer sum of cents, and the latest event time.
func expectedUpdates(t *testing.T, orders []testOrder) []want {
	t.Helper()
	byCustomer := map[string]want{}
	var out []want
	for _, o := range orders {
		ts, err := time.Parse(time.RFC3339, o.time)
		require.NoError(t, err)
		w := byCustomer[o.customer]
		w.customer = o.customer
		w.orders++
		w.cents += o.cents
		if w.orders == 1 || ts.After(w.last) {
			w.last = ts
		}
		byCustomer[o.customer] = w
		out = append(out, w)
	}
	return out
}

// requireMetrics checks got, the metrics named what, against w.
func requireMetrics(t *testing.T, w want, got Metrics, what string) {
	t.Helper()
	require.Equal(t, w.customer, got.CustomerID, what)
	require.Equal(t, w.orders, got.TotalOrders, what)
	require.Equal(t, float64(w.cents)/100, got.TotalSpent, what)
	require.True(t, w.last.Equal(got.LastOrderTime), "%s: lastOrderTime: want %v, got %v", what, w.last, got.LastOrderTime)
	require.Equal(t, time.UTC, got.LastOrderTime.Location(), "%s: lastOrderTime is in UTC", what)
	require.InDelta(t, float64(w.cents)/float64(100*w.orders), got.AverageOrderValue, avgTolerance, what)
}

// Orders arrive out of event-time order, some with a zone offset: every
// update is emitted, in order, with lastOrderTime the latest eventTime so
// far, never the last one processed.
func TestTopologyKeepsMetricsPerCustomer(t *testing.T) {
	t.Parallel()
	orders := []testOrder{
		{"o1", "alice", 1999, "2024-05-01T10:00:00Z"},
		{"o2", "bob", 25000, "2024-05-01T10:05:00Z"},
		{"o3", "alice", 10, "2024-05-01T09:00:00Z"},      // earlier than alice's first
		{"o4", "alice", 20, "2024-05-01T12:30:00+02:00"}, // 10:30Z: the latest
		{"o5", "carol", 0, "2024-05-01T08:00:00Z"},       // a free order still counts
		{"o6", "bob", 1, "2024-05-01T10:04:59Z"},         // a second before bob's first
		{"o7", "carol", 333, "2024-05-01T08:00:00.5Z"},   // fractional seconds
		{"o8", "alice", 30, "2024-05-01T10:29:59-00:00"}, // earlier again
		{"o9", "bob", 4999, "2024-04-30T23:00:00-05:00"}, // 04:00Z on May 1st
		{"o10", "carol", 1, "2024-05-01T07:59:59.999Z"},
		{"o11", "dave", 10, "2024-05-01T11:00:00Z"},
		{"o12", "dave", 20, "2024-05-01T11:00:00Z"}, // same time as the one before
	}
	topo, err := Topology()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "customermetrics"})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, InputTopic, serde.String(), OrderSerde)
	out := testdriver.CreateOutputTopic(d, OutputTopic, serde.String(), MetricsSerde)

	for _, o := range orders {
		ord := o.order(t)
		// The record's own timestamp is wrong on purpose: the topology
		// takes event time from the order.
		require.NoError(t, in.Pipe(ord.CustomerID, ord, time.Unix(0, 0)))
	}
	recs, err := out.ReadRecords()
	require.NoError(t, err)
	wants := expectedUpdates(t, orders)
	require.Len(t, recs, len(wants), "one update per order")
	for i, r := range recs {
		require.Equal(t, orders[i].customer, r.Key, "update %d", i)
		requireMetrics(t, wants[i], r.Value, fmt.Sprintf("update %d", i))
		require.True(t, r.Timestamp.Equal(orders[i].order(t).EventTime), "update %d is stamped with its order's eventTime", i)
	}

	// 0.10 + 0.20 is 0.3, not the float64 sum 0.30000000000000004.
	require.Equal(t, 0.3, recs[len(recs)-1].Value.TotalSpent)

	// The store holds every customer's final metrics. It is the DSL
	// aggregation's, so a timestamped key-value store.
	store, err := testdriver.TimestampedKeyValueStore[string, Metrics](d, MetricsStore)
	require.NoError(t, err)
	final := map[string]want{}
	for _, w := range wants {
		final[w.customer] = w
	}
	n := 0
	for kv, err := range store.All() {
		require.NoError(t, err)
		requireMetrics(t, final[kv.Key], kv.Value.Value, "store entry "+kv.Key)
		n++
	}
	require.Equal(t, len(final), n)
}

func TestTotalsStayExactOverManySmallAmounts(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, InputTopic, serde.String(), OrderSerde)
	out := testdriver.CreateOutputTopic(d, OutputTopic, serde.String(), MetricsSerde)
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		ts := start.Add(time.Duration(i) * time.Second)
		require.NoError(t, in.Pipe("dime", Order{CustomerID: "dime", Amount: 0.1, EventTime: ts}, ts))
	}
	got, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	// Summing 0.1 a thousand times in float64 gives 99.9999999999986.
	require.Equal(t, 100.0, got["dime"].TotalSpent)
	require.Equal(t, 0.1, got["dime"].AverageOrderValue)
}

// Records that another producer wrote to the orders topic are checked too:
// a bad one is a deserialization error naming where it is, an order keyed
// by someone else a processing error saying how to key it.
func TestTopologyRejectsBadRecords(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)

	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		d, err := testdriver.New(topo, testdriver.Options{})
		require.NoError(t, err)
		defer d.Close()
		raw := testdriver.CreateInputTopic(d, InputTopic, serde.String(), serde.Bytes())
		err = raw.Pipe("alice", []byte(`{"customerId":"alice","amount":1,"eventTime":"yesterday"}`), time.Unix(1, 0))
		de, ok := errors.AsType[*processor.DeserializationError](err)
		require.True(t, ok, "got %v", err)
		require.Equal(t, InputTopic, de.Topic)
		require.Equal(t, "value", de.Part)
		require.ErrorIs(t, err, serde.ErrMalformed)
		require.ErrorContains(t, err, `"eventTime" "yesterday" is not an RFC 3339 time`)
	})
	t.Run("keyed by another customer", func(t *testing.T) {
		t.Parallel()
		d, err := testdriver.New(topo, testdriver.Options{})
		require.NoError(t, err)
		defer d.Close()
		in := testdriver.CreateInputTopic(d, InputTopic, serde.String(), OrderSerde)
		ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		err = in.Pipe("", Order{OrderID: "o1", CustomerID: "alice", Amount: 1, EventTime: ts}, ts)
		pe, ok := errors.AsType[*processor.ProcessingError](err)
		require.True(t, ok, "got %v", err)
		require.Equal(t, ByCustomerNode, pe.Processor)
		require.ErrorContains(t, err, "keyed by their customerId")
	})
}

func TestParseOrder(t *testing.T) {
	t.Parallel()
	good := map[string]float64{
		`{"customerId":"a","amount":19.99,"eventTime":"2024-05-01T09:30:00Z"}`:             19.99,
		`{"customerId":"a","amount":20,"eventTime":"2024-05-01T09:30:00+02:00"}`:           20,
		`{"customerId":"a","amount":1e2,"eventTime":"2024-05-01T09:30:00.123456789Z"}`:     100,
		`{"customerId":"a","amount":0.30,"eventTime":"1970-01-01T00:00:00Z","extra":true}`: 0.3,
	}
	for line, amount := range good {
		o, err := ParseOrder([]byte(line))
		require.NoError(t, err, line)
		require.Equal(t, amount, o.Amount, line)
		require.Equal(t, "a", o.CustomerID, line)
	}
}

// A bad line is reported with its line number (blank lines count) and what
// to fix, before any Kafka is started or anything produced.
func TestRunNamesTheBadLine(t *testing.T) {
	t.Parallel()
	good := testOrder{"o1", "alice", 1999, "2024-05-01T10:00:00Z"}.jsonLine()
	for _, tc := range []struct {
		name, line, msg string
	}{
		{"bad JSON", `{"customerId":"alice",`, "not a JSON order object"},
		{"not an object", `[1, 2, 3]`, "not a JSON order object"},
		{"text", `hello`, "not a JSON order object"},
		{"missing customerId", `{"amount":1,"eventTime":"2024-05-01T10:00:00Z"}`, `missing "customerId"`},
		{"empty customerId", `{"customerId":"","amount":1,"eventTime":"2024-05-01T10:00:00Z"}`, `empty "customerId"`},
		{"customerId not a string", `{"customerId":7,"amount":1,"eventTime":"2024-05-01T10:00:00Z"}`, "not a JSON order object"},
		{"missing amount", `{"customerId":"a","eventTime":"2024-05-01T10:00:00Z"}`, `missing "amount"`},
		{"amount a string", `{"customerId":"a","amount":"1","eventTime":"2024-05-01T10:00:00Z"}`, "not a JSON order object"},
		{"fractional cents", `{"customerId":"a","amount":1.005,"eventTime":"2024-05-01T10:00:00Z"}`, "not a whole number of cents"},
		{"negative amount", `{"customerId":"a","amount":-5,"eventTime":"2024-05-01T10:00:00Z"}`, "out of range"},
		{"huge amount", `{"customerId":"a","amount":1e300,"eventTime":"2024-05-01T10:00:00Z"}`, "out of range"},
		{"missing eventTime", `{"customerId":"a","amount":1}`, `missing "eventTime"`},
		{"bad eventTime", `{"customerId":"a","amount":1,"eventTime":"2024-05-01 10:00"}`, `"eventTime" "2024-05-01 10:00" is not an RFC 3339 time`},
		{"eventTime a number", `{"customerId":"a","amount":1,"eventTime":1714557600}`, "not a JSON order object"},
		{"eventTime before 1970", `{"customerId":"a","amount":1,"eventTime":"1969-12-31T23:59:59Z"}`, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "orders.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(good+"\n"+good+"\n\n"+tc.line+"\n"+good+"\n"), 0o644))
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), options{input: path, appID: "x", partitions: 1, timeout: time.Minute}, &stdout, &stderr)
			require.ErrorContains(t, err, path+", line 4: bad order: ")
			require.ErrorContains(t, err, tc.msg)
			require.ErrorContains(t, err, "nothing was produced")
			require.Empty(t, stdout.String())
			require.Empty(t, stderr.String(), "no Kafka was started")
		})
	}
}

func TestRunReportsAMissingFileAndBadFlags(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), options{input: filepath.Join(t.TempDir(), "missing.jsonl"), appID: "x", partitions: 1, timeout: time.Minute}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "missing.jsonl")
	err = run(context.Background(), options{appID: "x", partitions: 0, timeout: time.Minute}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "-partitions is 0; use 1 or more")
}

// outputLine is the exact shape of a line of stdout: the envelope with a
// space after each colon and comma, then the metrics in field order.
var outputLine = regexp.MustCompile(`^\{"topic": "customer-metrics", "key": ("[^"]+"), "value": (\{"customerId":"[^"]+","totalOrders":[0-9]+,"totalSpent":[0-9.e+]+,"lastOrderTime":"[^"]+","averageOrderValue":[0-9.e+-]+\})\}$`)

// End to end on the embedded broker, over 3 partitions: the last metrics
// printed for each customer are the recomputed ones, and every customer's
// updates come out in order, one per order.
func TestRunOnEmbeddedKafka(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 8))
	customers := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -5*3600-1800)}
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var orders []testOrder
	var sb strings.Builder
	for i := range 300 {
		ts := start.Add(time.Duration(rng.IntN(48*3600)) * time.Second).In(zones[rng.IntN(len(zones))])
		o := testOrder{fmt.Sprintf("o-%d", i), customers[rng.IntN(len(customers))], rng.Int64N(100000), ts.Format(time.RFC3339)}
		orders = append(orders, o)
		sb.WriteString(o.jsonLine() + "\n")
		if i%50 == 0 {
			sb.WriteString("\n") // blank lines are skipped
		}
	}
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o644))

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{input: path, appID: "customermetrics-test", partitions: 3, timeout: time.Minute}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	wants := expectedUpdates(t, orders)
	final := map[string]want{}
	for _, w := range wants {
		final[w.customer] = w
	}
	got := map[string]Metrics{}
	lines := metricsLines(stdout.String())
	require.Len(t, lines, len(orders), "one metrics record per order")
	for _, line := range lines {
		m := outputLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		var key string
		require.NoError(t, json.Unmarshal([]byte(m[1]), &key))
		var v Metrics
		require.NoError(t, json.Unmarshal([]byte(m[2]), &v))
		require.Equal(t, key, v.CustomerID)
		require.Equal(t, got[key].TotalOrders+1, v.TotalOrders, "the updates of %q are in order: %q", key, line)
		got[key] = v
	}
	require.Len(t, got, len(final))
	for c, w := range final {
		requireMetrics(t, w, got[c], "customer "+c)
	}
	require.Contains(t, stderr.String(), fmt.Sprintf("%d orders, %d customers, %d metrics records", len(orders), len(final), len(orders)))
}

// metricsLines returns the lines of stdout from the customer-metrics
// topic, which come first.
func metricsLines(stdout string) []string {
	var out []string
	for line := range strings.Lines(stdout) {
		if strings.HasPrefix(line, `{"topic": "customer-metrics"`) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

// The built-in sample runs, and its final metrics are what its orders give.
func TestRunOnTheSample(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{appID: "customermetrics-sample", partitions: 2, timeout: time.Minute}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	lines, err := readOrders("")
	require.NoError(t, err)
	final := map[string]want{}
	for _, l := range lines {
		w := final[l.Value.CustomerID]
		w.customer = l.Value.CustomerID
		w.orders++
		w.cents += int64(l.Value.Amount*100 + 0.5) // the sample's amounts are positive
		if w.orders == 1 || l.Value.EventTime.After(w.last) {
			w.last = l.Value.EventTime
		}
		final[w.customer] = w
	}
	got := map[string]Metrics{}
	for _, line := range metricsLines(stdout.String()) {
		m := outputLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		var v Metrics
		require.NoError(t, json.Unmarshal([]byte(m[2]), &v))
		got[v.CustomerID] = v
	}
	require.Len(t, got, 4)
	for c, w := range final {
		requireMetrics(t, w, got[c], "customer "+c)
	}
	// Some sample orders are late: lastOrderTime is not the last order's.
	require.Equal(t, "2024-05-01T12:05:00Z", got["dave"].LastOrderTime.Format(time.RFC3339))
}

// -brokers: on a cluster it did not start, the example creates its topics,
// runs and leaves the cluster running.
func TestRunOnAnExistingCluster(t *testing.T) {
	t.Parallel()
	c, err := embedded.Start()
	require.NoError(t, err)
	defer c.Close()
	orders := []testOrder{
		{"o1", "alice", 1000, "2024-05-01T10:00:00Z"},
		{"o2", "alice", 550, "2024-05-01T09:00:00Z"},
	}
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(orders[0].jsonLine()+"\n"+orders[1].jsonLine()+"\n"), 0o644))
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), options{input: path, brokers: strings.Join(c.Addrs(), ","), appID: "customermetrics-existing", partitions: 2, timeout: time.Minute}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.NotContains(t, stderr.String(), "starting an in-process Kafka")
	require.Equal(t, `{"topic": "customer-metrics", "key": "alice", "value": {"customerId":"alice","totalOrders":1,"totalSpent":10,"lastOrderTime":"2024-05-01T10:00:00Z","averageOrderValue":10}}
{"topic": "customer-metrics", "key": "alice", "value": {"customerId":"alice","totalOrders":2,"totalSpent":15.5,"lastOrderTime":"2024-05-01T10:00:00Z","averageOrderValue":7.75}}
`, stdout.String())
	// The cluster still runs: the example closed only its connection.
	recs, err := c.ReadAll(context.Background(), InputTopic)
	require.NoError(t, err)
	require.Len(t, recs, 2)
}
