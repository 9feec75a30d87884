package topology_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/topotest"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// pictureCases are the topologies whose Mermaid and DOT pictures are kept
// as golden files, testdata/<name>.mmd and testdata/<name>.dot.
var pictureCases = []struct {
	name  string
	build func(*testing.T) *topology.Topology
}{
	{"wordcount", wordCount},
	{"wordcount-dsl", wordCountDSL},
	{"repartition", repartitions},
	{"global-store", globalStore},
	{"shared-store", sharedStore},
	{"odd-names", oddNames},
}

// Every picture is its golden file, the same bytes on every build, and
// well-formed: Mermaid by a structural check (there is no Mermaid renderer
// here), DOT by a structural check and by Graphviz's dot where it is
// installed. Both hold every name of the description, each once, and
// exactly its edges.
func TestDescribePictures(t *testing.T) {
	t.Parallel()
	for _, c := range pictureCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := c.build(t).Describe()
			mermaid, dot := d.Mermaid(), d.DOT()
			again := c.build(t).Describe()
			require.Equal(t, mermaid, again.Mermaid(), "a new build of the same topology draws the same bytes")
			require.Equal(t, dot, again.DOT(), "a new build of the same topology draws the same bytes")
			golden(t, c.name+".mmd", mermaid)
			golden(t, c.name+".dot", dot)

			want := expectPicture(d)
			m := parseMermaid(t, mermaid)
			require.Equal(t, want, m, "the Mermaid picture draws the description")
			g := parseDOT(t, dot)
			require.Equal(t, want, g, "the DOT picture draws the description")

			t.Run("dot -Tsvg", func(t *testing.T) {
				texts := renderDOT(t, dot)
				for _, s := range want.shapes {
					for _, line := range strings.Split(s.name, "\n") {
						require.Contains(t, texts, strings.Join(strings.Fields(line), " "), "the rendered picture shows %q", s.name)
					}
				}
			})
		})
	}
}

// The word count's repartition topic is drawn once, outside both
// sub-topologies, written by the first and read by the second.
func TestMermaidLinksSubtopologiesThroughTheirTopic(t *testing.T) {
	t.Parallel()
	m := wordCount(t).Describe().Mermaid()
	// t1 at the top level, written by words-repartition-sink (n2, in sub0)
	// and read by words-repartition-source (n3, in sub1); Count (n4) uses
	// Counts (s0).
	require.Contains(t, m, "\n    t1[/\"words-repartition<br/>topic\"/]\n")
	require.Contains(t, m, "\n    n2 --> t1\n")
	require.Contains(t, m, "\n    t1 --> n3\n")
	require.Contains(t, m, "\n    n4 -.- s0\n")
	require.Equal(t, 1, strings.Count(m, "words-repartition<br/>topic"))
}

// wordCountDSL is examples/wordcount-dsl's topology.
func wordCountDSL(t *testing.T) *topology.Topology {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"streams-plaintext-input"}, kstream.Consumed[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String(),
	})
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := kstream.GroupBy(words, func(_, word string) string { return word }).
		Count(kstream.Materialized[string, int64]{Name: "counts-store"})
	counts.ToStream().To("streams-wordcount-output", kstream.Produced[string, int64]{ValueSerde: serde.Int64()})
	topo, err := sb.Build()
	require.NoError(t, err)
	return topo
}

// repartitions is topotest.Repartitions.
func repartitions(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.Repartitions()
	require.NoError(t, err)
	return topo
}

