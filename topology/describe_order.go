package topology

import (
	"unicode/utf16"

	"github.com/gostreams/streams/internal/graph"
)

// This file reproduces the order in which Kafka Streams'
// InternalTopologyBuilder.describeSubtopology prints a node's successors
// (-->) and predecessors (<--). That order is not a plain sort:
//
//  1. The sub-topology's node names sit in a java.util.HashSet, filled in
//     the order the nodes were added to the topology (makeNodeGroups walks
//     the nodeFactories LinkedHashMap). A HashMap nodesByName is filled by
//     iterating that set.
//  2. For each node in nodesByName.values() order, and for each of its
//     predecessors in the order they were passed, the two nodes are linked
//     and the predecessor's size (1 + the sizes of its successors, counted
//     per path) grows by the node's size, recursively up through the
//     predecessors known so far.
//  3. A node's successors and predecessors are TreeSets whose comparator
//     (larger size first, then name) reads the sizes as they are at the
//     moment of insertion; the sets are never re-sorted, so their in-order
//     walk depends on the red-black tree's shape.
//
// To print the same thing we emulate java.lang.String.hashCode,
// java.util.HashMap's iteration order (buckets, resizes, tree bins) and
// java.util.TreeMap's red-black insertion. The code is ours, written from
// the algorithms' published behaviour.

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + … + s[n-1]
// over the UTF-16 code units of s, in int32 arithmetic.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// javaCompare is java.lang.String.compareTo's sign: it compares UTF-16 code
// units, which orders characters above U+FFFF differently from a byte-wise
// comparison of UTF-8.
func javaCompare(a, b string) int {
	if a == b {
		return 0
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return int(ua[i]) - int(ub[i])
		}
	}
	return len(ua) - len(ub)
}

// rbNode is a node of a red-black tree shaped exactly as java.util.TreeMap
// and java.util.HashMap's tree bins shape theirs: CLR insertion with the
// same rotations and recolourings.
type rbNode[T any] struct {
	val                 T
	left, right, parent *rbNode[T]
	red                 bool
}

type rbTree[T any] struct{ root *rbNode[T] }

// insert adds v as TreeMap.put does: it walks down from the root with
// cmp(v, node) (<0 left, >0 right) and does nothing when cmp returns 0.
// It reports whether v was added.
func (t *rbTree[T]) insert(v T, cmp func(a, b T) int) bool {
	if t.root == nil {
		t.root = &rbNode[T]{val: v}
		return true
	}
	p := t.root
	for {
		c := cmp(v, p.val)
		switch {
		case c == 0:
			return false
		case c < 0 && p.left != nil:
			p = p.left
		case c > 0 && p.right != nil:
			p = p.right
		default:
			t.attach(&rbNode[T]{val: v}, p, c < 0)
			return true
		}
	}
}

// attach hangs n below p and rebalances (TreeMap.fixAfterInsertion,
// HashMap.TreeNode.balanceInsertion: both are CLR's RB-INSERT-FIXUP).
func (t *rbTree[T]) attach(n, p *rbNode[T], left bool) {
	n.parent = p
	if left {
		p.left = n
	} else {
		p.right = n
	}
	x := n
	x.red = true
	for x != t.root && x.parent.red {
		xp := x.parent
		xpp := xp.parent // xp is red, so it is not the root
		if xp == xpp.left {
			if y := xpp.right; y != nil && y.red {
				xp.red, y.red, xpp.red = false, false, true
				x = xpp
				continue
			}
			if x == xp.right {
				x = xp
				t.rotateLeft(x)
				xp = x.parent
			}
			xp.red, xpp.red = false, true
			t.rotateRight(xpp)
		} else {
			if y := xpp.left; y != nil && y.red {
				xp.red, y.red, xpp.red = false, false, true
				x = xpp
				continue
			}
			if x == xp.left {
				x = xp
				t.rotateRight(x)
				xp = x.parent
			}
			xp.red, xpp.red = false, true
			t.rotateLeft(xpp)
		}
	}
	t.root.red = false
}

func (t *rbTree[T]) rotateLeft(p *rbNode[T]) {
	r := p.right
	p.right = r.left
	if r.left != nil {
		r.left.parent = p
	}
	t.replace(p, r)
	r.left = p
	p.parent = r
}

func (t *rbTree[T]) rotateRight(p *rbNode[T]) {
	l := p.left
	p.left = l.right
	if l.right != nil {
		l.right.parent = p
	}
	t.replace(p, l)
	l.right = p
	p.parent = l
}

// replace puts c where p hangs, under p's parent (or as the root).
func (t *rbTree[T]) replace(p, c *rbNode[T]) {
	c.parent = p.parent
	switch {
	case p.parent == nil:
		t.root = c
	case p.parent.left == p:
		p.parent.left = c
	default:
		p.parent.right = c
	}
}

