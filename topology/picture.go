package topology

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Mermaid returns the description as a Mermaid flowchart: what String
// prints, drawn. Each sub-topology is a subgraph titled as String titles
// it ("Sub-topology: 0", a global store's "… for global store (will not
// generate tasks)"), holding its nodes and its state stores. Topics are
// shapes of their own outside the subgraphs, so a topic that one
// sub-topology writes and another reads (a repartition topic, say) links
// the two. Edges follow the nodes' Successors; a dotted line joins a
// processor to each store it uses.
//
// Shapes: a stadium for a source or a sink, a rectangle for a processor, a
// parallelogram for a topic or a source's pattern, a cylinder for a store.
// Each is labelled with its name and, below it, what it is. Shapes get
// generated ids (n0, t0, s0…) and quoted labels, in which the characters
// Mermaid would read as markup are entity codes, so no node, topic or
// store name can break the syntax. The same description gives the same
// bytes.
func (d *Description) Mermaid() string {
	p := d.picture()
	var sb strings.Builder
	sb.WriteString("flowchart TB\n")
	for _, s := range p.topics {
		writeMermaidShape(&sb, "    ", s)
	}
	for _, c := range p.clusters {
		sb.WriteString("    subgraph sub" + strconv.Itoa(c.id) + "[\"" + c.title + "\"]\n")
		for _, s := range c.shapes() {
			writeMermaidShape(&sb, "        ", s)
		}
		sb.WriteString("    end\n")
	}
	for _, e := range p.edges {
		arrow := " --> "
		if e.store {
			arrow = " -.- "
		}
		sb.WriteString("    " + e.from + arrow + e.to + "\n")
	}
	return sb.String()
}