// oddNames holds every name that would break a picture if written as it
// is: quotes, spaces, backslashes, HTML, entity codes, Mermaid's keywords
// and markup, a newline, topics with dots and dashes, a pattern.
func oddNames(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	matching := topology.AddSource(b, "KSTREAM-SOURCE-0000000000", topology.Source[string, string]{
		Pattern: regexp.MustCompile(`[a-z]+`), KeySerde: serde.String(), ValueSerde: serde.String()})
	quoted := topology.AddSource(b, `in "quoted" source`, src("orders.v1-eu", "orders_v2.eu-west-1"))
	odd := topology.AddProcessor(b, `a\b <b>bold</b> & #quot; &amp; \N`, processor.Func(pass), matching, quoted)
	b.AddStateStore(kv(`my "special" store`), odd.Name())
	end := topology.AddProcessor(b, "end", processor.Func(pass), odd)
	style := topology.AddProcessor(b, "lifestyle:x #35; `md` %% graph {", processor.Func(pass), end)
	b.ConnectProcessorAndStateStores(style.Name(), `my "special" store`)
	topology.AddSink(b, "two\nlines", snk("out.topic-1"), style)
	topology.AddSink(b, "chooser", topology.Sink[string, string]{
		TopicChooser: func(processor.Record[string, string]) (string, error) { return "x", nil },
		KeySerde:     serde.String(), ValueSerde: serde.String(),
	}, end)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// drawn is a picture as the tests read it back: its shapes by what they
// are and their name, which cluster holds each, and its edges between
// them, all sorted.
type drawn struct {
	shapes []drawnShape
	edges  []string // "node:a --> node:b", "node:a -.- store:s"
}

type drawnShape struct {
	key     string // "node:<name>", "topic:<name>", "pattern:<pattern>" or "store:<name>"
	name    string
	what    string // the label's last line
	cluster string // "Sub-topology: 0", "" for none
}

func (d *drawn) sort() {
	slices.SortFunc(d.shapes, func(a, b drawnShape) int { return strings.Compare(a.key, b.key) })
	slices.Sort(d.edges)
}

// expectPicture is what the pictures of d must draw, derived from d
// directly.
func expectPicture(d *topology.Description) drawn {
	var w drawn
	seen := map[string]bool{}
	add := func(s drawnShape) {
		if !seen[s.key] {
			seen[s.key] = true
			w.shapes = append(w.shapes, s)
		}
	}
	globalStores := map[string]string{}
	for _, g := range d.GlobalStores {
		for _, s := range g.Processor.Stores {
			globalStores[s] = "Sub-topology: " + strconv.Itoa(g.ID) + " for global store (will not generate tasks)"
		}
	}
	node := func(cluster string, n topology.NodeDescription) {
		what := strings.ToLower(n.Kind.String())
		if n.Kind == topology.SinkNode && n.Topic == "" {
			what = "sink, topic chosen per record"
		}
		add(drawnShape{key: "node:" + n.Name, name: n.Name, what: what, cluster: cluster})
		for _, tp := range n.Topics {
			add(drawnShape{key: "topic:" + tp, name: tp, what: "topic"})
			w.edges = append(w.edges, "topic:"+tp+" --> node:"+n.Name)
		}
		if n.Pattern != "" {
			add(drawnShape{key: "pattern:" + n.Pattern, name: n.Pattern, what: "topic pattern"})
			w.edges = append(w.edges, "pattern:"+n.Pattern+" --> node:"+n.Name)
		}
		if n.Topic != "" {
			add(drawnShape{key: "topic:" + n.Topic, name: n.Topic, what: "topic"})
			w.edges = append(w.edges, "node:"+n.Name+" --> topic:"+n.Topic)
		}
		for _, s := range n.Successors {
			w.edges = append(w.edges, "node:"+n.Name+" --> node:"+s)
		}
		for _, s := range n.Stores {
			in := cluster
			if g, ok := globalStores[s]; ok {
				in = g
			}
			add(drawnShape{key: "store:" + s, name: s, what: "store", cluster: in})
			w.edges = append(w.edges, "node:"+n.Name+" -.- store:"+s)
		}
	}
	for _, st := range d.Subtopologies {
		for _, n := range st.Nodes {
			node("Sub-topology: "+strconv.Itoa(st.ID), n)
		}
	}
	for _, g := range d.GlobalStores {
		title := "Sub-topology: " + strconv.Itoa(g.ID) + " for global store (will not generate tasks)"
		node(title, g.Source)
		node(title, g.Processor)
	}
	w.sort()
	return w
}

// shapeKey is a drawn shape's key, from its label.
func shapeKey(name, what string) string {
	switch what {
	case "topic":
		return "topic:" + name
	case "topic pattern":
		return "pattern:" + name
	case "store":
		return "store:" + name
	}
	return "node:" + name
}

var (
	mermaidSubgraph = regexp.MustCompile(`^    subgraph (sub\d+)\["([^"]*)"\]$`)
	mermaidShape    = regexp.MustCompile(`^( *)([nts]\d+)(\(\["|\[/"|\[\("|\[")([^"]*)("\]\)|"/\]|"\)\]|"\])$`)
	mermaidEdge     = regexp.MustCompile(`^    ([nts]\d+) (-->|-\.-) ([nts]\d+)$`)
	mermaidEntity   = regexp.MustCompile(`#(\d+);`)
	mermaidClosing  = map[string]string{`(["`: `"])`, `[/"`: `"/]`, `[("`: `")]`, `["`: `"]`}
)

// parseMermaid reads back a Mermaid picture, failing on any line that is
// not one of the forms Mermaid writes: an unbalanced or nested subgraph,
// an edge to an undeclared shape, a label with a character Mermaid would
// read as markup.
func parseMermaid(t *testing.T, text string) drawn {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	require.Equal(t, "flowchart TB", lines[0])
	var d drawn
	keys := map[string]string{}
	subgraphs := map[string]bool{}
	cluster, inSubgraph := "", false
	for i, line := range lines[1:] {
		where := "line " + strconv.Itoa(i+2) + ": " + line
		switch m := mermaidShape.FindStringSubmatch(line); {
		case line == "    end":
			require.True(t, inSubgraph, "%s: end without subgraph", where)
			inSubgraph, cluster = false, ""
		case mermaidSubgraph.MatchString(line):
			sm := mermaidSubgraph.FindStringSubmatch(line)
			require.False(t, inSubgraph, "%s: nested subgraph", where)
			require.False(t, subgraphs[sm[1]], "%s: subgraph id used twice", where)
			subgraphs[sm[1]] = true
			inSubgraph, cluster = true, sm[2]
		case m != nil:
			indent, id, open, label, closing := m[1], m[2], m[3], m[4], m[5]
			require.Equal(t, mermaidClosing[open], closing, "%s: shape opened with %s", where, open)
			if inSubgraph {
				require.Equal(t, "        ", indent, where)
			} else {
				require.Equal(t, "    ", indent, where)
			}
			require.NotContains(t, keys, id, "%s: id declared twice", where)
			bare := mermaidEntity.ReplaceAllString(strings.ReplaceAll(label, "<br/>", ""), "")
			require.False(t, strings.ContainsAny(bare, "\"#<>&`:"), "%s: a label character Mermaid reads as markup", where)
			parts := strings.Split(label, "<br/>")
			require.Len(t, parts, 2, where)
			decode := func(s string) string {
				return mermaidEntity.ReplaceAllStringFunc(s, func(e string) string {
					n, err := strconv.Atoi(e[1 : len(e)-1])
					require.NoError(t, err)
					return string(rune(n))
				})
			}
			name, what := decode(parts[0]), decode(parts[1])
			keys[id] = shapeKey(name, what)
			d.shapes = append(d.shapes, drawnShape{key: keys[id], name: name, what: what, cluster: cluster})
		case mermaidEdge.MatchString(line):
			em := mermaidEdge.FindStringSubmatch(line)
			require.False(t, inSubgraph, "%s: edges come after the subgraphs", where)
			require.Contains(t, keys, em[1], "%s: edge from an undeclared shape", where)
			require.Contains(t, keys, em[3], "%s: edge to an undeclared shape", where)
			d.edges = append(d.edges, keys[em[1]]+" "+em[2]+" "+keys[em[3]])
		default:
			t.Fatalf("%s: not a line of a topology's Mermaid picture", where)
		}
	}
	require.False(t, inSubgraph, "a subgraph is not closed")
	d.sort()
	return d
}

var (
	dotCluster = regexp.MustCompile(`^    subgraph (cluster_sub\d+) \{$`)
	dotTitle   = regexp.MustCompile(`^        label="([^"\\]*)";$`)
	dotShape   = regexp.MustCompile(`^( *)([nts]\d+) \[label="((?:[^"\\]|\\.)*)", (shape=box|shape=box, style=rounded|shape=parallelogram|shape=cylinder)\];$`)
	dotEdge    = regexp.MustCompile(`^    ([nts]\d+) -> ([nts]\d+)( \[dir=none, style=dashed\])?;$`)
	dotEscape  = regexp.MustCompile(`\\.|&amp;`)
)

// parseDOT reads back a DOT picture as parseMermaid does a Mermaid one.
func parseDOT(t *testing.T, text string) drawn {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	require.Equal(t, "digraph topology {", lines[0])
	require.Equal(t, "}", lines[len(lines)-1])
	var d drawn
	keys := map[string]string{}
	cluster, inCluster := "", false
	for i, line := range lines[1 : len(lines)-1] {
		where := "line " + strconv.Itoa(i+2) + ": " + line
		switch m := dotShape.FindStringSubmatch(line); {
		case line == "    }":
			require.True(t, inCluster, "%s: } without subgraph", where)
			inCluster, cluster = false, ""
		case dotCluster.MatchString(line):
			require.False(t, inCluster, "%s: nested subgraph", where)
			inCluster = true
		case dotTitle.MatchString(line):
			require.True(t, inCluster, where)
			cluster = dotTitle.FindStringSubmatch(line)[1]
		case m != nil:
			if inCluster {
				require.Equal(t, "        ", m[1], where)
			} else {
				require.Equal(t, "    ", m[1], where)
			}
			id := m[2]
			require.NotContains(t, keys, id, "%s: id declared twice", where)
			var lines []string
			cur := ""
			// Decode the label: \\ \" \n and &amp; are the only escapes
			// DOT writes.
			rest := m[3]
			for rest != "" {
				loc := dotEscape.FindStringIndex(rest)
				if loc == nil {
					cur += rest
					break
				}
				cur += rest[:loc[0]]
				switch e := rest[loc[0]:loc[1]]; e {
				case `\\`:
					cur += `\`
				case `\"`:
					cur += `"`
				case `\n`:
					lines = append(lines, cur)
					cur = ""
				case "&amp;":
					cur += "&"
				default:
					t.Fatalf("%s: escape %s", where, e)
				}
				rest = rest[loc[1]:]
			}
			require.NotContains(t, cur, "&", where)
			lines = append(lines, cur)
			require.GreaterOrEqual(t, len(lines), 2, where)
			name, what := strings.Join(lines[:len(lines)-1], "\n"), lines[len(lines)-1]
			keys[id] = shapeKey(name, what)
			d.shapes = append(d.shapes, drawnShape{key: keys[id], name: name, what: what, cluster: cluster})
		case dotEdge.MatchString(line):
			em := dotEdge.FindStringSubmatch(line)
			require.False(t, inCluster, "%s: edges come after the clusters", where)
			require.Contains(t, keys, em[1], "%s: edge from an undeclared shape", where)
			require.Contains(t, keys, em[2], "%s: edge to an undeclared shape", where)
			arrow := "-->"
			if em[3] != "" {
				arrow = "-.-"
			}
			d.edges = append(d.edges, keys[em[1]]+" "+arrow+" "+keys[em[2]])
		default:
			t.Fatalf("%s: not a line of a topology's DOT picture", where)
		}
	}
	require.False(t, inCluster, "a subgraph is not closed")
	d.sort()
	return d
}

// renderDOT renders dot with Graphviz's dot -Tsvg, failing on any error
// or warning, and returns the SVG's texts, each with its runs of white
// space as one space. It skips the test where dot is not installed.
func renderDOT(t *testing.T, dot string) []string {
	t.Helper()
	path, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz's dot is not installed (apt-get install graphviz, or make setup): " +
			"the DOT picture is checked against its golden file and structurally, not rendered")
	}
	cmd := exec.Command(path, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	require.NoError(t, err, "dot -Tsvg: %s", stderr.String())
	for _, line := range strings.Split(stderr.String(), "\n") {
		require.False(t, strings.HasPrefix(line, "Warning:") || strings.HasPrefix(line, "Error:"), "dot -Tsvg: %s", stderr.String())
	}
	var texts []string
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = false
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, strings.Join(strings.Fields(strings.ReplaceAll(string(tok), "\u00a0", " ")), " "))
			}
		}
	}
	require.NotEmpty(t, texts, "dot -Tsvg drew no text")
	return texts
}
