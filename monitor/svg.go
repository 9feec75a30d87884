package monitor

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gostreams/streams/topology"
)

// SVG draws d as an SVG picture, laid out here rather than by a
// JavaScript library, so that the page needs no script to show it and the
// binary carries no graph-layout code it would have to ship to browsers.
//
// Each sub-topology (and each global store's) is a box titled as
// Description.String titles it, stacked top to bottom in id order. Inside
// a box the nodes are in layers, top to bottom along their Successors
// (sources first, each node one layer below its lowest predecessor), with
// an arrow per edge. The topics a box reads and writes are parallelograms
// on its left, joined to their sources (an arrow into the source) and
// sinks (an arrow into the topic); its stores are cylinders on its right,
// joined to the processors that use them by dashed lines. A topic that one
// box writes and another reads (a repartition topic) is drawn in both,
// and a dashed arrow in the left margin joins the writer's to the
// reader's.
//
// Every shape shows its whole name: nothing is cut short, and a box is as
// wide as its longest name needs. Shapes carry classes and data attributes
// for scripts and styles: g.node (with source, processor or sink) and
// data-node, g.topic and data-topic, g.store and data-store, each with a
// <title>. Text is escaped, and characters XML cannot hold are replaced by
// U+FFFD, so that the result is well-formed XML whatever the names. The
// same description gives the same bytes.
func SVG(d *topology.Description) string {
	l := layout(d)
	var sb strings.Builder
	l.write(&sb)
	return sb.String()
}

// Sizes, in pixels. Text is monospace at fontSize; charWidth is a little
// more than DejaVu Sans Mono's advance (0.602 em), so that text fits its
// box in the fonts browsers pick for "monospace".
const (
	fontSize    = 12
	charWidth   = 7.4
	nodeHeight  = 40
	topicHeight = 30
	storeHeight = 42
	layerGap    = 28 // between layers of nodes
	nodeGap     = 24 // between nodes of a layer
	sideGap     = 48 // between the nodes and the topics or stores beside them
	sideSpacing = 10 // between shapes of a side column
	boxPad      = 16 // inside a sub-topology's box
	titleHeight = 24
	boxGap      = 28 // between boxes
	margin      = 12
	laneWidth   = 14 // per topic joining two boxes, in the left margin
	slant       = 12 // a topic parallelogram's slant
)

const arrowID = "streams-topology-arrow"

type rect struct{ x, y, w, h float64 }

func (r rect) midY() float64 { return r.y + r.h/2 }
func (r rect) midX() float64 { return r.x + r.w/2 }

type pictureNode struct {
	desc  topology.NodeDescription
	kind  string // "source", "processor" or "sink"
	what  string // the label's second line
	layer int
	r     rect
}

// side is a topic or a store beside a box's nodes.
type side struct {
	name, what string
	owners     []int // the nodes it is joined to, by index in the box
	// reads and writes: a topic read by a source of the box, written by
	// one of its sinks.
	reads, writes bool
	r             rect
}

type box struct {
	title  string
	r      rect
	nodes  []pictureNode
	edges  [][2]int // node indexes, parent to child
	topics []side
	stores []side
}

// lane is a topic that one box writes and another reads, drawn as a
// dashed arrow in the left margin.
type lane struct {
	topic    string
	from, to rect // the writer's topic shape, the reader's
	x        float64
}

type picture struct {
	w, h  float64
	boxes []box
	lanes []lane
}

// part is a sub-topology or a global store's, ordered by id.
type part struct {
	id     int
	global bool
	nodes  []topology.NodeDescription
}