// walk calls f for each value in order (the TreeSet iteration order).
func (t *rbTree[T]) walk(f func(T)) {
	var rec func(*rbNode[T])
	rec = func(n *rbNode[T]) {
		if n == nil {
			return
		}
		rec(n.left)
		f(n.val)
		rec(n.right)
	}
	rec(t.root)
}

func (t *rbTree[T]) values() []T {
	var vs []T
	t.walk(func(v T) { vs = append(vs, v) })
	return vs
}

// The java.util.HashMap constants that shape its iteration order.
const (
	hmInitialCapacity = 16
	hmTreeifyAt       = 9  // a bin of 9 entries (TREEIFY_THRESHOLD+1) is treeified…
	hmMinTreeCapacity = 64 // …once the table has MIN_TREEIFY_CAPACITY buckets; before, the table grows
	hmUntreeifyAt     = 6  // UNTREEIFY_THRESHOLD: a split tree bin this small becomes a list again
)

// javaHashMap emulates the iteration order of a java.util.HashMap<String,…>
// (or HashSet<String>) made with the default constructor and only added to.
type javaHashMap struct {
	bins      []*hmBin
	size      int
	threshold int
}

// hmBin is one bucket. list is the bucket's entries in the order of their
// next links, which is the iteration order; tree is set when the bin is a
// tree bin (then list[0] is the tree's root, as moveRootToFront keeps it).
type hmBin struct {
	list []*hmEntry
	tree *rbTree[*hmEntry]
}

type hmEntry struct {
	key  string
	hash int32 // h ^ (h >>> 16)
	node *rbNode[*hmEntry]
}

// hmOrder orders a tree bin's entries: by spread hash, then by
// String.compareTo (HashMap.TreeNode's comparableClassFor path; distinct
// strings never need tieBreakOrder).
func hmOrder(a, b *hmEntry) int {
	switch {
	case a.hash < b.hash:
		return -1
	case a.hash > b.hash:
		return 1
	}
	return javaCompare(a.key, b.key)
}

// javaHashOrder returns keys in the order a default java.util.HashMap
// iterates them after they were put in the given order.
func javaHashOrder(keys []string) []string {
	m := &javaHashMap{}
	for _, k := range keys {
		m.put(k)
	}
	return m.keys()
}

func (m *javaHashMap) keys() []string {
	var ks []string
	for _, b := range m.bins {
		if b == nil {
			continue
		}
		for _, e := range b.list {
			ks = append(ks, e.key)
		}
	}
	return ks
}

func (m *javaHashMap) index(hash int32) int { return int(uint32(hash) & uint32(len(m.bins)-1)) }

// put is HashMap.putVal, keys only: a key already present changes nothing.
func (m *javaHashMap) put(key string) {
	h := javaStringHash(key)
	e := &hmEntry{key: key, hash: h ^ int32(uint32(h)>>16)}
	if m.bins == nil {
		m.resize()
	}
	i := m.index(e.hash)
	b := m.bins[i]
	switch {
	case b == nil:
		m.bins[i] = &hmBin{list: []*hmEntry{e}}
	case b.tree != nil:
		if !m.putTree(b, e) {
			return
		}
	default:
		for _, x := range b.list {
			if x.key == key {
				return
			}
		}
		b.list = append(b.list, e)
		if len(b.list) >= hmTreeifyAt {
			m.treeifyBin(i)
		}
	}
	m.size++
	if m.size > m.threshold {
		m.resize()
	}
}

// putTree is TreeNode.putTreeVal: the new entry joins the tree below its
// parent and the list right after that parent; then the root moves to the
// front of the list.
func (m *javaHashMap) putTree(b *hmBin, e *hmEntry) bool {
	p := b.tree.root
	for {
		c := hmOrder(e, p.val)
		if c == 0 {
			return false
		}
		next := p.right
		if c < 0 {
			next = p.left
		}
		if next == nil {
			break
		}
		p = next
	}
	e.node = &rbNode[*hmEntry]{val: e}
	b.tree.attach(e.node, p, hmOrder(e, p.val) < 0)
	at := indexOf(b.list, p.val) + 1
	b.list = append(b.list[:at], append([]*hmEntry{e}, b.list[at:]...)...)
	moveRootToFront(b)
	return true
}

func indexOf(list []*hmEntry, e *hmEntry) int {
	for i, x := range list {
		if x == e {
			return i
		}
	}
	return -1
}

// treeifyBin grows the table while it is small, else turns bin i into a
// tree bin.
func (m *javaHashMap) treeifyBin(i int) {
	if len(m.bins) < hmMinTreeCapacity {
		m.resize()
		return
	}
	treeify(m.bins[i])
}

