package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/examples/internal/wordcountrun"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

var expectedCounts, randomText = wordcountrun.ExpectedCounts, wordcountrun.RandomText

func TestTopologyCountsEveryWord(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "wordcount-dsl"})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, InputTopic, serde.String(), serde.String(), testdriver.WithAutoAdvance(time.Millisecond))
	out := testdriver.CreateOutputTopic(d, OutputTopic, serde.String(), CountSerde)

	require.NoError(t, in.PipeValue("hello kafka hello"))
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	require.Equal(t, []testdriver.KeyValue[string, int64]{{Key: "hello", Value: 1}, {Key: "kafka", Value: 1}, {Key: "hello", Value: 2}}, kvs,
		"every update is emitted, in order")

	lines := strings.Split(randomText(3, 500), "\n")
	require.NoError(t, in.PipeValues(lines))
	got, err := testdriver.ReadKeyValuesToMap(out)
	require.NoError(t, err)
	want := expectedCounts(append(lines, "hello kafka hello"))
	for w := range want {
		if _, ok := got[w]; !ok { // a word only in the first line
			got[w] = want[w]
		}
	}
	require.Equal(t, want, got)

	// The count's store is queryable under its name, with each count's
	// latest record time.
	counts, err := testdriver.TimestampedKeyValueStore[string, int64](d, CountsStore)
	require.NoError(t, err)
	var words []string
	for kv, err := range counts.All() {
		require.NoError(t, err)
		require.Equal(t, want[kv.Key], kv.Value.Value, kv.Key)
		words = append(words, kv.Key)
	}
	require.Equal(t, slices.Sorted(maps.Keys(want)), words)
}

var update = flag.Bool("update", false, "rewrite testdata/describe.*")

// The program's description, through main's -describe path, in each
// format, kept as golden files (go test -update rewrites them). No Kafka
// Streams test asserts WordCountDemo's description; kstream's
// TestDescribeMatchesKafkaStreams holds the DSL's names to the strings
// Kafka Streams' own tests do assert, and its word-count case to the one
// derived from Kafka Streams' naming code.
func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ args, golden string }{
		{"-describe", "describe.txt"},
		{"-describe=mermaid", "describe.mmd"},
		{"-describe=dot", "describe.dot"},
	} {
		o, err := wordcountrun.ParseFlags(flag.NewFlagSet("wordcount-dsl", flag.ContinueOnError), []string{c.args}, program)
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, wordcountrun.Describe(&out, program, o.Describe))
		path := filepath.Join("testdata", c.golden)
		if *update {
			require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./examples/wordcount-dsl -update to create %s", path)
		require.Equal(t, string(want), out.String(), c.args)
	}
}

// End to end on the embedded broker, as a user runs it: the lines printed
// are exactly the definition's, the same as examples/wordcount prints.
func TestRunOnEmbeddedKafkaPrintsExactCounts(t *testing.T) {
	t.Parallel()
	text := randomText(7, 2000)
	path := filepath.Join(t.TempDir(), "input.txt")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	var stdout, stderr bytes.Buffer
	err := wordcountrun.Run(context.Background(), program, wordcountrun.Options{Input: path, AppID: "wordcount-dsl-test", Partitions: 4, Timeout: time.Minute}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	want := expectedCounts(strings.Split(text, "\n"))
	var lines []string
	for _, w := range slices.Sorted(maps.Keys(want)) {
		lines = append(lines, fmt.Sprintf("%s %d", w, want[w]))
	}
	require.Equal(t, strings.Join(lines, "\n")+"\n", stdout.String())
}
