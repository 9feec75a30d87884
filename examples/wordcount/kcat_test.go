package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
)

// kcat runs kcat (librdkafka's command-line client) against brokers.
func kcat(t *testing.T, ctx context.Context, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	require.NoError(t, err, "this test needs kcat: apt-get install -y kcat (make setup installs it)")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "kcat %v: %s", args, errOut.String())
	return out.String()
}

// A client nobody here wrote agrees with us: kcat produces the lines and
// reads the counts back, and they are exactly the counts of the text.
func TestWordCountWithKcat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := embedded.Start()
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.CreateTopic(ctx, InputTopic, 3))
	require.NoError(t, c.CreateTopic(ctx, OutputTopic, 3))
	broker := c.Addrs()[0]

	text := "The quick brown fox\njumps over the lazy dog\nTHE END of the fox\n\tand  the dog\n"
	kcat(t, ctx, text, "-P", "-b", broker, "-t", InputTopic)

	topo, err := Topology()
	require.NoError(t, err)
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "wordcount-kcat", Brokers: c.Addrs(), StateDir: t.TempDir(),
		CommitInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	require.NoError(t, c.RunUntilCaughtUp(ctx, app, "wordcount-kcat", InputTopic, streams.RepartitionTopic("wordcount-kcat", RepartitionName)))

	// -e: exit at the end of every partition; %k %s: key and value as text.
	out := kcat(t, ctx, "", "-C", "-b", broker, "-t", OutputTopic, "-o", "beginning", "-e", "-q", "-f", "%k %s\n")
	got := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		w, n, ok := strings.Cut(line, " ")
		require.True(t, ok, "kcat line %q", line)
		count, err := strconv.ParseInt(n, 10, 64)
		require.NoError(t, err, "kcat line %q", line)
		got[w] = max(got[w], count) // counts of a word only grow
	}
	want := expectedCounts(strings.Split(text, "\n"))
	require.Equal(t, want, got)
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
}
