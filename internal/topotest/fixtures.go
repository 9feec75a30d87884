// Package topotest holds topologies that several packages' tests describe
// or draw (topology's text and picture goldens, the monitor's SVG): one
// definition, so that a golden of one package and a picture of another
// show the same thing. Only external test packages import it (it imports
// topology).
package topotest

import (
	"regexp"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

func src(topics ...string) topology.Source[string, string] {
	return topology.Source[string, string]{Topics: topics, KeySerde: serde.String(), ValueSerde: serde.String()}
}

func snk(topic string) topology.Sink[string, string] {
	return topology.Sink[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
}

func pass(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
	return ctx.Forward(rec)
}

func kv(name string) state.StoreBuilder {
	return state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(name), serde.String(), serde.String())
}

// Repartitions has four sub-topologies: orders repartitioned two ways to
// two counts, whose output the fourth reads back.
func Repartitions() (*topology.Topology, error) {
	b := topology.NewBuilder()
	rp := topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	orders := topology.AddSource(b, "orders", src("orders"))
	byCustomer := topology.AddRepartition(b, "by-customer", rp, topology.AddProcessor(b, "key-by-customer", processor.Func(pass), orders))
	byRegion := topology.AddRepartition(b, "by-region", rp, topology.AddProcessor(b, "key-by-region", processor.Func(pass), orders))
	topology.AddSink(b, "customer-counts", snk("customer-counts"), topology.AddProcessor(b, "count-customers", processor.Func(pass), byCustomer))
	b.AddStateStore(kv("customer-counts-store"), "count-customers")
	topology.AddSink(b, "region-counts", snk("region-counts"), topology.AddProcessor(b, "count-regions", processor.Func(pass), byRegion))
	b.AddStateStore(kv("region-counts-store"), "count-regions")
	counts := topology.AddSource(b, "read-customer-counts", src("customer-counts"))
	topology.AddSink(b, "alerts", snk("alerts"), topology.AddProcessor(b, "alert", processor.Func(pass), counts))
	return b.Build()
}

// GlobalStore has a global store's sub-topology between two others, and a
// processor of another sub-topology that reads the store.
func GlobalStore() (*topology.Topology, error) {
	b := topology.NewBuilder()
	orders := topology.AddSource(b, "A-orders", src("orders"))
	enrich := topology.AddProcessor(b, "enrich", processor.Func(pass), orders)
	b.ConnectProcessorAndStateStores("enrich", "customers")
	topology.AddSink(b, "out", snk("enriched"), enrich)
	topology.AddGlobalStore(b,
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("customers"), serde.String(), serde.String()).WithLoggingDisabled(),
		"B-customers-source", topology.GlobalSource[string, string]{Topic: "customers", KeySerde: serde.String(), ValueSerde: serde.String()},
		"B-customers-update", func() processor.Processor[string, string, struct{}, struct{}] { return &putter{store: "customers"} })
	topology.AddSource(b, "C-clicks", src("clicks"))
	return b.Build()
}

// putter writes every record to its store.
type putter struct {
	store string
	kv    state.KeyValueStore[string, string]
}

func (p *putter) Init(ctx processor.Context[struct{}, struct{}]) error {
	var err error
	p.kv, err = processor.GetStore[state.KeyValueStore[string, string]](ctx, p.store)
	return err
}

func (p *putter) Process(rec processor.Record[string, string]) error {
	return p.kv.Put(rec.Key, rec.Value)
}
func (p *putter) Close() error { return nil }

// SharedStore has two sources, one of them a pattern's, whose processors
// share a store, and a sink with a TopicChooser.
func SharedStore() (*topology.Topology, error) {
	b := topology.NewBuilder()
	z := topology.AddSource(b, "z-source", src("z"))
	topology.AddSink(b, "z-sink", snk("z-out"), topology.AddProcessor(b, "z-proc", processor.Func(pass), z))

	orders := topology.AddSource(b, "orders", src("orders"))
	payments := topology.AddSource(b, "payments", topology.Source[string, string]{Pattern: regexp.MustCompile(`payments-.*`), KeySerde: serde.String(), ValueSerde: serde.String()})
	po := topology.AddProcessor(b, "join-orders", processor.Func(pass), orders)
	pp := topology.AddProcessor(b, "join-payments", processor.Func(pass), payments)
	b.AddStateStore(kv("joined"), "join-orders")
	b.ConnectProcessorAndStateStores("join-payments", "joined")
	enrich := topology.AddProcessor(b, "enrich", processor.Func(pass), po, pp)
	topology.AddSink(b, "a-sink", snk("enriched"), enrich)
	topology.AddSink(b, "audit", topology.Sink[string, string]{
		TopicChooser: func(processor.Record[string, string]) (string, error) { return "audit", nil },
		KeySerde:     serde.String(), ValueSerde: serde.String(),
	}, po)
	return b.Build()
}
