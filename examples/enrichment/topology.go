package main

import (
	"encoding/json"
	"time"

	"github.com/gostreams/streams/examples/internal/orders"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// The topics and the store of the enrichment topology.
const (
	OrdersTopic    = "orders"
	CustomersTopic = "customers"
	OutputTopic    = "enriched-orders"
	CustomersStore = "customers"
)

// DefaultHistory is how far back the customers table answers by default.
const DefaultHistory = 30 * 24 * time.Hour

// Enriched is an order with its customer's name and tier as of the order's
// event time; nil when the customer did not exist then (or was deleted).
type Enriched struct {
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId"`
	Amount     float64   `json:"amount"`
	Category   string    `json:"category"`
	EventTime  time.Time `json:"eventTime"`
	Name       *string   `json:"name"`
	Tier       *string   `json:"tier"`
}

// Topology joins each order (keyed by customer) to the version of its
// customer valid at the order's event time: the customers topic read as a
// versioned table, keeping history of history, left-joined by the orders.
func Topology(history time.Duration) (*topology.Topology, error) {
	sb := kstream.NewStreamsBuilder()
	customers := kstream.Table(sb, CustomersTopic,
		kstream.Consumed[string, *Customer]{KeySerde: serde.String(), ValueSerde: CustomerSerde},
		kstream.Materialized[string, *Customer]{Name: CustomersStore, Versioned: true, HistoryRetention: history})
	ordersStream := kstream.Stream(sb, []string{OrdersTopic}, kstream.Consumed[string, orders.Order]{KeySerde: serde.String(), ValueSerde: orders.Serde})
	kstream.LeftJoinTable(ordersStream, customers, enrich).
		To(OutputTopic, kstream.Produced[string, Enriched]{ValueSerde: serde.JSON[Enriched]()})
	return sb.Build()
}

func enrich(_ string, o orders.Order, c *Customer, found bool) Enriched {
	e := Enriched{OrderID: o.OrderID, CustomerID: o.CustomerID, Amount: o.Amount, Category: o.Category, EventTime: o.EventTime}
	if found {
		e.Name, e.Tier = &c.Name, &c.Tier
	}
	return e
}

// line is an enriched order's output line.
func line(e Enriched) ([]byte, error) { return json.Marshal(e) }
