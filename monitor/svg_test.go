package monitor

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/topotest"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.svg")

// svgCases are the topologies whose pictures are kept as golden files,
// testdata/<name>.svg (go test ./monitor -update rewrites them; open them
// in a browser to look).
var svgCases = []struct {
	name  string
	build func(*testing.T) *topology.Topology
}{
	{"wordcount-dsl", func(t *testing.T) *topology.Topology { return wordCountDSL(t, "counts-store") }},
	{"repartition", repartitions},
	{"global-store", globalStore},
	{"shared-store", sharedStore},
	{"odd-names", oddNames},
}

// wordCountDSL is examples/wordcount-dsl's topology (package main, which a
// test cannot import) with its store named store; TestSVG checks it
// against the example's own description.
func wordCountDSL(t *testing.T, store string) *topology.Topology {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"streams-plaintext-input"}, kstream.Consumed[string, string]{
		KeySerde: serde.String(), ValueSerde: serde.String(),
	})
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := kstream.GroupBy(words, func(_, word string) string { return word }).
		Count(kstream.Materialized[string, int64]{Name: store})
	counts.ToStream().To("streams-wordcount-output", kstream.Produced[string, int64]{ValueSerde: serde.Int64()})
	topo, err := sb.Build()
	require.NoError(t, err)
	return topo
}

func src(topics ...string) topology.Source[string, string] {
	return topology.Source[string, string]{Topics: topics, KeySerde: serde.String(), ValueSerde: serde.String()}
}

func snk(topic string) topology.Sink[string, string] {
	return topology.Sink[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
}

func pass(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
	return ctx.Forward(rec)
}

func kv(name string) state.StoreBuilder {
	return state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore(name), serde.String(), serde.String())
}

// repartitions is topotest.Repartitions.
func repartitions(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.Repartitions()
	require.NoError(t, err)
	return topo
}

// globalStore is topotest.GlobalStore.
func globalStore(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.GlobalStore()
	require.NoError(t, err)
	return topo
}

// sharedStore is topotest.SharedStore.
func sharedStore(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topotest.SharedStore()
	require.NoError(t, err)
	return topo
}

// oddNames holds names that would break XML written as they are: quotes,
// markup, entities, a newline, a control character, invalid UTF-8, wide
// characters.
func oddNames(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	quoted := topology.AddSource(b, `in "quoted" 'source'`, src("orders.v1-eu"))
	odd := topology.AddProcessor(b, "a <b>bold</b> & &amp; ]]> \x01\xff", processor.Func(pass), quoted)
	b.AddStateStore(kv(`my "special" <store>`), odd.Name())
	wide := topology.AddProcessor(b, "単語を数える", processor.Func(pass), odd)
	topology.AddSink(b, "two\nlines", snk("out"), wide)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// Every picture is its golden file, well-formed XML (encoding/xml, strict),
// and shows every node with its name and kind, every topic and every store
// of the description by name, and as many arrows and store lines as it
// has edges.
func TestSVG(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join("..", "examples", "wordcount-dsl", "testdata", "describe.txt"))
	require.NoError(t, err)
	require.Equal(t, string(example), wordCountDSL(t, "counts-store").Describe().String(),
		"the test's word count is examples/wordcount-dsl's")

	for _, c := range svgCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := c.build(t).Describe()
			svg := SVG(d)
			require.Equal(t, svg, SVG(c.build(t).Describe()), "the same topology draws the same bytes")
			golden(t, c.name+".svg", svg)

			got := parseSVG(t, svg)
			var want parsedSVG
			want.nodes = map[string][]string{}
			want.topics, want.stores = map[string]bool{}, map[string]bool{}
			edges, storeEdges := 0, 0
			nodes := slices.Clone(allNodes(d))
			for _, n := range nodes {
				kind := strings.ToLower(n.Kind.String())
				what := kind
				if n.Kind == topology.SinkNode && n.Topic == "" {
					what = "sink, topic chosen per record"
				}
				want.nodes[clean(n.Name)] = []string{kind, clean(n.Name), what}
				edges += len(n.Successors) + len(n.Topics)
				if n.Pattern != "" {
					want.topics[n.Pattern] = true
					edges++
				}
				for _, tp := range n.Topics {
					want.topics[tp] = true
				}
				if n.Topic != "" {
					want.topics[n.Topic] = true
					edges++
				}
				for _, s := range n.Stores {
					want.stores[clean(s)] = true
					storeEdges++
				}
			}
			require.Equal(t, want.nodes, got.nodes, "every node, once, with its name and kind")
			require.Equal(t, want.topics, got.topics, "every topic")
			require.Equal(t, want.stores, got.stores, "every store")
			require.Equal(t, edges, got.edges, "an arrow per successor, source topic and sink topic")
			require.Equal(t, storeEdges, got.storeEdges, "a dashed line per processor and store it uses")
		})
	}
}

