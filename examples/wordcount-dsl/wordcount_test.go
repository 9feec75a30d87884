package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
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

// expectedCounts is the definition, computed without the library: the
// lower-cased lines split on white space. examples/wordcount's tests hold
// the Processor API word count to the same definition, so the two print
// the same lines.
func expectedCounts(lines []string) map[string]int64 {
	m := map[string]int64{}
	for _, l := range lines {
		for _, w := range strings.Fields(strings.ToLower(l)) {
			m[w]++
		}
	}
	return m
}

// randomText has tabs, runs of spaces, blank lines, mixed case and
// non-ASCII words.
func randomText(seed uint64, lines int) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	vocab := []string{"Kafka", "streams", "GO", "go", "état", "x", "topology", "Punctuate", "ÉTAT"}
	seps := []string{" ", "  ", "\t", " \t ", "   "}
	var sb strings.Builder
	for i := range lines {
		if i%17 == 0 {
			sb.WriteString("\n")
			continue
		}
		for j := range 1 + rng.IntN(8) {
			if j > 0 {
				sb.WriteString(seps[rng.IntN(len(seps))])
			}
			sb.WriteString(vocab[rng.IntN(len(vocab))])
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

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

// The DSL program's description is Kafka Streams' for WordCountDemo with
// its store named "counts-store" (see kstream's golden tests).
func TestDescribe(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join("testdata", "describe.txt"))
	require.NoError(t, err)
	require.Equal(t, string(want), topo.Describe().String())
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