func layout(d *topology.Description) picture {
	parts := make([]part, 0, len(d.Subtopologies)+len(d.GlobalStores))
	for _, st := range d.Subtopologies {
		parts = append(parts, part{id: st.ID, nodes: st.Nodes})
	}
	globalStores := map[string]bool{}
	for _, g := range d.GlobalStores {
		parts = append(parts, part{id: g.ID, global: true, nodes: []topology.NodeDescription{g.Source, g.Processor}})
		for _, s := range g.Processor.Stores {
			globalStores[s] = true
		}
	}
	slices.SortStableFunc(parts, func(a, b part) int { return a.id - b.id })

	var p picture
	for _, pt := range parts {
		p.boxes = append(p.boxes, layoutBox(pt, globalStores))
	}

	// Lanes: a topic written in one box and read in another.
	type at struct{ box, topic int }
	writers, readers := map[string][]at{}, map[string][]at{}
	var names []string
	for bi, b := range p.boxes {
		for ti, t := range b.topics {
			if t.writes {
				if writers[t.name] == nil && readers[t.name] == nil {
					names = append(names, t.name)
				}
				writers[t.name] = append(writers[t.name], at{bi, ti})
			}
			if t.reads {
				if writers[t.name] == nil && readers[t.name] == nil {
					names = append(names, t.name)
				}
				readers[t.name] = append(readers[t.name], at{bi, ti})
			}
		}
	}
	type join struct {
		topic    string
		from, to at
	}
	var joins []join
	for _, name := range names {
		for _, w := range writers[name] {
			for _, r := range readers[name] {
				if w.box != r.box {
					joins = append(joins, join{name, w, r})
				}
			}
		}
	}
	gutter := 0.0
	if len(joins) > 0 {
		gutter = float64(len(joins))*laneWidth + laneWidth/2
	}

	// Place the boxes, stacked, all as wide as the widest.
	width := 0.0
	for _, b := range p.boxes {
		width = max(width, b.r.w)
	}
	y := float64(margin)
	for i := range p.boxes {
		b := &p.boxes[i]
		b.r.w = width
		b.shift(margin+gutter, y)
		y += b.r.h + boxGap
	}
	p.w = margin + gutter + width + margin
	p.h = max(y-boxGap+margin, 2*margin)
	for i, j := range joins {
		p.lanes = append(p.lanes, lane{
			topic: j.topic,
			from:  p.boxes[j.from.box].topics[j.from.topic].r,
			to:    p.boxes[j.to.box].topics[j.to.topic].r,
			x:     margin + gutter - laneWidth*float64(i+1),
		})
	}
	return p
}