// The word count's two sub-topologies are joined by their repartition
// topic: the first's sink writes it, the second's source reads it, and a
// lane joins the two shapes.
func TestSVGJoinsSubtopologiesThroughTheirTopic(t *testing.T) {
	t.Parallel()
	p := layout(wordCountDSL(t, "counts-store").Describe())
	require.Len(t, p.boxes, 2)
	require.Len(t, p.lanes, 1)
	require.Equal(t, "counts-store-repartition", p.lanes[0].topic)
	require.Less(t, p.lanes[0].from.y, p.lanes[0].to.y, "from the first box down to the second")
	require.Len(t, p.boxes[0].rowsOf(), 5, "source, flat-map, key-select, filter, sink: a layer each")
	require.Len(t, p.boxes[1].rowsOf(), 4)
}

// No two shapes of a picture overlap, every shape is inside its box, and
// the boxes are inside the picture and apart.
func TestSVGShapesDoNotOverlap(t *testing.T) {
	t.Parallel()
	for _, c := range svgCases {
		p := layout(c.build(t).Describe())
		var prev *rect
		for _, b := range p.boxes {
			require.True(t, b.r.x >= 0 && b.r.y >= 0 && b.r.x+b.r.w <= p.w && b.r.y+b.r.h <= p.h, "%s: box %q in the picture", c.name, b.title)
			if prev != nil {
				require.Greater(t, b.r.y, prev.y+prev.h, "%s: boxes apart", c.name)
			}
			prev = &b.r
			var shapes []rect
			var names []string
			for _, n := range b.nodes {
				shapes, names = append(shapes, n.r), append(names, n.desc.Name)
			}
			for _, s := range append(slices.Clone(b.topics), b.stores...) {
				shapes, names = append(shapes, s.r), append(names, s.name)
			}
			for i, r := range shapes {
				require.True(t, r.x > b.r.x && r.y > b.r.y+titleHeight-1 && r.x+r.w < b.r.x+b.r.w && r.y+r.h < b.r.y+b.r.h,
					"%s: %q inside its box", c.name, names[i])
				for j := range i {
					s := shapes[j]
					overlap := r.x < s.x+s.w && s.x < r.x+r.w && r.y < s.y+s.h && s.y < r.y+r.h
					require.False(t, overlap, "%s: %q and %q overlap", c.name, names[i], names[j])
				}
			}
		}
	}
}

// rowsOf groups a box's nodes by layer.
func (b box) rowsOf() [][]string {
	var rows [][]string
	for _, n := range b.nodes {
		for len(rows) <= n.layer {
			rows = append(rows, nil)
		}
		rows[n.layer] = append(rows[n.layer], n.desc.Name)
	}
	return rows
}

func allNodes(d *topology.Description) []topology.NodeDescription {
	var out []topology.NodeDescription
	for _, st := range d.Subtopologies {
		out = append(out, st.Nodes...)
	}
	for _, g := range d.GlobalStores {
		out = append(out, g.Source, g.Processor)
	}
	return out
}

// clean is a name as the picture writes it: one line, valid XML text.
func clean(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			sb.WriteByte(' ')
		case !xmlChar(r):
			sb.WriteRune('\uFFFD')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

type parsedSVG struct {
	nodes             map[string][]string // data-node: class kind, label lines
	topics, stores    map[string]bool
	edges, storeEdges int
}

// parseSVG reads an SVG back with encoding/xml in strict mode: the shapes
// by their data attributes with their labels' text, and the lines by
// class.
func parseSVG(t *testing.T, svg string) parsedSVG {
	t.Helper()
	p := parsedSVG{nodes: map[string][]string{}, topics: map[string]bool{}, stores: map[string]bool{}}
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	attr := func(se xml.StartElement, name string) (string, bool) {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value, true
			}
		}
		return "", false
	}
	var stack []string // data-node of the enclosing g, or ""
	var inText bool
	var text strings.Builder
	root := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "well-formed XML")
		switch tk := tok.(type) {
		case xml.StartElement:
			if !root {
				require.Equal(t, "svg", tk.Name.Local)
				require.Equal(t, "http://www.w3.org/2000/svg", tk.Name.Space)
				root = true
			}
			switch tk.Name.Local {
			case "g":
				cur := ""
				if n, ok := attr(tk, "data-node"); ok {
					cls, _ := attr(tk, "class")
					kind, ok := strings.CutPrefix(cls, "node ")
					require.True(t, ok, cls)
					_, dup := p.nodes[n]
					require.False(t, dup, "node %q drawn twice", n)
					p.nodes[n] = []string{kind}
					cur = n
				}
				if n, ok := attr(tk, "data-topic"); ok {
					p.topics[n] = true
				}
				if n, ok := attr(tk, "data-store"); ok {
					p.stores[n] = true
				}
				stack = append(stack, cur)
			case "text":
				inText = true
				text.Reset()
			case "path":
				switch cls, _ := attr(tk, "class"); cls {
				case "edge":
					p.edges++
				case "store-edge":
					p.storeEdges++
				}
			}
		case xml.CharData:
			if inText {
				text.Write(tk)
			}
		case xml.EndElement:
			switch tk.Name.Local {
			case "g":
				stack = stack[:len(stack)-1]
			case "text":
				inText = false
				if len(stack) > 0 && stack[len(stack)-1] != "" {
					n := stack[len(stack)-1]
					p.nodes[n] = append(p.nodes[n], text.String())
				}
			}
		}
	}
	return p
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./monitor -update to create %s", path)
	require.Equal(t, string(want), got)
}
