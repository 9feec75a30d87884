package topology_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/topotest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./topology -update to create %s", path)
	require.Equal(t, string(want), got)
}

// wordCount is the word-count topology of the Processor API docs.
func wordCount(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	lines := topology.AddSource(b, "Source", src("streams-plaintext-input"))
	split := topology.AddProcessor(b, "Split", processor.Func(pass), lines)
	words := topology.AddRepartition(b, "words", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, split)
	count := topology.AddProcessor(b, "Count", processor.Func(pass), words)
	b.AddStateStore(kv("Counts"), "Count")
	topology.AddSink(b, "Sink", snk("streams-wordcount-output"), count)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

func TestDescribeWordCount(t *testing.T) {
	t.Parallel()
	golden(t, "wordcount.golden", wordCount(t).Describe().String())
}

// A store shared by processors under two sources joins them into one
// sub-topology; sub-topologies are numbered by their first source name, as
// in Kafka Streams, not by the order they were added; nodes print larger
// sub-trees first.
func TestDescribeGroupsBySharedStoreAndSortsLikeKafka(t *testing.T) {
	t.Parallel()
	d := sharedStore(t).Describe()
	require.Len(t, d.Subtopologies, 2)
	require.Equal(t, "orders", d.Subtopologies[0].Nodes[0].Name)
	require.Equal(t, "z-source", d.Subtopologies[1].Nodes[0].Name)
	golden(t, "shared-store.golden", d.String())
}

// sharedStore is topotest.SharedStore.
func sharedStore(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.SharedStore()
	require.NoError(t, err)
	return topo
}

func TestBuildReportsEveryProblem(t *testing.T) {
	t.Parallel()
	other := topology.NewBuilder()
	foreign := topology.AddSource(other, "foreign", src("f"))

	b := topology.NewBuilder()
	a := topology.AddSource(b, "a", src("t1"))
	topology.AddSource(b, "a", src("t2"))                                                       // duplicate name
	topology.AddSource(b, "no-topics", src())                                                   // no topics
	topology.AddSource(b, "no-serdes", topology.Source[string, string]{Topics: []string{"t3"}}) // no serdes
	topology.AddSource(b, "reads-t1-too", src("t1"))                                            // topic read twice
	topology.AddProcessor(b, "orphan", processor.Func(pass))                                    // no parent
	topology.AddProcessor(b, "foster", processor.Func(pass), foreign)                           // parent of another builder
	topology.AddProcessor(b, "lost", processor.Func(pass), topology.Node[string, string]{})     // unknown parent
	topology.AddSink(b, "nowhere", topology.Sink[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, a)
	p := topology.AddProcessor(b, "p", processor.Func(pass), a)
	b.ConnectProcessorAndStateStores(p.Name(), "never-added")
	b.AddStateStore(kv("lonely"))
	b.AddStateStore(kv("to-ghost"), "ghost")

	_, err := b.Build()
	var te *topology.Error
	require.ErrorAs(t, err, &te)
	require.ElementsMatch(t, []string{
		`node name "a" is used twice; node names must be unique`,
		`source "no-topics" has no topics; set Topics or Pattern`,
		`source "no-serdes" needs both KeySerde and ValueSerde`,
		`topic "t1" is read by both source "a" and source "reads-t1-too"; one source may list several topics instead`,
		`processor "orphan" has no parent; pass the node(s) it reads from`,
		`processor "foster" has parent "foreign" from another Builder`,
		`processor "lost" has unknown parent ""; add the parent first`,
		`sink "nowhere" has no topic; set Topic or TopicChooser`,
		`processor "p" is connected to store "never-added", which was never added; call AddStateStore`,
		`state store "lonely" is connected to no processor; name the processors in AddStateStore or call ConnectProcessorAndStateStores`,
		`store "to-ghost" is connected to processor "ghost", which was never added; add it with AddProcessor`,
		`state store "to-ghost" is connected to no processor; name the processors in AddStateStore or call ConnectProcessorAndStateStores`,
	}, te.Problems)
	require.Contains(t, err.Error(), "topology: 12 problem(s):\n  - ")
}

func TestBuildRejectsEmptyAndSourcelessTopologies(t *testing.T) {
	t.Parallel()
	_, err := topology.NewBuilder().Build()
	require.ErrorContains(t, err, "the topology has no nodes; add a source with AddSource")

	b := topology.NewBuilder()
	topology.AddSource(b, "s", topology.Source[string, string]{Topics: []string{"t"}, Pattern: regexp.MustCompile("x"), KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddSink(b, "k", topology.Sink[string, string]{Topic: "a", TopicChooser: func(processor.Record[string, string]) (string, error) { return "", nil }, KeySerde: serde.String(), ValueSerde: serde.String()}, topology.Node[string, string]{})
	_, err = b.Build()
	require.ErrorContains(t, err, `source "s" has both Topics and Pattern; set one of them`)
	require.ErrorContains(t, err, `sink "k" has both Topic and TopicChooser; set one of them`)

	b = topology.NewBuilder()
	topology.AddSource(b, "s", topology.Source[string, string]{Topics: []string{"t"}, OffsetReset: "oldest", KeySerde: serde.String(), ValueSerde: serde.String()})
	_, err = b.Build()
	require.ErrorContains(t, err, `source "s": OffsetReset "oldest" is not one of "earliest", "latest" or ""`)
}

func TestBuildOnce(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	topology.AddSource(b, "s", src("t"))
	_, err := b.Build()
	require.NoError(t, err)
	_, err = b.Build()
	require.ErrorContains(t, err, "Build was already called")
}

// RestoreFromSourceTopic names a store and a topic its sub-topology reads;
// the store must not log to a changelog of its own, and be a key-value
// store.
func TestRestoreFromSourceTopicIsChecked(t *testing.T) {
	build := func(logged bool, topic string) error {
		b := topology.NewBuilder()
		src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"users"}, KeySerde: serde.String(), ValueSerde: serde.String()})
		topology.AddProcessor(b, "keep", processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }), src)
		sb := state.NewTimestampedKeyValueStoreBuilder(state.InMemoryKeyValueStore("users-store"), serde.String(), serde.String())
		if !logged {
			sb.WithLoggingDisabled()
		}
		b.AddStateStore(sb, "keep")
		b.RestoreFromSourceTopic("users-store", topic)
		b.RestoreFromSourceTopic("nope", "users")
		_, err := b.Build()
		return err
	}
	err := build(true, "other")
	require.ErrorContains(t, err, `RestoreFromSourceTopic("users-store", "other"): no source reads topic "other"`)
	require.ErrorContains(t, err, `RestoreFromSourceTopic("nope", "users"): there is no store "nope"`)
	err = build(true, "users")
	require.ErrorContains(t, err, `store "users-store" logs to a changelog of its own; build it WithLoggingDisabled`)
}
