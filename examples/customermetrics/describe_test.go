package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The -describe path of main, flags included: run prints the topology in
// the format asked and starts no Kafka. With -postgres the database
// sub-topology is drawn too, with no connection to the database (nothing
// listens on port 1).
func TestDescribeFlag(t *testing.T) {
	t.Parallel()
	topo, err := TopologyWithGrace(DefaultGrace)
	require.NoError(t, err)
	d := topo.Describe()
	for args, want := range map[string]string{
		"-describe":         d.String(),
		"-describe=mermaid": d.Mermaid(),
		"-describe=dot":     d.DOT(),
	} {
		o, err := parseFlags(flag.NewFlagSet("customermetrics", flag.ContinueOnError), strings.Fields(args))
		require.NoError(t, err, args)
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(context.Background(), o, &stdout, &stderr), args)
		require.Equal(t, want, stdout.String(), args)
		require.Empty(t, stderr.String(), "no Kafka was started")
	}

	o, err := parseFlags(flag.NewFlagSet("customermetrics", flag.ContinueOnError),
		[]string{"-describe=mermaid", "-postgres", "postgres://nobody@127.0.0.1:1/metrics?connect_timeout=1"})
	require.NoError(t, err)
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), o, &stdout, io.Discard))
	require.Contains(t, stdout.String(), `(["MetricsUpdates<br/>source"])`)
	require.Contains(t, stdout.String(), `["MetricsTable<br/>processor"]`)
	require.Equal(t, 1, strings.Count(stdout.String(), `[/"customer-metrics<br/>topic"/]`),
		"the topic the app writes and its database sub-topology reads is drawn once")

	fs := flag.NewFlagSet("customermetrics", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_, err = parseFlags(fs, []string{"-describe", "mermaid"})
	require.ErrorContains(t, err, `unexpected arguments ["mermaid"]; write -describe=mermaid: the format needs an '='`)
	_, err = parseFlags(flag.NewFlagSet("customermetrics", flag.ContinueOnError), []string{"orders.jsonl"})
	require.ErrorContains(t, err, `unexpected arguments ["orders.jsonl"]; pass a file with -input`)
}