// layoutBox lays out one part with its box's corner at (0, 0).
func layoutBox(pt part, globalStores map[string]bool) box {
	b := box{title: "Sub-topology: " + strconv.Itoa(pt.id)}
	if pt.global {
		b.title += " for global store (will not generate tasks)"
	}
	index := map[string]int{}
	for _, nd := range pt.nodes {
		if _, dup := index[nd.Name]; dup {
			continue // a name described twice is drawn once
		}
		index[nd.Name] = len(b.nodes)
		n := pictureNode{desc: nd, kind: strings.ToLower(nd.Kind.String())}
		n.what = n.kind
		if nd.Kind == topology.SinkNode && nd.Topic == "" {
			n.what = "sink, topic chosen per record"
		}
		b.nodes = append(b.nodes, n)
	}
	for i, n := range b.nodes {
		for _, s := range n.desc.Successors {
			if j, ok := index[s]; ok && j != i {
				b.edges = append(b.edges, [2]int{i, j})
			}
		}
	}
	layers := assignLayers(len(b.nodes), b.edges)
	for i := range b.nodes {
		b.nodes[i].layer = layers[i]
	}

	// Rows: the first in description order, each next one by the mean
	// position of the nodes' parents in the rows above (fewer crossings).
	rows := [][]int{}
	for i, n := range b.nodes {
		for len(rows) <= n.layer {
			rows = append(rows, nil)
		}
		rows[n.layer] = append(rows[n.layer], i)
	}
	pos := make([]float64, len(b.nodes))
	for li, row := range rows {
		if li > 0 {
			key := map[int]float64{}
			for _, i := range row {
				sum, k := 0.0, 0
				for _, e := range b.edges {
					if e[1] == i && b.nodes[e[0]].layer < li {
						sum += pos[e[0]]
						k++
					}
				}
				key[i] = float64(i)
				if k > 0 {
					key[i] = sum / float64(k)
				}
			}
			slices.SortStableFunc(row, func(x, y int) int { return cmp.Compare(key[x], key[y]) })
		}
		for o, i := range row {
			pos[i] = float64(o)
		}
	}

	// Sizes.
	rowWidth := make([]float64, len(rows))
	nodesWidth := 0.0
	for li, row := range rows {
		for o, i := range row {
			n := &b.nodes[i]
			n.r.w = max(textWidth(n.desc.Name), textWidth(n.what)) + 24
			n.r.h = nodeHeight
			rowWidth[li] += n.r.w
			if o > 0 {
				rowWidth[li] += nodeGap
			}
		}
		nodesWidth = max(nodesWidth, rowWidth[li])
	}

	// Topics and stores beside the nodes.
	topicAt, storeAt := map[string]int{}, map[string]int{}
	addTopic := func(name, what string, owner int, reads bool) {
		i, ok := topicAt[what+"\x00"+name]
		if !ok {
			i = len(b.topics)
			topicAt[what+"\x00"+name] = i
			b.topics = append(b.topics, side{name: name, what: what})
		}
		t := &b.topics[i]
		t.owners = append(t.owners, owner)
		t.reads, t.writes = t.reads || reads, t.writes || !reads
	}
	for i, n := range b.nodes {
		switch n.desc.Kind {
		case topology.SourceNode:
			if n.desc.Pattern != "" {
				addTopic(n.desc.Pattern, "topic pattern", i, true)
			}
			for _, t := range n.desc.Topics {
				addTopic(t, "topic", i, true)
			}
		case topology.SinkNode:
			if n.desc.Topic != "" {
				addTopic(n.desc.Topic, "topic", i, false)
			}
		}
		for _, s := range n.desc.Stores {
			j, ok := storeAt[s]
			if !ok {
				j = len(b.stores)
				storeAt[s] = j
				what := "store"
				if globalStores[s] {
					what = "global store"
				}
				b.stores = append(b.stores, side{name: s, what: what})
			}
			b.stores[j].owners = append(b.stores[j].owners, i)
		}
	}
	topicsWidth, storesWidth := 0.0, 0.0
	for i := range b.topics {
		t := &b.topics[i]
		t.r.w, t.r.h = max(textWidth(t.name), textWidth(t.what))+20+2*slant, topicHeight
		topicsWidth = max(topicsWidth, t.r.w)
	}
	for i := range b.stores {
		s := &b.stores[i]
		s.r.w, s.r.h = max(textWidth(s.name), textWidth(s.what))+24, storeHeight
		storesWidth = max(storesWidth, s.r.w)
	}
	titleWidth := textWidth(b.title) + 2*boxPad

	// Across: topics, nodes, stores.
	x := float64(boxPad)
	topicsX := x
	if len(b.topics) > 0 {
		x += topicsWidth + sideGap
	}
	nodesX := x
	x += nodesWidth
	storesX := x + sideGap
	if len(b.stores) > 0 {
		x = storesX + storesWidth
	}
	b.r.w = max(x+boxPad, titleWidth)
	if extra := b.r.w - (x + boxPad); extra > 0 { // a long title: center the rest
		topicsX, nodesX, storesX = topicsX+extra/2, nodesX+extra/2, storesX+extra/2
	}

	// Down: the rows, then each side column next to its shapes' first
	// node, pushed down where they would overlap.
	top := float64(titleHeight + boxPad)
	bottom := top
	for li, row := range rows {
		xx := nodesX + (nodesWidth-rowWidth[li])/2
		for _, i := range row {
			n := &b.nodes[i]
			n.r.x, n.r.y = xx, top+float64(li)*(nodeHeight+layerGap)
			xx += n.r.w + nodeGap
			bottom = max(bottom, n.r.y+n.r.h)
		}
	}
	place := func(col []side, x float64) {
		order := make([]int, len(col))
		for i := range order {
			order[i] = i
		}
		want := func(s side) float64 { return b.nodes[s.owners[0]].r.midY() - s.r.h/2 }
		slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(want(col[i]), want(col[j])) })
		next := top
		for _, i := range order {
			s := &col[i]
			s.r.x, s.r.y = x, max(want(*s), next)
			next = s.r.y + s.r.h + sideSpacing
			bottom = max(bottom, s.r.y+s.r.h)
		}
	}
	place(b.topics, topicsX)
	place(b.stores, storesX)
	b.r.h = bottom + boxPad
	return b
}

