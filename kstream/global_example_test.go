package kstream_test

import (
	"fmt"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// Orders enriched with their customer's name from a global table, which
// every instance holds whole: the join needs no repartition, whatever the
// orders are keyed by.
func ExampleJoinGlobal() {
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	sb := kstream.NewStreamsBuilder()
	customers := kstream.GlobalTable(sb, "customers", strs)
	orders := kstream.Stream(sb, []string{"orders"}, strs) // value: the customer's id
	kstream.LeftJoinGlobal(orders, customers,
		func(_, customer string) string { return customer },
		func(_, customer, name string, _ bool) string { return customer + ": " + name },
	).To("enriched")
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
	testdriver.CreateInputTopic(d, "customers", serde.String(), serde.String()).PipeKeyValue("c1", "Alice")
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.String())
	_ = in.PipeKeyValue("order-1", "c1")
	_ = in.PipeKeyValue("order-2", "c2")
	kvs, _ := testdriver.CreateOutputTopic(d, "enriched", serde.String(), serde.String()).ReadKeyValues()
	for _, kv := range kvs {
		fmt.Printf("%s %q\n", kv.Key, kv.Value)
	}
	// Output:
	// order-1 "c1: Alice"
	// order-2 "c2: "
}
