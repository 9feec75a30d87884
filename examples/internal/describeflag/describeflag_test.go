package describeflag_test

import (
	"bytes"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/examples/internal/describeflag"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// parse parses args with only the -describe flag defined.
func parse(args ...string) (describeflag.Format, []string, error) {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f describeflag.Format
	describeflag.Var(fs, &f)
	err := fs.Parse(args)
	return f, fs.Args(), err
}

// The bare flag and the boolean forms mean what they meant when -describe
// was a flag.Bool; a format follows an '='.
func TestFlagForms(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want describeflag.Format
	}{
		{nil, ""},
		{[]string{"-describe"}, "text"},
		{[]string{"--describe"}, "text"},
		{[]string{"-describe=true"}, "text"},
		{[]string{"-describe=false"}, ""},
		{[]string{"-describe=text"}, "text"},
		{[]string{"-describe=mermaid"}, "mermaid"},
		{[]string{"-describe=dot"}, "dot"},
		{[]string{"-describe=DOT"}, "dot"},
	} {
		f, rest, err := parse(c.args...)
		require.NoError(t, err, c.args)
		require.Equal(t, c.want, f, c.args)
		require.Empty(t, rest, c.args)
	}

	_, _, err := parse("-describe=svg")
	require.ErrorContains(t, err, `"svg" is not a format; use -describe (text), -describe=mermaid or -describe=dot`)

	// A bool-like flag takes no separate value: "mermaid" is left over,
	// and Misplaced says what to write.
	f, rest, err := parse("-describe", "mermaid")
	require.NoError(t, err)
	require.Equal(t, []string{"mermaid"}, rest)
	require.Equal(t, "write -describe=mermaid: the format needs an '='", describeflag.Misplaced(f, rest))
	require.Empty(t, describeflag.Misplaced(f, []string{"input.txt"}))
	require.Empty(t, describeflag.Misplaced("", []string{"mermaid"}))
}

func TestWriteEachFormat(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()},
		topology.AddProcessor(b, "p", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
			return ctx.Forward(rec)
		}), in))
	topo, err := b.Build()
	require.NoError(t, err)
	d := topo.Describe()
	for f, want := range map[describeflag.Format]string{"text": d.String(), "mermaid": d.Mermaid(), "dot": d.DOT()} {
		var buf bytes.Buffer
		require.NoError(t, describeflag.Write(&buf, topo, f))
		require.Equal(t, want, buf.String(), f)
	}
	require.ErrorContains(t, describeflag.Write(io.Discard, topo, "svg"), "not a format")
}
