// Package describeflag is the -describe flag of the example mains:
//
//	-describe           print the topology in Kafka Streams' text format and exit
//	-describe=text      the same
//	-describe=mermaid   print it as a Mermaid flowchart and exit
//	-describe=dot       print it as a Graphviz DOT graph and exit
//
// The flag is boolean-like, as go test's -test.v is (-test.v=test2json):
// the bare form keeps working as it did when the flag was a bool, and so
// do -describe=true and -describe=false. A format must follow an '=':
// "-describe mermaid" leaves "mermaid" as an argument, which the mains
// reject with a hint (see Misplaced).
package describeflag

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gostreams/streams/topology"
)

// Format is the value of a -describe flag: "" when the topology is not to
// be described, else "text", "mermaid" or "dot".
type Format string

// Formats are the formats -describe takes.
var Formats = []Format{"text", "mermaid", "dot"}

// Usage is the flag's help line.
const Usage = "print the topology and exit: in Kafka Streams' text format (-describe or -describe=text), " +
	"as a Mermaid flowchart (-describe=mermaid) or as a Graphviz DOT graph (-describe=dot)"

// Var defines the -describe flag on fs, stored in f.
func Var(fs *flag.FlagSet, f *Format) { fs.Var(f, "describe", Usage) }

// String implements flag.Value.
func (f *Format) String() string { return string(*f) }

// Set implements flag.Value: a format's name, or a boolean as the bare
// flag passes ("true" is "text").
func (f *Format) Set(s string) error {
	if slices.Contains(Formats, Format(strings.ToLower(s))) {
		*f = Format(strings.ToLower(s))
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not a format; use -describe (text), -describe=mermaid or -describe=dot", s)
	}
	*f = ""
	if on {
		*f = "text"
	}
	return nil
}

// IsBoolFlag makes the bare -describe valid, as for a flag.Bool.
func (f *Format) IsBoolFlag() bool { return true }

// Write writes the description of topo to w in format f.
func Write(w io.Writer, topo *topology.Topology, f Format) error {
	d := topo.Describe()
	var s string
	switch f {
	case "text":
		s = d.String()
	case "mermaid":
		s = d.Mermaid()
	case "dot":
		s = d.DOT()
	default:
		return fmt.Errorf("-describe=%s: not a format; use text, mermaid or dot", string(f))
	}
	_, err := io.WriteString(w, s)
	return err
}

// Misplaced returns, when f is set and args (what the flags left) begin
// with a format's name, what to write instead: "-describe mermaid"
// describes as text and leaves "mermaid" over. Otherwise it returns "".
func Misplaced(f Format, args []string) string {
	if f == "" || len(args) == 0 || !slices.Contains(Formats, Format(strings.ToLower(args[0]))) {
		return ""
	}
	return fmt.Sprintf("write -describe=%s: the format needs an '='", strings.ToLower(args[0]))
}
