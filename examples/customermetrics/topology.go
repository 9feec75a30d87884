package main

import (
	"fmt"
	"math"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Topic, store and node names of the customer-metrics topology.
const (
	InputTopic   = "orders"
	OutputTopic  = "customer-metrics"
	MetricsStore = "CustomerMetrics"

	OrdersNode    = "Orders"
	AggregateNode = "Aggregate"
	OutputNode    = "Output"
)

// Metrics are one customer's running totals: the value of the store
// MetricsStore and of the records of OutputTopic. The JSON field order is
// the struct's.
type Metrics struct {
	CustomerID string `json:"customerId"`
	// TotalOrders counts the customer's orders.
	TotalOrders int64 `json:"totalOrders"`
	// TotalSpent is the sum of their amounts. Amounts are whole cents (see
	// ParseOrder) and the sum is rounded to cents after every addition, so
	// it is always the float64 closest to the exact decimal sum, whatever
	// the order of the additions: 0.1 + 0.2 gives 0.3, not
	// 0.30000000000000004.
	TotalSpent float64 `json:"totalSpent"`
	// LastOrderTime is the latest eventTime among the orders, in UTC: an
	// order that arrives late does not move it back.
	LastOrderTime time.Time `json:"lastOrderTime"`
	// AverageOrderValue is TotalSpent / TotalOrders, not rounded.
	AverageOrderValue float64 `json:"averageOrderValue"`
}

// MetricsSerde writes metrics as JSON, for the store and the output topic,
// which any Kafka client can read.
var MetricsSerde = serde.JSON[Metrics]()

// Topology reads orders keyed by customer id from InputTopic, keeps each
// customer's Metrics in the in-memory key-value store MetricsStore and
// forwards the updated metrics of the customer to OutputTopic on every
// order. It also writes the windowed outputs of addWindows: per category
// (repartitioned by category) 5-minute and hourly revenue, per customer
// sessions, each window once it has closed, with DefaultGrace.
//
// An order's event time, which stream time follows, is its eventTime field,
// whatever timestamp its record carries. Orders must be keyed by their
// customerId: the store of a customer lives in the task of the partition
// its key maps to, and an order keyed otherwise stops the app with an error
// saying so.
func Topology() (*topology.Topology, error) { return TopologyWithGrace(DefaultGrace) }

// TopologyWithGrace is Topology with the windowed aggregations' grace
// period.
func TopologyWithGrace(grace time.Duration) (*topology.Topology, error) {
	b := topology.NewBuilder()
	orders := topology.AddSource(b, OrdersNode, topology.Source[string, Order]{
		Topics:     []string{InputTopic},
		KeySerde:   serde.String(),
		ValueSerde: OrderSerde,
		TimestampExtractor: func(rec processor.Record[string, Order], _ time.Time) (time.Time, error) {
			return rec.Value.EventTime, nil // never zero: OrderSerde checks it
		},
	})
	metrics := topology.AddProcessor(b, AggregateNode, newAggregator, orders)
	b.AddStateStore(state.NewKeyValueStoreBuilder(
		state.InMemoryKeyValueStore(MetricsStore), serde.String(), MetricsSerde), AggregateNode)
	topology.AddSink(b, OutputNode, topology.Sink[string, Metrics]{
		Topic:      OutputTopic,
		KeySerde:   serde.String(),
		ValueSerde: MetricsSerde,
	}, metrics)
	addWindows(b, orders, grace)
	return b.Build()
}

// aggregator folds each order into its customer's metrics and forwards the
// result, keyed by customer id, with the order's timestamp.
type aggregator struct {
	ctx     processor.Context[string, Metrics]
	metrics state.KeyValueStore[string, Metrics]
}

func newAggregator() processor.Processor[string, Order, string, Metrics] { return &aggregator{} }

func (a *aggregator) Init(ctx processor.Context[string, Metrics]) error {
	a.ctx = ctx
	var err error
	a.metrics, err = processor.GetStore[state.KeyValueStore[string, Metrics]](ctx, MetricsStore)
	return err
}

func (a *aggregator) Process(rec processor.Record[string, Order]) error {
	o := rec.Value
	if rec.Key != o.CustomerID {
		return fmt.Errorf("order %q of customer %q has the key %q; produce orders keyed by their customerId", o.OrderID, o.CustomerID, rec.Key)
	}
	m, _, err := a.metrics.Get(o.CustomerID)
	if err != nil {
		return err
	}
	m = m.add(o)
	if err := a.metrics.Put(o.CustomerID, m); err != nil {
		return err
	}
	return a.ctx.Forward(processor.Derive(rec, o.CustomerID, m))
}

func (a *aggregator) Close() error { return nil }

// add returns m with order o counted in.
func (m Metrics) add(o Order) Metrics {
	m.CustomerID = o.CustomerID
	m.TotalOrders++
	m.TotalSpent = math.Round((m.TotalSpent+o.Amount)*100) / 100
	if t := o.EventTime.UTC(); m.TotalOrders == 1 || t.After(m.LastOrderTime) {
		m.LastOrderTime = t
	}
	m.AverageOrderValue = m.TotalSpent / float64(m.TotalOrders)
	return m
}
