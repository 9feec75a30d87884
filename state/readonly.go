package state

import (
	"errors"
	"fmt"
)

// ErrReadOnly is returned by the write methods of a read-only view of a
// store: the view a task's processor gets of a global store
// (topology.AddGlobalStore), which only the global store's own processor
// writes.
var ErrReadOnly = errors.New("state: the store is read-only here")

// ReadOnlyView implements stateproto.ReadOnlyViewer: the committed view
// (below any cache), with every write refused with ErrReadOnly, and Init,
// Flush and Close left to the store's owner.
func (s *keyValueStore[K, V]) ReadOnlyView() Store {
	return readOnlyKeyValueStore[K, V]{s.CommittedView().(*keyValueStore[K, V])}
}

// readOnlyKeyValueStore embeds the interface, not the store, so that it
// offers none of the store's runtime protocols.
type readOnlyKeyValueStore[K, V any] struct{ KeyValueStore[K, V] }

func (s readOnlyKeyValueStore[K, V]) refuse(op string) error {
	return fmt.Errorf("state: store %q: %s: %w", s.Name(), op, ErrReadOnly)
}

func (s readOnlyKeyValueStore[K, V]) Init(StoreContext) error { return s.refuse("init") }
func (s readOnlyKeyValueStore[K, V]) Flush() error            { return nil }
func (s readOnlyKeyValueStore[K, V]) Close() error            { return nil }
func (s readOnlyKeyValueStore[K, V]) Put(K, V) error          { return s.refuse("put") }
func (s readOnlyKeyValueStore[K, V]) PutAll([]KeyValue[K, V]) error {
	return s.refuse("put all")
}

func (s readOnlyKeyValueStore[K, V]) PutIfAbsent(K, V) (V, bool, error) {
	var zero V
	return zero, false, s.refuse("put if absent")
}

func (s readOnlyKeyValueStore[K, V]) Delete(K) (V, bool, error) {
	var zero V
	return zero, false, s.refuse("delete")
}