// DOT returns the description as a Graphviz DOT digraph, drawn as Mermaid
// draws it: a cluster per sub-topology with its nodes and stores, topics
// outside the clusters, edges along the Successors, a dashed undirected
// edge from a processor to each store it uses. Render it with
// "dot -Tsvg". Ids are generated and labels quoted and escaped; the same
// description gives the same bytes.
func (d *Description) DOT() string {
	p := d.picture()
	var sb strings.Builder
	sb.WriteString("digraph topology {\n")
	for _, s := range p.topics {
		writeDOTShape(&sb, "    ", s)
	}
	for _, c := range p.clusters {
		sb.WriteString("    subgraph cluster_sub" + strconv.Itoa(c.id) + " {\n")
		sb.WriteString("        label=\"" + c.title + "\";\n")
		for _, s := range c.shapes() {
			writeDOTShape(&sb, "        ", s)
		}
		sb.WriteString("    }\n")
	}
	for _, e := range p.edges {
		sb.WriteString("    " + e.from + " -> " + e.to)
		if e.store {
			sb.WriteString(" [dir=none, style=dashed]")
		}
		sb.WriteString(";\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}

// picture is a Description laid out for drawing, the same for both
// formats.
type picture struct {
	topics   []shape
	clusters []cluster
	edges    []edge
}

// cluster is a sub-topology: its nodes, then its stores.
type cluster struct {
	id            int
	title         string // written as is: it holds no name
	nodes, stores []shape
}

func (c cluster) shapes() []shape { return append(slices.Clip(c.nodes), c.stores...) }

type shapeKind int

const (
	sourceShape shapeKind = iota
	processorShape
	sinkShape
	topicShape
	storeShape
)

// shape is a node, topic, pattern or store: id, name, and what it is (the
// label's second line).
type shape struct {
	id, name, what string
	kind           shapeKind
}

// edge is a record's way from one shape to another, or (store) the line
// between a processor and a store it uses.
type edge struct {
	from, to string
	store    bool
}

// part is a sub-topology or a global store's, in one list ordered by id.
type part struct {
	id     int
	global bool
	nodes  []NodeDescription
}

// picture lays d out. Ids are numbered in the order in which the parts,
// their nodes and the nodes' topics and stores come in d, which is
// deterministic, so the same description always gives the same picture.
func (d *Description) picture() picture {
	parts := make([]part, 0, len(d.Subtopologies)+len(d.GlobalStores))
	for _, st := range d.Subtopologies {
		parts = append(parts, part{id: st.ID, nodes: st.Nodes})
	}
	for _, g := range d.GlobalStores {
		parts = append(parts, part{id: g.ID, global: true, nodes: []NodeDescription{g.Source, g.Processor}})
	}
	slices.SortStableFunc(parts, func(a, b part) int { return a.id - b.id })

	// Ids in the order of the parts and their nodes: nodes first, so that
	// an edge can name a successor described after it; a global store
	// belongs to its own part, even where a processor of another uses it.
	nodeID := map[string]string{}
	storePart := map[string]int{}
	n := 0
	for i, pt := range parts {
		for _, nd := range pt.nodes {
			if _, dup := nodeID[nd.Name]; !dup {
				nodeID[nd.Name] = "n" + strconv.Itoa(n)
				n++
			}
			if pt.global {
				for _, s := range nd.Stores {
					if _, ok := storePart[s]; !ok {
						storePart[s] = i
					}
				}
			}
		}
	}

	var p picture
	p.clusters = make([]cluster, len(parts))
	topicID := map[string]string{} // "t" + topic or "p" + pattern
	topic := func(key, name, what string) string {
		if id, ok := topicID[key]; ok {
			return id
		}
		id := "t" + strconv.Itoa(len(topicID))
		topicID[key] = id
		p.topics = append(p.topics, shape{id: id, name: name, what: what, kind: topicShape})
		return id
	}
	storeID := map[string]string{}
	store := func(name string, in int) string {
		if id, ok := storeID[name]; ok {
			return id
		}
		id := "s" + strconv.Itoa(len(storeID))
		storeID[name] = id
		if g, ok := storePart[name]; ok {
			in = g
		}
		p.clusters[in].stores = append(p.clusters[in].stores, shape{id: id, name: name, what: "store", kind: storeShape})
		return id
	}
	placed := map[string]bool{}
	for i, pt := range parts {
		c := &p.clusters[i]
		c.id = pt.id
		c.title = "Sub-topology: " + strconv.Itoa(pt.id)
		if pt.global {
			c.title += " for global store (will not generate tasks)"
		}
		for _, nd := range pt.nodes {
			if placed[nd.Name] {
				continue // a name described twice is drawn once
			}
			placed[nd.Name] = true
			id := nodeID[nd.Name]
			s := shape{id: id, name: nd.Name, what: strings.ToLower(nd.Kind.String()), kind: processorShape}
			switch nd.Kind {
			case SourceNode:
				s.kind = sourceShape
				if nd.Pattern != "" {
					p.edges = append(p.edges, edge{from: topic("p"+nd.Pattern, nd.Pattern, "topic pattern"), to: id})
				}
				for _, t := range nd.Topics {
					p.edges = append(p.edges, edge{from: topic("t"+t, t, "topic"), to: id})
				}
			case SinkNode:
				s.kind = sinkShape
				if nd.Topic == "" {
					s.what = "sink, topic chosen per record"
				}
			}
			c.nodes = append(c.nodes, s)
			for _, st := range nd.Stores {
				p.edges = append(p.edges, edge{from: id, to: store(st, i), store: true})
			}
			for _, succ := range nd.Successors {
				if to, ok := nodeID[succ]; ok {
					p.edges = append(p.edges, edge{from: id, to: to})
				}
			}
			if nd.Kind == SinkNode && nd.Topic != "" {
				p.edges = append(p.edges, edge{from: id, to: topic("t"+nd.Topic, nd.Topic, "topic")})
			}
		}
	}
	return p
}

func writeMermaidShape(sb *strings.Builder, indent string, s shape) {
	open, closing := "[\"", "\"]"
	switch s.kind {
	case sourceShape, sinkShape:
		open, closing = "([\"", "\"])"
	case topicShape:
		open, closing = "[/\"", "\"/]"
	case storeShape:
		open, closing = "[(\"", "\")]"
	}
	sb.WriteString(indent + s.id + open + mermaidText(s.name) + "<br/>" + mermaidText(s.what) + closing + "\n")
}

func writeDOTShape(sb *strings.Builder, indent string, s shape) {
	attrs := "shape=box"
	switch s.kind {
	case sourceShape, sinkShape:
		attrs = "shape=box, style=rounded"
	case topicShape:
		attrs = "shape=parallelogram"
	case storeShape:
		attrs = "shape=cylinder"
	}
	sb.WriteString(indent + s.id + " [label=\"" + dotText(s.name) + "\\n" + dotText(s.what) + "\", " + attrs + "];\n")
}

// mermaidText is s for a quoted Mermaid label. A quote would end the
// label; '#' starts an entity code; '<', '>' and '&' are HTML in an HTML
// label; a backquote starts a markdown string; ':' is escaped because
// Mermaid's entity pass mangles lines holding "style…:…#…;" (which an
// escaped name could otherwise form). Each becomes a decimal entity code,
// as do control characters.
func mermaidText(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	if !strings.ContainsFunc(s, mermaidSpecial) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if mermaidSpecial(r) {
			sb.WriteString("#" + strconv.Itoa(int(r)) + ";")
		} else {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func mermaidSpecial(r rune) bool {
	return strings.ContainsRune("\"#<>&`:", r) || r < 0x20 || r == 0x7f
}

// dotText is s for a quoted DOT label: a backslash would start one of the
// label's escapes (\n, \N…), a quote would end the string, and Graphviz
// reads HTML entities ("&amp;") in every label, so '&' is one. A newline
// is a line break; other control characters are spaces.
func dotText(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '"':
			sb.WriteString(`\"`)
		case r == '&':
			sb.WriteString("&amp;")
		case r == '\n':
			sb.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
