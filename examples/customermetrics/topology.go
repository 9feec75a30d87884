package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
	"github.com/gostreams/streams/topology"
)

// Topic, store and node names of the customer-metrics topology.
const (
	InputTopic   = "orders"
	OutputTopic  = "customer-metrics"
	MetricsStore = "CustomerMetrics"

	OrdersNode = "Orders"
	// ByCustomerNode checks that each order is keyed by its customer on
	// its way to AggregateNode, the per-customer aggregation. The check
	// cannot be AggregateNode's: a DSL aggregator returns no error.
	ByCustomerNode = "ByCustomer"
	AggregateNode  = "Aggregate"
	// StampNode stamps each metrics update with the time of its order.
	StampNode  = "StampWithOrderTime"
	OutputNode = "Output"
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

// Topology is the customer-metrics topology, built with the kstream DSL.
// It reads orders keyed by customer id from InputTopic, keeps each
// customer's Metrics in the in-memory store MetricsStore (a timestamped
// key-value store, as every DSL aggregation's) and forwards the updated
// metrics of the customer, with the time of the order, to OutputTopic on
// every order. It also writes the
// windowed outputs of addWindows: per category (repartitioned by category)
// 5-minute and hourly revenue, per customer sessions, each window once it
// has closed, with DefaultGrace.
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
	return build(grace, nil)
}

// TopologyWithPostgres is TopologyWithGrace that also writes each
// customer's metrics into the table MetricsTable of pool, exactly once:
// a sub-topology of its own reads OutputTopic (read_committed, since the
// app runs under exactly-once) and upserts every update into the table
// with the sink of sink/postgres, which commits the topic's offsets in the
// same database transaction. The table holds each customer's last update:
// the Kafka output's final metrics.
func TopologyWithPostgres(grace time.Duration, pool *pgxpool.Pool) (*topology.Topology, error) {
	return build(grace, pool)
}

func build(grace time.Duration, pool *pgxpool.Pool) (*topology.Topology, error) {
	sb := kstream.NewStreamsBuilder()
	orders := kstream.Stream(sb, []string{InputTopic}, kstream.Consumed[string, Order]{
		KeySerde:   serde.String(),
		ValueSerde: OrderSerde,
		TimestampExtractor: func(rec processor.Record[string, Order], _ time.Time) (time.Time, error) {
			return rec.Value.EventTime, nil // never zero: OrderSerde checks it
		},
		Name: OrdersNode,
	})

	byCustomer := kstream.ProcessValues(orders, processor.Func(checkCustomerKey), nil, ByCustomerNode)
	metrics := kstream.Aggregate(byCustomer.GroupByKey(),
		func() Metrics { return Metrics{} },
		func(_ string, o Order, m Metrics) Metrics { return m.add(o) },
		kstream.Materialized[string, Metrics]{Name: MetricsStore, Named: AggregateNode, ValueSerde: MetricsSerde})
	kstream.ProcessValues(metrics.ToStream(), processor.Func(stampWithOrderTime), nil, StampNode).
		To(OutputTopic, kstream.Produced[string, Metrics]{KeySerde: serde.String(), ValueSerde: MetricsSerde, Name: OutputNode})

	addWindows(sb, orders, grace)
	if pool != nil {
		updates := kstream.Stream(sb, []string{OutputTopic}, kstream.Consumed[string, Metrics]{
			KeySerde: serde.String(), ValueSerde: MetricsSerde, Name: MetricsUpdatesNode,
		})
		postgres.To(updates, postgres.Sink[string, Metrics]{Pool: pool, Write: upsertMetrics}, MetricsTableNode)
	}
	return sb.Build()
}

// MetricsTable is the table TopologyWithPostgres writes, created by
// CreateMetricsTable.
const MetricsTable = "customer_metrics"

// Node names of TopologyWithPostgres' database sub-topology.
const (
	MetricsUpdatesNode = "MetricsUpdates"
	MetricsTableNode   = "MetricsTable"
)

// MetricsTableDDL creates MetricsTable if it does not exist. Amounts are
// exact: numeric with two decimals.
const MetricsTableDDL = `CREATE TABLE IF NOT EXISTS ` + MetricsTable + ` (
	customer_id text PRIMARY KEY,
	total_orders bigint NOT NULL,
	total_spent numeric(14, 2) NOT NULL,
	last_order_time timestamptz NOT NULL,
	average_order_value double precision NOT NULL)`

// upsertMetrics writes a customer's latest metrics. The sink applies each
// update once, in the order of the topic, so the row ends with the last.
func upsertMetrics(b *postgres.Batch, rec processor.Record[string, Metrics]) error {
	m := rec.Value
	b.Queue(`INSERT INTO `+MetricsTable+` (customer_id, total_orders, total_spent, last_order_time, average_order_value)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (customer_id) DO UPDATE SET total_orders = EXCLUDED.total_orders, total_spent = EXCLUDED.total_spent,
		last_order_time = EXCLUDED.last_order_time, average_order_value = EXCLUDED.average_order_value`,
		rec.Key, m.TotalOrders, m.TotalSpent, m.LastOrderTime, m.AverageOrderValue)
	return nil
}

// orderTimeHeader carries an order's time, Unix nanoseconds in 8 bytes
// big-endian, from ByCustomerNode across the aggregation to StampNode,
// which removes it: kstream.Aggregate stamps an update with the latest time
// of its key so far (as Kafka Streams does), and this topology stamps it
// with its order's own time, so that a late order's update is late too.
const orderTimeHeader = "customermetrics-order-time"

// checkCustomerKey stops the app on an order keyed by other than its
// customer, and passes the others on with their time in orderTimeHeader.
func checkCustomerKey(ctx processor.Context[string, Order], rec processor.Record[string, Order]) error {
	o := rec.Value
	if rec.Key != o.CustomerID {
		return fmt.Errorf("order %q of customer %q has the key %q; produce orders keyed by their customerId", o.OrderID, o.CustomerID, rec.Key)
	}
	h := make([]processor.Header, len(rec.Headers), len(rec.Headers)+1)
	copy(h, rec.Headers)
	h = append(h, processor.Header{Key: orderTimeHeader, Value: binary.BigEndian.AppendUint64(nil, uint64(rec.Timestamp.UnixNano()))})
	return ctx.Forward(rec.WithHeaders(h))
}

// stampWithOrderTime gives a metrics update the time of its order, from
// the last orderTimeHeader, and removes that header.
func stampWithOrderTime(ctx processor.Context[string, Metrics], rec processor.Record[string, Metrics]) error {
	for i := len(rec.Headers) - 1; i >= 0; i-- {
		if h := rec.Headers[i]; h.Key == orderTimeHeader && len(h.Value) == 8 {
			rest := make([]processor.Header, 0, len(rec.Headers)-1)
			rest = append(append(rest, rec.Headers[:i]...), rec.Headers[i+1:]...)
			if len(rest) == 0 {
				rest = nil
			}
			ts := time.Unix(0, int64(binary.BigEndian.Uint64(h.Value)))
			return ctx.Forward(rec.WithHeaders(rest).WithTimestamp(ts))
		}
	}
	return fmt.Errorf("customermetrics: the metrics update of %q has no %s header; %s adds it to every order", rec.Key, orderTimeHeader, ByCustomerNode)
}

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
