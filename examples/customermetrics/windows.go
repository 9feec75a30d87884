package main

import (
	"math"
	"time"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
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

// addWindows adds the windowed aggregations to sb, fed by orders keyed by
// customer: per category (through a repartition) 5-minute tumbling and
// hourly hopping revenue, per customer 30-minute sessions. Each emits a
// window's result once, when it closes (end + grace, by stream time), with
// window.EmitOnWindowClose: the windows that close together come out by
// start and then key, each stamped with its end (a session's end, a time
// window's end less 1 ms). Suppress(kstream.UntilWindowCloses) would give
// the same windows and values, but in the order they were first updated
// and stamped with their latest order's time.
//
// Each aggregation's processor and store keep the names of the Processor
// API version of this example (Revenue5m, Revenue1h, Sessions), which
// window.LateRecords and the logs name.
func addWindows(sb *kstream.StreamsBuilder, orders kstream.KStream[string, Order], grace time.Duration) {
	initial := func() revenue { return revenue{} }
	add := func(_ string, o Order, r revenue) revenue { return r.add(o) }
	// materialized names both an aggregation's processor and its store.
	materialized := func(name string) kstream.Materialized[string, revenue] {
		return kstream.Materialized[string, revenue]{Name: name, Named: kstream.Named(name), ValueSerde: revenueSerde}
	}

	byCategory := kstream.SelectKey(orders, func(_ string, o Order) string { return o.Category }, ByCategoryNode).
		Repartition(kstream.Repartitioned[string, Order]{KeySerde: serde.String(), ValueSerde: OrderSerde, Name: ByCategory}).
		GroupByKey()

	r5 := kstream.WindowedBy(byCategory, Revenue5mWindows.WithGrace(grace)).EmitStrategy(window.EmitOnWindowClose)
	kstream.MapValues(kstream.WindowedAggregate(r5, initial, add, materialized(Revenue5mNode)).ToStream(), func(r revenue) CategoryRevenue {
		return CategoryRevenue{OrderCount: r.Orders, TotalRevenue: r.total(), AvgOrderValue: r.total() / float64(r.Orders)}
	}, Revenue5mNode+"Values").To(CategoryRevenue5mTopic, kstream.Produced[state.Windowed[string], CategoryRevenue]{
		ValueSerde: serde.JSON[CategoryRevenue](), Name: CategoryRevenue5mTopic,
	})

	r1 := kstream.WindowedBy(byCategory, Revenue1hWindows.WithGrace(grace)).EmitStrategy(window.EmitOnWindowClose)
	kstream.MapValues(kstream.WindowedAggregate(r1, initial, add, materialized(Revenue1hNode)).ToStream(), func(r revenue) MovingRevenue {
		return MovingRevenue{OrderCount: r.Orders, MovingAvgRevenue: r.total() / float64(r.Orders)}
	}, Revenue1hNode+"Values").To(CategoryRevenue1hTopic, kstream.Produced[state.Windowed[string], MovingRevenue]{
		ValueSerde: serde.JSON[MovingRevenue](), Name: CategoryRevenue1hTopic,
	})

	sessions := kstream.WindowedBySession(orders.GroupByKey(), SessionWindows.WithGrace(grace)).EmitStrategy(window.EmitOnWindowClose)
	merge := func(_ string, a, b revenue) revenue {
		return revenue{Orders: a.Orders + b.Orders, Cents: a.Cents + b.Cents}
	}
	kstream.MapValuesWithKey(kstream.SessionAggregate(sessions, initial, add, merge, materialized(SessionsNode)).ToStream(), func(s state.Windowed[string], r revenue) CustomerSession {
		return CustomerSession{OrdersInSession: r.Orders, SessionTotal: r.total(), SessionDurationMinutes: int64(s.End.Sub(s.Start) / time.Minute)}
	}, SessionsNode+"Values").To(CustomerSessionsTopic, kstream.Produced[state.Windowed[string], CustomerSession]{
		ValueSerde: serde.JSON[CustomerSession](), Name: CustomerSessionsTopic,
	})
}
