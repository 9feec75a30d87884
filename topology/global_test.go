package topology_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/topotest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

func globalKV(name string) state.StoreBuilder {
	return state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(name), serde.String(), serde.String()).WithLoggingDisabled()
}

func gsrc(topic string) topology.GlobalSource[string, string] {
	return topology.GlobalSource[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
}

// putAll is a state-update processor that writes every record to store.
func putAll(store string) processor.Supplier[string, string, struct{}, struct{}] {
	return func() processor.Processor[string, string, struct{}, struct{}] {
		return &putter{store: store}
	}
}

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

func TestAddGlobalStoreValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		build func(b *topology.Builder)
		want  []string
	}{
		{
			name: "topic also read by a stream source",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
				topology.AddSource(b, "stream", src("users"))
			},
			want: []string{`topic "users" feeds global store "g" and is also read by source "stream"`},
		},
		{
			name: "topic matched by a pattern source",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
				topology.AddSource(b, "stream", topology.Source[string, string]{Pattern: regexp.MustCompile("us.*"), KeySerde: serde.String(), ValueSerde: serde.String()})
			},
			want: []string{`topic "users" feeds global store "g" and matches the pattern of source "stream"`},
		},
		{
			name: "two global stores on one topic",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
				topology.AddGlobalStore(b, globalKV("h"), "h-source", gsrc("users"), "h-update", putAll("h"))
			},
			want: []string{`topic "users" feeds global store "g" and is also read by source "h-source"`},
		},
		{
			name: "source name taken",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", src("in"))
				topology.AddGlobalStore(b, globalKV("g"), "in", gsrc("users"), "g-update", putAll("g"))
			},
			want: []string{`node name "in" is used twice`},
		},
		{
			name: "processor name taken",
			build: func(b *topology.Builder) {
				in := topology.AddSource(b, "in", src("in"))
				topology.AddProcessor(b, "p", processor.Func(pass), in)
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "p", putAll("g"))
			},
			want: []string{`node name "p" is used twice`},
		},
		{
			name: "store name taken",
			build: func(b *topology.Builder) {
				in := topology.AddSource(b, "in", src("in"))
				topology.AddProcessor(b, "p", processor.Func(pass), in)
				b.AddStateStore(kv("g"), "p")
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
			},
			want: []string{`state store "g" is added twice`},
		},
		{
			name: "global store name taken by a store",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
				in := topology.AddSource(b, "in", src("in"))
				topology.AddProcessor(b, "p", processor.Func(pass), in)
				b.AddStateStore(kv("g"), "p")
			},
			want: []string{`state store "g" is added twice`},
		},
		{
			name: "source and processor with one name",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g", gsrc("users"), "g", putAll("g"))
			},
			want: []string{`global store "g": its source and its processor are both named "g"`},
		},
		{
			name: "nil supplier",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", nil)
			},
			want: []string{`global store "g" has a nil state-update supplier`},
		},
		{
			name: "nil store builder",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, nil, "g-source", gsrc("users"), "g-update", putAll("g"))
			},
			want: []string{`AddGlobalStore("g-source"): the store builder is nil`},
		},
		{
			name: "logging enabled",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, kv("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
			},
			want: []string{`global store "g" logs to a changelog; build it WithLoggingDisabled`},
		},
		{
			name: "no topic, no serdes",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", topology.GlobalSource[string, string]{}, "g-update", putAll("g"))
			},
			want: []string{`global store "g" has no topic`, `global store "g": its source "g-source" needs both KeySerde and ValueSerde`},
		},
		{
			name: "restored from a source topic",
			build: func(b *topology.Builder) {
				topology.AddGlobalStore(b, globalKV("g"), "g-source", gsrc("users"), "g-update", putAll("g"))
				b.RestoreFromSourceTopic("g", "users")
			},
			want: []string{`RestoreFromSourceTopic("g", "users"): "g" is a global store`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := topology.NewBuilder()
			c.build(b)
			_, err := b.Build()
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// A global store is a sub-topology of its own, numbered with the others,
// which Describe prints in Kafka Streams' GlobalStore format; a processor
// that connects to it is not joined to it. The expected string is derived
// from InternalTopologyBuilder.GlobalStore.toString and
// TopologyDescription.toString (no Kafka test asserts one).
func TestDescribeGlobalStore(t *testing.T) {
	t.Parallel()
	topo := globalStore(t)
	want := "Topologies:\n" +
		"   Sub-topology: 0\n" +
		"    Source: A-orders (topics: [orders])\n" +
		"      --> enrich\n" +
		"    Processor: enrich (stores: [])\n" +
		"      --> out\n" +
		"      <-- A-orders\n" +
		"    Sink: out (topic: enriched)\n" +
		"      <-- enrich\n" +
		"\n" +
		"  Sub-topology: 1 for global store (will not generate tasks)\n" +
		"    Source: B-customers-source (topics: [customers])\n" +
		"      --> B-customers-update\n" +
		"    Processor: B-customers-update (stores: [customers])\n" +
		"      --> none\n" +
		"      <-- B-customers-source\n" +
		"  Sub-topology: 2\n" +
		"    Source: C-clicks (topics: [clicks])\n" +
		"      --> none\n\n"
	require.Equal(t, want, topo.Describe().String())
	d := topo.Describe()
	require.Len(t, d.Subtopologies, 2)
	require.Equal(t, []int{0, 2}, []int{d.Subtopologies[0].ID, d.Subtopologies[1].ID})
	require.Len(t, d.GlobalStores, 1)
	require.Equal(t, 1, d.GlobalStores[0].ID)
}

// globalStore is topotest.GlobalStore.
func globalStore(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.GlobalStore()
	require.NoError(t, err)
	return topo
}

// A topology whose last sub-topology is a global store ends with it, with
// no blank line, as in Kafka Streams.
func TestDescribeGlobalStoreLast(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSource(b, "A", src("a"))
	topology.AddGlobalStore(b, globalKV("g"), "B", gsrc("g"), "B-update", putAll("g"))
	topo, err := b.Build()
	require.NoError(t, err)
	require.Equal(t, "Topologies:\n"+
		"   Sub-topology: 0\n"+
		"    Source: A (topics: [a])\n"+
		"      --> none\n\n"+
		"  Sub-topology: 1 for global store (will not generate tasks)\n"+
		"    Source: B (topics: [g])\n"+
		"      --> B-update\n"+
		"    Processor: B-update (stores: [g])\n"+
		"      --> none\n"+
		"      <-- B\n", topo.Describe().String())
}
