package state

import (
	"bytes"
	"container/heap"
	"fmt"
	"iter"
)

// MergeKeyValue returns a read-only view over stores, which must be stores
// the builders made with the same key serde: the same store of several
// tasks, say. A point read asks each store in turn and returns the first
// value found. A scan merges the stores' scans in serialized-key order;
// each store's part is a snapshot taken when the scan starts, as for one
// store. The view holds the stores it was given: build a new one when the
// set changes.
func MergeKeyValue[K, V any](stores ...ReadOnlyKeyValueStore[K, V]) ReadOnlyKeyValueStore[K, V] {
	return mergedKV[K, V](stores)
}

type mergedKV[K, V any] []ReadOnlyKeyValueStore[K, V]

func (m mergedKV[K, V]) Get(key K) (V, bool, error) {
	for _, s := range m {
		v, ok, err := s.Get(key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	var zero V
	return zero, false, nil
}

func (m mergedKV[K, V]) ApproximateNumEntries() (int64, error) {
	var n int64
	for _, s := range m {
		c, err := s.ApproximateNumEntries()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

func (m mergedKV[K, V]) Range(from, to *K) iter.Seq2[KeyValue[K, V], error] {
	return m.merge(false, func(s ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error] { return s.Range(from, to) })
}

func (m mergedKV[K, V]) ReverseRange(from, to *K) iter.Seq2[KeyValue[K, V], error] {
	return m.merge(true, func(s ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error] { return s.ReverseRange(from, to) })
}

func (m mergedKV[K, V]) All() iter.Seq2[KeyValue[K, V], error] {
	return m.merge(false, func(s ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error] { return s.All() })
}

func (m mergedKV[K, V]) ReverseAll() iter.Seq2[KeyValue[K, V], error] {
	return m.merge(true, func(s ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error] { return s.ReverseAll() })
}

func (m mergedKV[K, V]) PrefixScan(prefix K) iter.Seq2[KeyValue[K, V], error] {
	return m.merge(false, func(s ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error] { return s.PrefixScan(prefix) })
}

// head is the next entry of one store's scan, with its serialized key.
type head[K, V any] struct {
	kv   KeyValue[K, V]
	raw  []byte
	next func() (KeyValue[K, V], error, bool)
	stop func()
}

type heads[K, V any] struct {
	hs      []*head[K, V]
	reverse bool
}

func (h *heads[K, V]) Len() int { return len(h.hs) }
func (h *heads[K, V]) Less(i, j int) bool {
	c := bytes.Compare(h.hs[i].raw, h.hs[j].raw)
	if h.reverse {
		return c > 0
	}
	return c < 0
}
func (h *heads[K, V]) Swap(i, j int) { h.hs[i], h.hs[j] = h.hs[j], h.hs[i] }
func (h *heads[K, V]) Push(x any)    { h.hs = append(h.hs, x.(*head[K, V])) }
func (h *heads[K, V]) Pop() any {
	x := h.hs[len(h.hs)-1]
	h.hs = h.hs[:len(h.hs)-1]
	return x
}

func (m mergedKV[K, V]) merge(reverse bool, scan func(ReadOnlyKeyValueStore[K, V]) iter.Seq2[KeyValue[K, V], error]) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		if len(m) == 1 {
			for kv, err := range scan(m[0]) {
				if !yield(kv, err) || err != nil {
					return
				}
			}
			return
		}
		h := &heads[K, V]{reverse: reverse}
		defer func() {
			for _, hd := range h.hs {
				hd.stop()
			}
		}()
		// advance reads the next entry of hd; it reports false when hd is
		// done (and stopped) or failed (err set).
		advance := func(hd *head[K, V]) (bool, error) {
			kv, err, ok := hd.next()
			if !ok {
				hd.stop()
				return false, nil
			}
			if err != nil {
				hd.stop()
				return false, err
			}
			raw, err := serializeKey(m[0], kv.Key)
			if err != nil {
				hd.stop()
				return false, err
			}
			hd.kv, hd.raw = kv, raw
			return true, nil
		}
		for _, s := range m {
			next, stop := iter.Pull2(scan(s))
			hd := &head[K, V]{next: next, stop: stop}
			ok, err := advance(hd)
			if err != nil {
				yield(KeyValue[K, V]{}, err)
				return
			}
			if ok {
				h.hs = append(h.hs, hd)
			}
		}
		heap.Init(h)
		for h.Len() > 0 {
			hd := h.hs[0]
			if !yield(hd.kv, nil) {
				return
			}
			ok, err := advance(hd)
			if err != nil {
				heap.Pop(h)
				yield(KeyValue[K, V]{}, err)
				return
			}
			if ok {
				heap.Fix(h, 0)
			} else {
				heap.Pop(h)
			}
		}
	}
}

// serializeKey encodes key as the store does, for ordering merged scans.
func serializeKey[K, V any](s ReadOnlyKeyValueStore[K, V], key K) ([]byte, error) {
	kv, ok := s.(*keyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("state: MergeKeyValue scans need stores made by the state builders, not %T", s)
	}
	return kv.keySerde.Serialize(key)
}