// assignLayers puts each node one layer below its lowest parent, sources
// (no parent) in layer 0. A cycle, which a topology cannot have, would
// leave its nodes where they were when it was found.
func assignLayers(n int, edges [][2]int) []int {
	layers := make([]int, n)
	indeg := make([]int, n)
	children := make([][]int, n)
	for _, e := range edges {
		indeg[e[1]]++
		children[e[0]] = append(children[e[0]], e[1])
	}
	var queue []int
	for i := range n {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, c := range children[i] {
			layers[c] = max(layers[c], layers[i]+1)
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	return layers
}

func (b *box) shift(dx, dy float64) {
	b.r.x, b.r.y = b.r.x+dx, b.r.y+dy
	for i := range b.nodes {
		b.nodes[i].r.x, b.nodes[i].r.y = b.nodes[i].r.x+dx, b.nodes[i].r.y+dy
	}
	for _, col := range [][]side{b.topics, b.stores} {
		for i := range col {
			col[i].r.x, col[i].r.y = col[i].r.x+dx, col[i].r.y+dy
		}
	}
}

// textWidth is how wide s is drawn: a wide (East Asian) character takes
// two cells.
func textWidth(s string) float64 {
	cells := 0
	for _, r := range s {
		cells++
		if wide(r) {
			cells++
		}
	}
	return float64(cells) * charWidth
}

func wide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe4f) || (r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x1f300 && r <= 0x1faff) || (r >= 0x20000 && r <= 0x3fffd))
}

// Colors: fill and stroke per shape.
var colors = map[string][2]string{
	"source":       {"#e3f4e1", "#3c8d40"},
	"processor":    {"#e4eefb", "#3b6fb6"},
	"sink":         {"#fdeede", "#c2762b"},
	"topic":        {"#f2f2f2", "#777777"},
	"store":        {"#efe6f8", "#7a4fa8"},
	"global store": {"#efe6f8", "#7a4fa8"},
}

