package streams

import (
	"iter"
	"time"

	"github.com/gostreams/streams/state"
)

// QueryWindow returns a read-only view of the window store name across the
// tasks this instance runs now, safe to use from any goroutine, as
// QueryKeyValue is for key-value stores. A key lives in one task, so
// FetchOne and Fetch ask each task's store in turn. FetchRange, FetchAll,
// All and their backward variants chain the tasks' stores in task order,
// as Kafka Streams' composite window store does: each task's part is in
// order, the whole is not merged across tasks.
func QueryWindow[K, V any](a *App, name string, opts ...QueryOptions) (state.ReadOnlyWindowStore[K, V], error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	return &windowQuery[K, V]{a: a, name: name, opts: options(opts)}, nil
}

type windowQuery[K, V any] struct {
	a    *App
	name string
	opts QueryOptions
}

// stores returns the named store of every running task, typed.
func (q *windowQuery[K, V]) stores() ([]state.ReadOnlyWindowStore[K, V], error) {
	return localStoresAs[state.ReadOnlyWindowStore[K, V]](q.a, q.name, q.opts)
}

func (q *windowQuery[K, V]) FetchOne(key K, start time.Time) (V, bool, error) {
	return firstFound(q.stores, func(s state.ReadOnlyWindowStore[K, V]) (V, bool, error) { return s.FetchOne(key, start) })
}

// chain yields f of every task's store, one after the other.
func chain[K, V, T any](q *windowQuery[K, V], f func(state.ReadOnlyWindowStore[K, V]) iter.Seq2[T, error]) iter.Seq2[T, error] {
	return chainStores(q.stores, f)
}

func (q *windowQuery[K, V]) Fetch(key K, from, to time.Time) iter.Seq2[state.KeyValue[time.Time, V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[time.Time, V], error] {
		return s.Fetch(key, from, to)
	})
}

func (q *windowQuery[K, V]) BackwardFetch(key K, from, to time.Time) iter.Seq2[state.KeyValue[time.Time, V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[time.Time, V], error] {
		return s.BackwardFetch(key, from, to)
	})
}

func (q *windowQuery[K, V]) FetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.FetchRange(keyFrom, keyTo, from, to)
	})
}

func (q *windowQuery[K, V]) BackwardFetchRange(keyFrom, keyTo *K, from, to time.Time) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.BackwardFetchRange(keyFrom, keyTo, from, to)
	})
}

func (q *windowQuery[K, V]) FetchAll(from, to time.Time) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.FetchAll(from, to)
	})
}

func (q *windowQuery[K, V]) BackwardFetchAll(from, to time.Time) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.BackwardFetchAll(from, to)
	})
}

func (q *windowQuery[K, V]) All() iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.All()
	})
}

func (q *windowQuery[K, V]) BackwardAll() iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
	return chain(q, func(s state.ReadOnlyWindowStore[K, V]) iter.Seq2[state.KeyValue[state.Windowed[K], V], error] {
		return s.BackwardAll()
	})
}
