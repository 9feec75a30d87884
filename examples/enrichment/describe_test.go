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
// the format asked and starts no Kafka.
func TestDescribeFlag(t *testing.T) {
	t.Parallel()
	topo, err := Topology(DefaultHistory)
	require.NoError(t, err)
	d := topo.Describe()
	for args, want := range map[string]string{
		"-describe":         d.String(),
		"-describe=mermaid": d.Mermaid(),
		"-describe=dot":     d.DOT(),
	} {
		o, err := parseFlags(flag.NewFlagSet("enrichment", flag.ContinueOnError), strings.Fields(args))
		require.NoError(t, err, args)
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(context.Background(), o, &stdout, &stderr), args)
		require.Equal(t, want, stdout.String(), args)
		require.Empty(t, stderr.String(), "no Kafka was started")
	}
	// The versioned table's store, used by the join and by the table's
	// source, is drawn once.
	require.Equal(t, 1, strings.Count(d.Mermaid(), `[("customers<br/>store")]`))

	fs := flag.NewFlagSet("enrichment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_, err = parseFlags(fs, []string{"-describe", "dot"})
	require.ErrorContains(t, err, `unexpected arguments ["dot"]; write -describe=dot: the format needs an '='`)
}
