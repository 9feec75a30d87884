package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runT runs the command with args and returns its exit status, stdout and
// stderr.
func runT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctxT(t), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Bad flags are refused before any connection, naming the flag and what
// is wrong with it (exit status 2).
func TestBadFlags(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.csv")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no application id", []string{"--input-topics", "in"}, "streams-reset: --application-id is required: the app's streams.Config.ApplicationID, its consumer group"},
		{"empty application id", []string{"--application-id", ""}, "--application-id is required"},
		{"two positions", []string{"--application-id", "app", "--input-topics", "in", "--to-latest", "--shift-by", "-5"},
			"streams-reset: --to-latest and --shift-by conflict: give at most one of --to-earliest, --to-latest, --to-datetime, --by-duration, --shift-by, --to-offset, --from-file"},
		{"three positions", []string{"--application-id", "app", "--input-topics", "in", "--to-earliest", "--to-offset", "3", "--to-datetime", "2024-05-01T00:00:00Z"},
			"--to-earliest and --to-datetime and --to-offset conflict"},
		{"bad datetime", []string{"--application-id", "app", "--input-topics", "in", "--to-datetime", "yesterday"},
			`--to-datetime: reset: bad datetime "yesterday": want RFC 3339 (2024-05-01T00:00:00Z) or Kafka's yyyy-MM-ddTHH:mm:ss.SSS`},
		{"bad duration", []string{"--application-id", "app", "--input-topics", "in", "--by-duration", "P1H"},
			`--by-duration: reset: bad duration "P1H": want ISO-8601 PnDTnHnMnS`},
		{"negative duration", []string{"--application-id", "app", "--input-topics", "in", "--by-duration", "-PT1H"},
			`--by-duration "-PT1H" is negative: it goes back from now`},
		{"position without inputs", []string{"--application-id", "app", "--shift-by", "-5"},
			"--shift-by moves the offsets of the input topics, and no --input-topics are given"},
		{"empty topic", []string{"--application-id", "app", "--input-topics", "a,,b"}, `--input-topics: "a,,b" has an empty element`},
		{"bad shift", []string{"--application-id", "app", "--input-topics", "in", "--shift-by", "five"}, `invalid value "five" for flag -shift-by`},
		{"unknown flag", []string{"--application-id", "app", "--to-earlist"}, "flag provided but not defined: -to-earlist"},
		{"arguments", []string{"--application-id", "app", "in"}, `unexpected arguments ["in"]: every option is a flag`},
		{"both broker flags", []string{"--application-id", "app", "--bootstrap-server", "a:1", "--bootstrap-servers", "b:1"},
			"--bootstrap-server and --bootstrap-servers are the same flag; give one"},
		{"no brokers", []string{"--application-id", "app", "--bootstrap-server", ""}, `--bootstrap-server "": want HOST1:PORT1,HOST2:PORT2`},
		{"missing file", []string{"--application-id", "app", "--input-topics", "in", "--from-file", missing}, "--from-file: open " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runT(t, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, _, stderr := runT(t, "-h")
	require.Equal(t, 0, code)
	for _, want := range []string{"Usage: streams-reset --application-id ID", "App.CleanUp()", "-bootstrap-server brokers", "-by-duration duration", "-dry-run"} {
		require.Contains(t, stderr, want)
	}
}

// The command against an in-process Kafka: a dry run prints the steps and
// changes nothing; the reset does them; an unknown topic and an active
// group fail (exit status 1), naming the problem.
func TestAgainstTheEmbeddedCluster(t *testing.T) {
	t.Parallel()
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx := ctxT(t)
	brokers := strings.Join(c.Addrs(), ",")
	for _, topic := range []string{"in", "app-counts-changelog", "app-counts-repartition", "out"} {
		require.NoError(t, c.CreateTopic(ctx, topic, 1))
	}
	for i := range 5 {
		require.NoError(t, c.Produce(ctx, &kgo.Record{Topic: "in", Value: []byte{byte(i)}}))
	}
	var os kadm.Offsets
	os.AddOffset("in", 0, 4, -1)
	require.NoError(t, c.Admin().CommitAllOffsets(ctx, "app", os))
	offset := func() int64 {
		t.Helper()
		fetched, err := c.Admin().FetchOffsets(ctx, "app")
		require.NoError(t, err)
		o, _ := fetched.Lookup("in", 0)
		return o.At
	}
	topicNames := func() []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...)) // a fresh metadata cache
		require.NoError(t, err)
		defer cl.Close()
		all, err := kadm.NewClient(cl).ListTopics(ctx)
		require.NoError(t, err)
		return all.Names()
	}

	code, stdout, stderr := runT(t, "--bootstrap-servers", brokers, "--application-id", "app", "--input-topics", "in", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, `Dry run: nothing is changed. Resetting application "app" would:
Consumer group "app" has no active members.
Reset the committed offsets of the input topics to the earliest offset:
  in-0: 4 -> 0
Delete the internal topics (inferred):
  app-counts-changelog
  app-counts-repartition
Local state is not touched: before starting any instance again, delete its state, App.CleanUp() or <Config.StateDir>/app.
`, stdout)
	require.Equal(t, int64(4), offset(), "a dry run commits nothing")
	require.Equal(t, []string{"app-counts-changelog", "app-counts-repartition", "in", "out"}, topicNames(), "and deletes nothing")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shift-by", "-3"}, "Reset the committed offsets of the input topics to the committed offset shifted by -3:\n  in-0: 4 -> 1\n"},
		{[]string{"--shift-by=1"}, "shifted by +1:\n  in-0: 4 -> 5\n"},
		{[]string{"--to-offset", "9"}, "  in-0: 4 -> 5 (9 is past the end)\n"},
		{[]string{"--to-latest"}, "  in-0: 4 -> 5\n"},
		{[]string{"--to-datetime", "2000-01-01T00:00:00.000"}, "to the first offset at or after 2000-01-01T00:00:00Z:\n  in-0: 4 -> 0\n"},
		{[]string{"--by-duration", "PT1H"}, "(now minus 1h0m0s):\n  in-0: 4 -> 0\n"},
		{[]string{"--internal-topics", "app-counts-changelog"}, "Delete the internal topics (given):\n  app-counts-changelog\nLocal"},
		{[]string{"--intermediate-topics", "out"}, "Move the committed offsets of the intermediate topics to their end:\n  out-0: none -> 0\n"},
	} {
		args := append([]string{"--bootstrap-server", brokers, "--application-id", "app", "--input-topics", "in", "--dry-run"}, tc.args...)
		code, stdout, stderr := runT(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, tc.want, tc.args)
	}
	file := filepath.Join(t.TempDir(), "offsets.csv")
	require.NoError(t, writeFile(file, "in,0,2\n"))
	code, stdout, stderr = runT(t, "--bootstrap-server", brokers, "--application-id", "app", "--input-topics", "in", "--from-file", file, "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "to the offsets given per partition:\n  in-0: 4 -> 2\n")

	code, _, stderr = runT(t, "--bootstrap-server", brokers, "--application-id", "app", "--input-topics", "in,nope", "--dry-run")
	require.Equal(t, 1, code)
	require.Equal(t, "streams-reset: reset: input topic \"nope\" does not exist in the cluster; check its name\n", stderr)

	// A member in the group: refused.
	member, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumerGroup("app"), kgo.ConsumeTopics("out"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		poll, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		member.PollRecords(poll, 1) // joins; nothing to read
		cancel()
		d, err := c.Admin().DescribeGroups(ctx, "app")
		return err == nil && len(d["app"].Members) == 1
	}, 30*time.Second, 10*time.Millisecond)
	code, stdout, stderr = runT(t, "--bootstrap-server", brokers, "--application-id", "app", "--input-topics", "in")
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, `streams-reset: reset: consumer group "app" is still active, with 1 member(s): `)
	require.Contains(t, stderr, "stop every instance of the app before resetting it")
	member.Close() // leaves the group

	code, stdout, stderr = runT(t, "--bootstrap-server", brokers, "--application-id", "app", "--input-topics", "in")
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "Resetting application \"app\":\nConsumer group \"app\" has no active members.\n"), stdout)
	require.True(t, strings.HasSuffix(stdout, "\nDone.\n"), stdout)
	require.Equal(t, int64(0), offset())
	require.Equal(t, []string{"in", "out"}, topicNames())
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
