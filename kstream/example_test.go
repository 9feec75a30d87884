package kstream_test

import (
	"fmt"
	"strings"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
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
		func(order, name string) string { return strings.Split(order, ":")[1] + " for " + name }).
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
	kstream.TableJoin(names, regions, func(name, region string) string { return name + " in " + region }).
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