// treeify builds a tree from the bin's list, inserting in list order, and
// moves its root to the front of the list (TreeNode.treeify).
func treeify(b *hmBin) {
	b.tree = &rbTree[*hmEntry]{}
	for _, e := range b.list {
		e.node = &rbNode[*hmEntry]{val: e}
		if b.tree.root == nil {
			b.tree.root = e.node
			continue
		}
		p := b.tree.root
		for {
			// TreeNode.treeify goes left when dir <= 0.
			left := hmOrder(e, p.val) <= 0
			next := p.right
			if left {
				next = p.left
			}
			if next == nil {
				b.tree.attach(e.node, p, left)
				break
			}
			p = next
		}
	}
	moveRootToFront(b)
}

func moveRootToFront(b *hmBin) {
	root := b.tree.root.val
	if i := indexOf(b.list, root); i > 0 {
		copy(b.list[1:i+1], b.list[:i])
		b.list[0] = root
	}
}

// resize doubles the table (or makes the first one). Each bin splits into
// the entries that stay at i and those that move to i+oldCap, both in their
// previous order; a tree bin's halves become lists when small, are rebuilt
// as trees when both halves are large, and a half that got everything
// keeps the tree (TreeNode.split).
func (m *javaHashMap) resize() {
	old := m.bins
	if old == nil {
		m.bins = make([]*hmBin, hmInitialCapacity)
		m.threshold = hmInitialCapacity * 3 / 4
		return
	}
	m.bins = make([]*hmBin, 2*len(old))
	m.threshold *= 2
	oldCap := len(old)
	for j, b := range old {
		if b == nil {
			continue
		}
		var lo, hi []*hmEntry
		for _, e := range b.list {
			if int(uint32(e.hash))&oldCap == 0 {
				lo = append(lo, e)
			} else {
				hi = append(hi, e)
			}
		}
		place := func(at int, half, other []*hmEntry) {
			if len(half) == 0 {
				return
			}
			nb := &hmBin{list: half}
			m.bins[at] = nb
			if b.tree == nil || len(half) <= hmUntreeifyAt {
				return
			}
			if len(other) == 0 {
				nb.tree = b.tree
			} else {
				treeify(nb)
			}
		}
		place(j, lo, hi)
		place(j+oldCap, hi, lo)
	}
}

// descNode is ITB.AbstractNode during describeSubtopology.
type descNode struct {
	def          *graph.NodeDef
	size         int
	preds, succs rbTree[*descNode]
}

// kafkaNodeOrder is ITB.NodeComparator: equal nodes (the same name) are
// equal; else the larger size comes first, then the smaller name.
func kafkaNodeOrder(a, b *descNode) int {
	if a.def.Name == b.def.Name {
		return 0
	}
	if a.size != b.size {
		return b.size - a.size
	}
	return javaCompare(a.def.Name, b.def.Name)
}

// linkLikeKafka links the nodes of one sub-topology as describeSubtopology
// does. nodes must be in the order they were added to the topology, which
// is the order of Kafka Streams' nodeFactories when the DSL adds nodes as
// Kafka Streams writes them. It returns the nodes by name, with final sizes
// and with predecessors and successors in Kafka Streams' printed order.
//
// Like Kafka Streams, it adds each node's size to every path above it, so
// its cost grows with the number of paths: stacked diamonds double it each.
func linkLikeKafka(nodes []*graph.NodeDef) map[string]*descNode {
	byName := make(map[string]*descNode, len(nodes))
	names := make([]string, len(nodes))
	for i, n := range nodes {
		byName[n.Name] = &descNode{def: n, size: 1}
		names[i] = n.Name
	}
	// The group's HashSet is filled in topology order; nodesByName, a
	// HashMap, is filled by iterating that set.
	visit := javaHashOrder(javaHashOrder(names))
	var grow func(n *descNode, delta int)
	grow = func(n *descNode, delta int) {
		n.size += delta
		n.preds.walk(func(p *descNode) { grow(p, delta) })
	}
	for _, name := range visit {
		n := byName[name]
		for _, pn := range n.def.Parents {
			p, ok := byName[pn]
			if !ok {
				continue // a parent in another sub-topology cannot happen; Build rejects unknown parents
			}
			n.preds.insert(p, kafkaNodeOrder)
			p.succs.insert(n, kafkaNodeOrder)
			grow(p, n.size)
		}
	}
	return byName
}

func nodeNames(t *rbTree[*descNode]) []string {
	var ns []string
	t.walk(func(n *descNode) { ns = append(ns, n.def.Name) })
	return ns
}
