package streams

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/state"
)

// QueryVersioned returns a read-only view of the versioned store name
// (state.NewVersionedKeyValueStoreBuilder, or a table the DSL
// materialized as versioned) across the tasks this instance runs now,
// safe to use from any goroutine, as QueryKeyValue is for key-value
// stores: a key lives in one task, so Get and GetAsOf ask each task's
// store in turn. It fails with ErrUnknownStore for a name the topology
// does not have, and with an error naming the store for one that is not
// versioned.
func QueryVersioned[K, V any](a *App, name string, opts ...QueryOptions) (state.ReadOnlyVersionedKeyValueStore[K, V], error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	v, ok := a.prog.Stores[name].Builder.(interface{ Versioned() (time.Duration, bool) })
	history, versioned := time.Duration(0), false
	if ok {
		history, versioned = v.Versioned()
	}
	if !versioned {
		return nil, fmt.Errorf("streams: store %q is not a versioned store; query it with QueryKeyValue, QueryWindow or QuerySession", name)
	}
	return &versionedQuery[K, V]{a: a, name: name, history: history, opts: options(opts)}, nil
}

type versionedQuery[K, V any] struct {
	a       *App
	name    string
	history time.Duration
	opts    QueryOptions
}

func (q *versionedQuery[K, V]) stores() ([]state.ReadOnlyVersionedKeyValueStore[K, V], error) {
	return localStoresAs[state.ReadOnlyVersionedKeyValueStore[K, V]](q.a, q.name, q.opts)
}

func (q *versionedQuery[K, V]) Get(key K) (state.VersionedRecord[V], bool, error) {
	return firstFound(q.stores, func(s state.ReadOnlyVersionedKeyValueStore[K, V]) (state.VersionedRecord[V], bool, error) {
		return s.Get(key)
	})
}

func (q *versionedQuery[K, V]) GetAsOf(key K, asOf time.Time) (state.VersionedRecord[V], bool, error) {
	return firstFound(q.stores, func(s state.ReadOnlyVersionedKeyValueStore[K, V]) (state.VersionedRecord[V], bool, error) {
		return s.GetAsOf(key, asOf)
	})
}

func (q *versionedQuery[K, V]) HistoryRetention() time.Duration { return q.history }
