package kstream_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// wordCount is Kafka Streams' WordCountDemo in the DSL.
func wordCount(t testing.TB, m kstream.Materialized[string, int64]) *topology.Topology {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"streams-plaintext-input"}, kstream.Consumed[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String()})
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := kstream.GroupBy(words, func(_, w string) string { return w }).Count(m)
	counts.ToStream().To("streams-wordcount-output", kstream.Produced[string, int64]{ValueSerde: serde.Int64()})
	topo, err := sb.Build()
	require.NoError(t, err)
	return topo
}

func TestWordCount(t *testing.T) {
	topo := wordCount(t, kstream.Materialized[string, int64]{Name: "counts-store"})
	t.Log(topo.Describe())
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "streams-plaintext-input", serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, "streams-wordcount-output", serde.String(), serde.Int64())
	require.NoError(t, in.PipeValues([]string{"all streams lead to kafka", "hello kafka streams", "join kafka summit"}))
	got, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"all": 1, "streams": 2, "lead": 1, "to": 1, "kafka": 3, "hello": 1, "join": 1, "summit": 1}, got)
	store, err := testdriver.TimestampedKeyValueStore[string, int64](d, "counts-store")
	require.NoError(t, err)
	v, ok, err := store.Get("kafka")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(3), v.Value)
}
