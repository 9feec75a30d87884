package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/examples/internal/wordcountrun"
)

// The -describe path of main, flags included: the text as before, and
// the Mermaid and DOT pictures.
func TestDescribeFlag(t *testing.T) {
	t.Parallel()
	topo, err := Topology()
	require.NoError(t, err)
	d := topo.Describe()
	for args, want := range map[string]string{
		"-describe":         d.String(),
		"-describe=text":    d.String(),
		"-describe=mermaid": d.Mermaid(),
		"-describe=dot":     d.DOT(),
	} {
		fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
		o, err := wordcountrun.ParseFlags(fs, strings.Fields(args), program)
		require.NoError(t, err, args)
		var out bytes.Buffer
		require.NoError(t, wordcountrun.Describe(&out, program, o.Describe), args)
		require.Equal(t, want, out.String(), args)
	}
	require.True(t, strings.HasPrefix(d.Mermaid(), "flowchart TB\n"))
	require.Contains(t, d.Mermaid(), `t1[/"words-repartition<br/>topic"/]`)
	require.True(t, strings.HasPrefix(d.DOT(), "digraph topology {\n"))

	fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_, err = wordcountrun.ParseFlags(fs, []string{"-describe", "dot"}, program)
	require.ErrorContains(t, err, `unexpected arguments ["dot"]; write -describe=dot: the format needs an '='`)
}
