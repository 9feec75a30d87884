package kstream

import (
	"strconv"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/topology"
)

// BranchedStream splits a stream into branches: each record goes to the
// first branch whose predicate it satisfies, or to the default branch, or
// nowhere. Make one with KStream.Split, add branches with Branch, and end
// with DefaultBranch or NoDefaultBranch, which return the branches by name.
type BranchedStream[K, V any] struct {
	s        KStream[K, V]
	name     string // the split node's name, the prefix of the branches'
	branches []branch[K, V]
	ended    bool
}

type branch[K, V any] struct {
	name string // the branch's node name
	key  string // its key in the result: the name given, or its position
	p    Predicate[K, V]
}

// Split starts splitting s. Named names the split node
// (KSTREAM-BRANCH-…); the branches are named after it: the split's name
// followed by each branch's name, or its position from 1.
func (s KStream[K, V]) Split(named ...Named) *BranchedStream[K, V] {
	name := s.sb.name(named, branchName)
	return &BranchedStream[K, V]{s: s, name: name}
}

// Branch adds a branch of the records that satisfy p (and no earlier
// branch's predicate). name, if given, names it; otherwise it is known by
// its position, "1", "2", ….
func (b *BranchedStream[K, V]) Branch(p Predicate[K, V], name ...string) *BranchedStream[K, V] {
	b.add(p, name)
	return b
}

func (b *BranchedStream[K, V]) add(p Predicate[K, V], name []string) {
	b.s.sb.newName(b.name) // Kafka Streams draws an index for each branch
	key := strconv.Itoa(len(b.branches) + 1)
	if len(name) > 0 && name[0] != "" {
		key = name[0]
	}
	b.branches = append(b.branches, branch[K, V]{name: b.name + key, key: key, p: p})
}

// DefaultBranch ends the split with a branch of the records no predicate
// took, and returns every branch by its key: the split's name followed by
// the branch's name or position, as Kafka Streams' Branched does. name, if
// given, names the default branch ("0" otherwise).
func (b *BranchedStream[K, V]) DefaultBranch(name ...string) map[string]KStream[K, V] {
	key := "0"
	if len(name) > 0 && name[0] != "" {
		key = name[0]
	}
	b.s.sb.newName(b.name)
	b.branches = append(b.branches, branch[K, V]{name: b.name + key, key: key})
	return b.end()
}

// NoDefaultBranch ends the split: records no predicate took are dropped.
func (b *BranchedStream[K, V]) NoDefaultBranch() map[string]KStream[K, V] { return b.end() }

func (b *BranchedStream[K, V]) end() map[string]KStream[K, V] {
	sb := b.s.sb
	if b.ended {
		sb.problem("split %q was ended twice; call DefaultBranch or NoDefaultBranch once", b.name)
		return nil
	}
	b.ended = true
	branches := b.branches
	split := add(b.s, b.name, "a branch predicate", func(c *call, ctx processor.Context[K, V], rec processor.Record[K, V]) error {
		for _, br := range branches {
			if br.p == nil {
				return ctx.ForwardTo(br.name, rec)
			}
			ok, err := try2(c, br.p, rec.Key, rec.Value)
			if err != nil {
				return err
			}
			if ok {
				return ctx.ForwardTo(br.name, rec)
			}
		}
		return nil
	})
	out := map[string]KStream[K, V]{}
	for _, br := range branches {
		if _, dup := out[br.name]; dup {
			sb.problem("split %q has two branches named %q", b.name, br.key)
			continue
		}
		n := topology.AddProcessor(sb.b, br.name, processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, V]) error {
			return ctx.Forward(rec)
		}), split)
		out[br.name] = derived(b.s, n, b.s.keySerde, b.s.valueSerde, b.s.keyChanged)
	}
	return out
}