func (p picture) write(sb *strings.Builder) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	w, h := f(p.w), f(p.h)
	sb.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="topology" width="` + w + `" height="` + h +
		`" viewBox="0 0 ` + w + ` ` + h + `" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="` +
		strconv.Itoa(fontSize) + `" role="img" aria-label="the topology">` + "\n")
	sb.WriteString(`<defs><marker id="` + arrowID + `" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
		`<path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>` + "\n")
	arrow := ` marker-end="url(#` + arrowID + `)"`
	line := func(class string, x1, y1, x2, y2 float64, dashed, arrowed bool) {
		sb.WriteString(`<path class="` + class + `" d="M ` + f(x1) + ` ` + f(y1) + ` L ` + f(x2) + ` ` + f(y2) + `" fill="none" stroke="#555555" stroke-width="1.2"`)
		if dashed {
			sb.WriteString(` stroke-dasharray="5 4"`)
		}
		if arrowed {
			sb.WriteString(arrow)
		}
		sb.WriteString("/>\n")
	}
	for bi, b := range p.boxes {
		sb.WriteString(`<g class="subtopology" data-index="` + strconv.Itoa(bi) + `">` + "\n")
		sb.WriteString(`<rect x="` + f(b.r.x) + `" y="` + f(b.r.y) + `" width="` + f(b.r.w) + `" height="` + f(b.r.h) +
			`" rx="6" fill="#fbfbfd" stroke="#b8bcc8" stroke-width="1"/>` + "\n")
		sb.WriteString(`<text x="` + f(b.r.x+boxPad/2) + `" y="` + f(b.r.y+titleHeight/2+5) + `" font-weight="bold" fill="#333333">` + xmlText(b.title) + "</text>\n")
		// Lines first, so that the shapes cover where they cross.
		for _, t := range b.topics {
			for _, o := range t.owners {
				n := b.nodes[o].r
				if b.nodes[o].desc.Kind == topology.SinkNode {
					line("edge", n.x, n.midY(), t.r.x+t.r.w-slant/2, t.r.midY(), false, true)
				} else {
					line("edge", t.r.x+t.r.w-slant/2, t.r.midY(), n.x, n.midY(), false, true)
				}
			}
		}
		for _, s := range b.stores {
			for _, o := range s.owners {
				n := b.nodes[o].r
				line("store-edge", n.x+n.w, n.midY(), s.r.x, s.r.midY(), true, false)
			}
		}
		for _, e := range b.edges {
			from, to := b.nodes[e[0]].r, b.nodes[e[1]].r
			x1, y1, x2, y2 := from.midX(), from.y+from.h, to.midX(), to.y
			if b.nodes[e[1]].layer == b.nodes[e[0]].layer+1 || y2 <= y1 {
				line("edge", x1, y1, x2, y2, false, true)
				continue
			}
			// Past a layer: a curve, bowed out to the side so that it
			// leaves the nodes between mostly clear.
			bow := from.w/2 + nodeGap
			sb.WriteString(`<path class="edge" d="M ` + f(x1) + ` ` + f(y1) + ` C ` + f(x1+bow) + ` ` + f(y1+layerGap) + ` ` +
				f(x2+bow) + ` ` + f(y2-layerGap) + ` ` + f(x2) + ` ` + f(y2) + `" fill="none" stroke="#555555" stroke-width="1.2"` + arrow + "/>\n")
		}
		for _, n := range b.nodes {
			c := colors[n.kind]
			rx := "3"
			if n.kind != "processor" {
				rx = f(n.r.h / 2)
			}
			sb.WriteString(`<g class="node ` + n.kind + `" data-node="` + xmlText(n.desc.Name) + `"><title>` + xmlText(nodeTitle(n.desc)) + "</title>")
			sb.WriteString(`<rect x="` + f(n.r.x) + `" y="` + f(n.r.y) + `" width="` + f(n.r.w) + `" height="` + f(n.r.h) +
				`" rx="` + rx + `" fill="` + c[0] + `" stroke="` + c[1] + `" stroke-width="1.5"/>`)
			writeLabel(sb, n.r, n.desc.Name, n.what)
			sb.WriteString("</g>\n")
		}
		for _, t := range b.topics {
			c := colors["topic"]
			r := t.r
			sb.WriteString(`<g class="topic" data-topic="` + xmlText(t.name) + `"><title>` + xmlText(t.what+" "+t.name) + "</title>")
			sb.WriteString(`<path d="M ` + f(r.x+slant) + ` ` + f(r.y) + ` L ` + f(r.x+r.w) + ` ` + f(r.y) + ` L ` + f(r.x+r.w-slant) + ` ` +
				f(r.y+r.h) + ` L ` + f(r.x) + ` ` + f(r.y+r.h) + ` Z" fill="` + c[0] + `" stroke="` + c[1] + `" stroke-width="1.2"/>`)
			writeLabel(sb, r, t.name, t.what)
			sb.WriteString("</g>\n")
		}
		for _, s := range b.stores {
			c := colors[s.what]
			r := s.r
			const ry = 5.0
			sb.WriteString(`<g class="store" data-store="` + xmlText(s.name) + `"><title>` + xmlText(s.what+" "+s.name) + "</title>")
			sb.WriteString(`<path d="M ` + f(r.x) + ` ` + f(r.y+ry) + ` A ` + f(r.w/2) + ` ` + f(ry) + ` 0 0 1 ` + f(r.x+r.w) + ` ` + f(r.y+ry) +
				` L ` + f(r.x+r.w) + ` ` + f(r.y+r.h-ry) + ` A ` + f(r.w/2) + ` ` + f(ry) + ` 0 0 1 ` + f(r.x) + ` ` + f(r.y+r.h-ry) +
				` Z" fill="` + c[0] + `" stroke="` + c[1] + `" stroke-width="1.5"/>`)
			sb.WriteString(`<path d="M ` + f(r.x) + ` ` + f(r.y+ry) + ` A ` + f(r.w/2) + ` ` + f(ry) + ` 0 0 0 ` + f(r.x+r.w) + ` ` + f(r.y+ry) +
				`" fill="none" stroke="` + c[1] + `" stroke-width="1.5"/>`)
			writeLabel(sb, rect{r.x, r.y + ry, r.w, r.h - ry}, s.name, s.what)
			sb.WriteString("</g>\n")
		}
		sb.WriteString("</g>\n")
	}
	// The lanes last: they cross the boxes' edges.
	for _, l := range p.lanes {
		x1, x2 := l.from.x+slant/2, l.to.x+slant/2 // the parallelograms' left sides, half-way down
		sb.WriteString(`<path class="lane" data-topic="` + xmlText(l.topic) + `" d="M ` + f(x1) + ` ` + f(l.from.midY()) +
			` L ` + f(l.x) + ` ` + f(l.from.midY()) + ` L ` + f(l.x) + ` ` + f(l.to.midY()) + ` L ` + f(x2) + ` ` + f(l.to.midY()) +
			`" fill="none" stroke="#888888" stroke-width="1.2" stroke-dasharray="5 4"` + arrow + "/>\n")
	}
	sb.WriteString("</svg>\n")
}

