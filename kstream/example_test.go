package kstream_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// The word count, Kafka Streams' WordCountDemo, run in the test driver.
func Example() {
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"text"}, kstream.Consumed[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String(),
	})
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	kstream.GroupBy(words, func(_, word string) string { return word }).
		Count(kstream.Materialized[string, int64]{Name: "counts"}).
		ToStream().
		To("word-counts")
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "text", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "word-counts", serde.String(), serde.Int64())
	_ = in.PipeValue("Hello Kafka Streams")
	_ = in.PipeValue("hello Go")
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// hello 1
	// kafka 1
	// streams 1
	// hello 2
	// go 1
}

// A table of users re-grouped by region: when a user moves, the old region
// loses them and the new one gains them.
func ExampleGroupByTable() {
	sb := kstream.NewStreamsBuilder()
	users := kstream.Table(sb, "users", kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	kstream.GroupByTable(users, func(_, region string) (string, string) { return region, region }).
		Count().ToStream().To("users-per-region")
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "users", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "users-per-region", serde.String(), serde.Int64())
	_ = in.PipeKeyValue("alice", "eu")
	_ = in.PipeKeyValue("bob", "eu")
	_ = in.PipeKeyValue("alice", "us")
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// eu 1
	// eu 2
	// eu 1
	// us 1
}

// Orders joined to a versioned table of customer tiers: each order meets
// the tier its customer had at the order's time, although the update came
// before the older order.
func ExampleLeftJoinTable() {
	sb := kstream.NewStreamsBuilder()
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	tiers := kstream.Table(sb, "tiers", strs, kstream.Materialized[string, string]{Name: "tiers", Versioned: true, HistoryRetention: 24 * time.Hour})
	orders := kstream.Stream(sb, []string{"orders"}, strs)
	kstream.LeftJoinTable(orders, tiers, func(customer, order, tier string, found bool) string {
		if !found {
			tier = "none"
		}
		return order + " by " + customer + " (" + tier + ")"
	}).To("enriched", kstream.Produced[string, string]{ValueSerde: serde.String()})
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tierIn := testdriver.CreateInputTopic(d, "tiers", serde.String(), serde.String())
	orderIn := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "enriched", serde.String(), serde.String())
	_ = tierIn.Pipe("alice", "silver", t0)
	_ = tierIn.Pipe("alice", "gold", t0.Add(time.Hour))
	_ = orderIn.Pipe("alice", "o-2", t0.Add(2*time.Hour))
	_ = orderIn.Pipe("alice", "o-1", t0.Add(30*time.Minute)) // older: silver then
	_ = orderIn.Pipe("bob", "o-3", t0.Add(time.Hour))
	values, _ := out.ReadValues()
	for _, v := range values {
		fmt.Println(v)
	}
	// Output:
	// o-2 by alice (gold)
	// o-1 by alice (silver)
	// o-3 by bob (none)
}

// Orders matched with their payments within ten minutes. An order that
// finds no payment comes out unpaid once its ten minutes (and the grace
// period) have passed, not before.
func ExampleLeftJoin() {
	sb := kstream.NewStreamsBuilder()
	orders := kstream.Stream(sb, []string{"orders"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	payments := kstream.Stream(sb, []string{"payments"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	kstream.LeftJoin(orders, payments, func(id, order, payment string, paid bool) string {
		if !paid {
			return order + " unpaid"
		}
		return order + " paid by " + payment
	}, window.JoinTimeDifferenceAndGrace(10*time.Minute, time.Minute)).To("matched")
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	noon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	pay := testdriver.CreateInputTopic(d, "payments", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "matched", serde.String(), serde.String())
	_ = in.Pipe("o1", "2 books", noon)
	_ = in.Pipe("o2", "a lamp", noon.Add(time.Minute))
	_ = pay.Pipe("o1", "card", noon.Add(5*time.Minute))
	_ = in.Pipe("o3", "a chair", noon.Add(30*time.Minute)) // o2's window has closed
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp.Format("15:04"))
	}
	// Output:
	// o1 2 books paid by card 12:05
	// o2 a lamp unpaid 12:01
}

// Orders joined with their customers' names by the order's customer id, a
// foreign key: a customer's new name reaches each of their orders.
func ExampleForeignKeyJoin() {
	sb := kstream.NewStreamsBuilder()
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	// An order's value is "customer-id:item".
	orders := kstream.Table(sb, "orders", strs)
	customers := kstream.Table(sb, "customers", strs)
	kstream.ForeignKeyJoin(orders, customers,
		func(order string) string { return strings.Split(order, ":")[0] },
		func(_, order, name string) string { return strings.Split(order, ":")[1] + " for " + name }).
		ToStream().To("orders-with-names")
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	o := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	c := testdriver.CreateInputTopic(d, "customers", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "orders-with-names", serde.String(), serde.String())
	_ = c.PipeKeyValue("c1", "Alice")
	_ = o.PipeKeyValue("o1", "c1:book")
	_ = o.PipeKeyValue("o2", "c1:pen")
	_ = c.PipeKeyValue("c1", "Alice B.")
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// o1 book for Alice
	// o2 pen for Alice
	// o1 book for Alice B.
	// o2 pen for Alice B.
}

// Two tables of the same key joined: a user's name and their region, kept
// together as either changes.
func ExampleTableJoin() {
	sb := kstream.NewStreamsBuilder()
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	names := kstream.Table(sb, "names", strs)
	regions := kstream.Table(sb, "regions", strs)
	kstream.TableJoin(names, regions, func(_, name, region string) string { return name + " in " + region }).
		ToStream().To("users")
	topo, err := sb.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := testdriver.New(topo, testdriver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	n := testdriver.CreateInputTopic(d, "names", serde.String(), serde.String())
	r := testdriver.CreateInputTopic(d, "regions", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "users", serde.String(), serde.String())
	_ = n.PipeKeyValue("u1", "alice")
	_ = r.PipeKeyValue("u1", "eu") // both sides now: a result
	_ = r.PipeKeyValue("u1", "us")
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// u1 alice in eu
	// u1 alice in us
}
