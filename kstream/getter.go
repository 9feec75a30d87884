package kstream

import (
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// rowGetter reads a table's rows from a processor that is not the table's
// own, a join's (Kafka Streams' KTableValueGetter): the table's store,
// read through what a table derived from it (Filter, MapValuesTable)
// does to each row.
type rowGetter[K, V any] struct {
	// store is the store the rows are read from; versioned says it is a
	// versioned store, read as of a time.
	store     string
	versioned bool
	history   time.Duration // of a versioned store
	// open binds the getter to one task's stores.
	open func(ctx processor.StoreGetter) (readRow[K, V], error)
}

// readRow returns key's row: as of asOf for a versioned table, the latest
// for another. c runs what the user's functions (a filter's predicate, a
// mapper) do to the row, naming the join that reads it.
type readRow[K, V any] func(c *call, key K, asOf time.Time) (state.ValueAndTimestamp[V], bool, error)

// storeRows is the getter of a table whose rows are in r's store.
func storeRows[K, V any](r *rows) *rowGetter[K, V] {
	return &rowGetter[K, V]{store: r.store, versioned: r.versioned, history: r.history, open: func(ctx processor.StoreGetter) (readRow[K, V], error) {
		if r.versioned {
			st, err := processor.GetStore[state.VersionedKeyValueStore[K, V]](ctx, r.store)
			if err != nil {
				return nil, err
			}
			return func(_ *call, key K, asOf time.Time) (state.ValueAndTimestamp[V], bool, error) {
				rec, ok, err := st.GetAsOf(key, asOf)
				return state.ValueAndTimestamp[V]{Value: rec.Value, Timestamp: rec.Timestamp}, ok, err
			}, nil
		}
		st, err := processor.GetStore[state.TimestampedKeyValueStore[K, V]](ctx, r.store)
		if err != nil {
			return nil, err
		}
		return func(_ *call, key K, _ time.Time) (state.ValueAndTimestamp[V], bool, error) {
			return st.Get(key)
		}, nil
	}}
}

// derivedRows is the getter of a table made from the one g reads by f,
// which turns a row (ok: there is one) into the derived table's.
func derivedRows[K, V, V2 any](g *rowGetter[K, V], f func(c *call, key K, row state.ValueAndTimestamp[V]) (V2, bool, error)) *rowGetter[K, V2] {
	if g == nil {
		return nil
	}
	return &rowGetter[K, V2]{store: g.store, versioned: g.versioned, history: g.history, open: func(ctx processor.StoreGetter) (readRow[K, V2], error) {
		read, err := g.open(ctx)
		if err != nil {
			return nil, err
		}
		return func(c *call, key K, asOf time.Time) (state.ValueAndTimestamp[V2], bool, error) {
			row, ok, err := read(c, key, asOf)
			if err != nil || !ok {
				return state.ValueAndTimestamp[V2]{}, false, err
			}
			v, ok, err := f(c, key, row)
			return state.ValueAndTimestamp[V2]{Value: v, Timestamp: row.Timestamp}, ok, err
		}, nil
	}}
}