// writeLabel writes a shape's two lines: its name, and what it is.
func writeLabel(sb *strings.Builder, r rect, name, what string) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	sb.WriteString(`<text x="` + f(r.midX()) + `" y="` + f(r.midY()-2) + `" text-anchor="middle" fill="#111111">` + xmlText(name) + `</text>`)
	sb.WriteString(`<text x="` + f(r.midX()) + `" y="` + f(r.midY()+12) + `" text-anchor="middle" fill="#666666" font-size="10">` + xmlText(what) + `</text>`)
}

// nodeTitle is a node's tooltip: its line of Description.String.
func nodeTitle(n topology.NodeDescription) string {
	s := n.Kind.String() + ": " + n.Name
	switch {
	case n.Kind == topology.SourceNode && n.Pattern != "":
		s += fmt.Sprintf(" (topics: %s)", n.Pattern)
	case n.Kind == topology.SourceNode:
		s += fmt.Sprintf(" (topics: [%s])", strings.Join(n.Topics, ", "))
	case n.Kind == topology.SinkNode && n.Topic != "":
		s += " (topic: " + n.Topic + ")"
	case n.Kind == topology.ProcessorNode:
		s += fmt.Sprintf(" (stores: [%s])", strings.Join(n.Stores, ", "))
	}
	return s
}

// xmlText is s escaped for XML text and attribute values. Invalid UTF-8
// and the characters XML 1.0 does not allow (most control characters,
// U+FFFE, U+FFFF) become U+FFFD.
func xmlText(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			sb.WriteRune(utf8.RuneError)
		case r == '&':
			sb.WriteString("&amp;")
		case r == '<':
			sb.WriteString("&lt;")
		case r == '>':
			sb.WriteString("&gt;")
		case r == '"':
			sb.WriteString("&quot;")
		case r == '\'':
			sb.WriteString("&apos;")
		case r == '\t', r == '\n', r == '\r':
			sb.WriteByte(' ') // a label is one line
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}
