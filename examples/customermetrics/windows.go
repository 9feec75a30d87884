package main

import (
	"math"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// The windowed outputs of the topology, their aggregations and windows.
const (
	CategoryRevenue5mTopic = "category-revenue-5m"
	CategoryRevenue1hTopic = "category-revenue-1h"
	CustomerSessionsTopic  = "customer-sessions"

	ByCategoryNode = "ByCategory"
	ByCategory     = "by-category" // the repartition by category
	Revenue5mNode  = "Revenue5m"
	Revenue1hNode  = "Revenue1h"
	SessionsNode   = "Sessions"

	// DefaultGrace is how late an order may come for its windows and
	// sessions, unless -grace says otherwise.
	DefaultGrace = 5 * time.Second
)

// Windows of the aggregations, before their grace period is set.
var (
	Revenue5mWindows = window.Tumbling(5 * time.Minute)
	Revenue1hWindows = window.Hopping(time.Hour, 10*time.Minute)
	SessionWindows   = window.Session(30 * time.Minute)
)

// revenue is what a window or session keeps: its orders and their total in
// cents, exact.
type revenue struct {
	Orders int64 `json:"orders"`
	Cents  int64 `json:"cents"`
}

var revenueSerde = serde.JSON[revenue]()

func (r revenue) add(o Order) revenue {
	r.Orders++
	r.Cents += int64(math.Round(o.Amount * 100))
	return r
}

func (r revenue) total() float64 { return float64(r.Cents) / 100 }

// CategoryRevenue is a record of CategoryRevenue5mTopic: a category's
// orders in one 5-minute window.
type CategoryRevenue struct {
	OrderCount    int64   `json:"orderCount"`
	TotalRevenue  float64 `json:"totalRevenue"`
	AvgOrderValue float64 `json:"avgOrderValue"`
}

// MovingRevenue is a record of CategoryRevenue1hTopic: a category's orders
// in one hour-long window; windows start every 10 minutes, so each order
// is in six of them. MovingAvgRevenue is the window's revenue per order.
type MovingRevenue struct {
	OrderCount       int64   `json:"orderCount"`
	MovingAvgRevenue float64 `json:"movingAvgRevenue"`
}

// CustomerSession is a record of CustomerSessionsTopic: a customer's orders
// with no gap of 30 minutes or more between them.
type CustomerSession struct {
	OrdersInSession        int64   `json:"ordersInSession"`
	SessionTotal           float64 `json:"sessionTotal"`
	SessionDurationMinutes int64   `json:"sessionDurationMinutes"`
}

// addWindows adds the windowed aggregations to b, fed by orders keyed by
// customer: per category (through a repartition) 5-minute tumbling and
// hourly hopping revenue, per customer 30-minute sessions; each emits a
// window's result once, when it closes (end + grace, by stream time).
func addWindows(b *topology.Builder, orders topology.Node[string, Order], grace time.Duration) {
	initial := func() revenue { return revenue{} }
	add := func(_ string, o Order, r revenue) revenue { return r.add(o) }

	byCategory := topology.AddProcessor(b, ByCategoryNode, processor.Func(func(ctx processor.Context[string, Order], rec processor.Record[string, Order]) error {
		return ctx.Forward(rec.WithKey(rec.Value.Category))
	}), orders)
	categories := topology.AddRepartition(b, ByCategory, topology.Repartition[string, Order]{KeySerde: serde.String(), ValueSerde: OrderSerde}, byCategory)

	w5 := Revenue5mWindows.WithGrace(grace)
	r5 := window.AddTimeAggregation(b, Revenue5mNode, window.TimeAggregation[string, Order, revenue]{
		Windows: w5, Store: Revenue5mNode, KeySerde: serde.String(), AggSerde: revenueSerde,
		Init: initial, Add: add, Emit: window.EmitOnWindowClose,
	}, categories)
	out5 := topology.AddProcessor(b, Revenue5mNode+"Values", mapValues(func(r revenue) CategoryRevenue {
		return CategoryRevenue{OrderCount: r.Orders, TotalRevenue: r.total(), AvgOrderValue: r.total() / float64(r.Orders)}
	}), r5)
	topology.AddSink(b, CategoryRevenue5mTopic, topology.Sink[state.Windowed[string], CategoryRevenue]{
		Topic: CategoryRevenue5mTopic, KeySerde: window.TimeWindowedSerde(serde.String(), w5.Size), ValueSerde: serde.JSON[CategoryRevenue](),
	}, out5)

	w1 := Revenue1hWindows.WithGrace(grace)
	r1 := window.AddTimeAggregation(b, Revenue1hNode, window.TimeAggregation[string, Order, revenue]{
		Windows: w1, Store: Revenue1hNode, KeySerde: serde.String(), AggSerde: revenueSerde,
		Init: initial, Add: add, Emit: window.EmitOnWindowClose,
	}, categories)
	out1 := topology.AddProcessor(b, Revenue1hNode+"Values", mapValues(func(r revenue) MovingRevenue {
		return MovingRevenue{OrderCount: r.Orders, MovingAvgRevenue: r.total() / float64(r.Orders)}
	}), r1)
	topology.AddSink(b, CategoryRevenue1hTopic, topology.Sink[state.Windowed[string], MovingRevenue]{
		Topic: CategoryRevenue1hTopic, KeySerde: window.TimeWindowedSerde(serde.String(), w1.Size), ValueSerde: serde.JSON[MovingRevenue](),
	}, out1)

	sessions := window.AddSessionAggregation(b, SessionsNode, window.SessionAggregation[string, Order, revenue]{
		Windows: SessionWindows.WithGrace(grace), Store: SessionsNode, KeySerde: serde.String(), AggSerde: revenueSerde,
		Init: initial, Add: add,
		Merge: func(_ string, a, b revenue) revenue {
			return revenue{Orders: a.Orders + b.Orders, Cents: a.Cents + b.Cents}
		},
		Emit: window.EmitOnWindowClose,
	}, orders)
	outS := topology.AddProcessor(b, SessionsNode+"Values", processor.Func(func(ctx processor.Context[state.Windowed[string], CustomerSession], rec processor.Record[state.Windowed[string], revenue]) error {
		r := rec.Value
		return ctx.Forward(processor.Derive(rec, rec.Key, CustomerSession{
			OrdersInSession: r.Orders, SessionTotal: r.total(),
			SessionDurationMinutes: int64(rec.Key.End.Sub(rec.Key.Start) / time.Minute),
		}))
	}), sessions)
	topology.AddSink(b, CustomerSessionsTopic, topology.Sink[state.Windowed[string], CustomerSession]{
		Topic: CustomerSessionsTopic, KeySerde: window.SessionWindowedSerde(serde.String()), ValueSerde: serde.JSON[CustomerSession](),
	}, outS)
}

// mapValues returns a processor that maps each windowed result with f.
func mapValues[T any](f func(revenue) T) processor.Supplier[state.Windowed[string], revenue, state.Windowed[string], T] {
	return processor.Func(func(ctx processor.Context[state.Windowed[string], T], rec processor.Record[state.Windowed[string], revenue]) error {
		return ctx.Forward(processor.Derive(rec, rec.Key, f(rec.Value)))
	})
}
