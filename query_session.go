package streams

import (
	"iter"
	"time"

	"github.com/gostreams/streams/state"
)

// QuerySession returns a read-only view of the session store name across
// the tasks this instance runs now, safe to use from any goroutine, as
// QueryKeyValue is for key-value stores. A key lives in one task, so
// FetchSession asks each task's store in turn and the per-key scans find
// the key's sessions in the one task that has them. FetchRange and
// BackwardFetchRange chain the tasks' stores in task order, as Kafka
// Streams' composite session store does: each task's part is in order, the
// whole is not merged across tasks.
func QuerySession[K, V any](a *App, name string, opts ...QueryOptions) (state.ReadOnlySessionStore[K, V], error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	return &sessionQuery[K, V]{a: a, name: name, opts: options(opts)}, nil
}

type sessionQuery[K, V any] struct {
	a    *App
	name string
	opts QueryOptions
}

type sessionSeq[K, V any] = iter.Seq2[state.KeyValue[state.Windowed[K], V], error]

func (q *sessionQuery[K, V]) stores() ([]state.ReadOnlySessionStore[K, V], error) {
	return localStoresAs[state.ReadOnlySessionStore[K, V]](q.a, q.name, q.opts)
}

func (q *sessionQuery[K, V]) chain(f func(state.ReadOnlySessionStore[K, V]) sessionSeq[K, V]) sessionSeq[K, V] {
	return chainStores(q.stores, f)
}

func (q *sessionQuery[K, V]) FetchSession(key K, start, end time.Time) (V, bool, error) {
	return firstFound(q.stores, func(s state.ReadOnlySessionStore[K, V]) (V, bool, error) {
		return s.FetchSession(key, start, end)
	})
}

func (q *sessionQuery[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] {
		return s.FindSessions(key, earliestSessionEnd, latestSessionStart)
	})
}

func (q *sessionQuery[K, V]) BackwardFindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] {
		return s.BackwardFindSessions(key, earliestSessionEnd, latestSessionStart)
	})
}

func (q *sessionQuery[K, V]) Fetch(key K) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] { return s.Fetch(key) })
}

func (q *sessionQuery[K, V]) BackwardFetch(key K) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] { return s.BackwardFetch(key) })
}

func (q *sessionQuery[K, V]) FetchRange(keyFrom, keyTo *K) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] { return s.FetchRange(keyFrom, keyTo) })
}

func (q *sessionQuery[K, V]) BackwardFetchRange(keyFrom, keyTo *K) sessionSeq[K, V] {
	return q.chain(func(s state.ReadOnlySessionStore[K, V]) sessionSeq[K, V] {
		return s.BackwardFetchRange(keyFrom, keyTo)
	})
}
