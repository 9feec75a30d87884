package streams

import (
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/runtime"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// ErrUnknownStore is returned by QueryKeyValue for a store name the
// topology does not have.
var ErrUnknownStore = errors.New("streams: no such store")

// localStores is the registry of the stores of the app's tasks, for
// queries and subscriptions from any goroutine. An active task is
// registered as Restoring once its stores are open, as Active once it is
// restored and processing, and removed before it is closed; a standby task
// is registered as Standby while it is open.
type localStores struct {
	mu struct {
		sync.RWMutex
		byName map[string]map[processor.TaskID]localStore
	}
}

// localStore is a task's store, and the committed view queries read.
type localStore struct {
	store, view state.Store
	kind        StoreKind
}

func (l *localStores) add(id processor.TaskID, stores map[string]state.Store) {
	l.addAs(id, stores, Active)
}

func (l *localStores) addAs(id processor.TaskID, stores map[string]state.Store, kind StoreKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.byName == nil {
		l.mu.byName = map[string]map[processor.TaskID]localStore{}
	}
	for name, st := range stores {
		// Queries read below any cache: what the task has written down.
		ls := localStore{store: st, view: st, kind: kind}
		if v, ok := st.(stateproto.CommittedViewer); ok {
			ls.view = v.CommittedView()
		}
		if l.mu.byName[name] == nil {
			l.mu.byName[name] = map[processor.TaskID]localStore{}
		}
		l.mu.byName[name][id] = ls
	}
}

func (l *localStores) remove(id processor.TaskID, stores map[string]state.Store) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name := range stores {
		delete(l.mu.byName[name], id)
	}
}

// withIDs returns the named store of every running task, for subscriptions.
func (l *localStores) withIDs(name string) map[processor.TaskID]state.Store {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make(map[processor.TaskID]state.Store, len(l.mu.byName[name]))
	for id, ls := range l.mu.byName[name] {
		if ls.kind == Active {
			out[id] = ls.store
		}
	}
	return out
}

// snapshot returns the committed view of the named store of every task
// that o lets a query read, by task order.
func (l *localStores) snapshot(name string, o QueryOptions) []state.Store {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ids := l.readable(name, o)
	out := make([]state.Store, len(ids))
	for i, id := range ids {
		out[i] = l.mu.byName[name][id].view
	}
	return out
}

// readable returns the tasks whose store name o lets a query read, by task
// order. The caller holds mu.
func (l *localStores) readable(name string, o QueryOptions) []processor.TaskID {
	ids := make([]processor.TaskID, 0, len(l.mu.byName[name]))
	for id, ls := range l.mu.byName[name] {
		if (ls.kind == Active || o.StaleStores) && (o.Partitions == nil || slices.Contains(o.Partitions, id.Partition) || id == task.GlobalTaskID) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, runtime.CompareTaskIDs)
	return ids
}

// QueryKeyValue returns a read-only view of the key-value store name across
// the tasks this instance runs now, safe to use from any goroutine while
// the app processes. Each call on the view looks at the tasks running at
// that moment, so it follows rebalances: a key whose task moved to another
// instance is not found here (see the Kafka Streams notion of an
// interactive query; route the query to the instance that owns the key).
// A scan merges the tasks' stores in serialized-key order, each read from a
// snapshot taken when the scan starts. A timestamped store (a DSL table's
// or aggregation's) is read with V = state.ValueAndTimestamp[X] for values
// with their timestamps, or with V = X for the values alone. A global store
// (topology.AddGlobalStore, kstream.GlobalTable) is whole on every
// instance, queryable once restored.
func QueryKeyValue[K, V any](a *App, name string, opts ...QueryOptions) (state.ReadOnlyKeyValueStore[K, V], error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	return &kvQuery[K, V]{a: a, name: name, opts: options(opts)}, nil
}

// knowsStore reports ErrUnknownStore for a name the topology does not have.
func (a *App) knowsStore(name string) error {
	if _, ok := a.prog.Stores[name]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	return nil
}

// localStoresAs returns the named store of every running task, in task
// order, as S (a read-only store interface), or an error naming the store
// if one is of another type.
func localStoresAs[S any](a *App, name string, o QueryOptions) ([]S, error) {
	sts := a.local.snapshot(name, o)
	out := make([]S, len(sts))
	for i, st := range sts {
		typed, ok := st.(S)
		if !ok {
			return nil, fmt.Errorf("streams: store %q is a %T, which is not a %v; check the store's builder and its serdes",
				name, st, reflect.TypeFor[S]())
		}
		out[i] = typed
	}
	return out, nil
}

// chainStores yields f of each store that stores returns when the loop
// starts, one after the other.
func chainStores[S, T any](stores func() ([]S, error), f func(S) iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		sts, err := stores()
		if err != nil {
			var zero T
			yield(zero, err)
			return
		}
		for _, s := range sts {
			for v, err := range f(s) {
				if !yield(v, err) || err != nil {
					return
				}
			}
		}
	}
}

// firstFound returns what get finds in the first of the stores that has
// it: a key lives in one task.
func firstFound[S, V any](stores func() ([]S, error), get func(S) (V, bool, error)) (V, bool, error) {
	var zero V
	sts, err := stores()
	if err != nil {
		return zero, false, err
	}
	for _, s := range sts {
		if v, ok, err := get(s); err != nil || ok {
			return v, ok, err
		}
	}
	return zero, false, nil
}

type kvQuery[K, V any] struct {
	a    *App
	name string
	opts QueryOptions
}

// view merges the store of every running task. A timestamped store (the
// DSL's tables and aggregations) read with plain values answers with its
// values, as Kafka Streams' keyValueStore() query type reads a
// timestamped store.
//
// The timestamped stores are merged first and their timestamps dropped
// after: a merged scan orders the stores' entries by their serialized
// keys, which MergeKeyValue gets from the stores the builders made, not
// from a valuesOnly around one (a scan of a DSL count over two local
// tasks, read with plain values, failed so).
func (q *kvQuery[K, V]) view() (state.ReadOnlyKeyValueStore[K, V], error) {
	typed, err := localStoresAs[state.ReadOnlyKeyValueStore[K, V]](q.a, q.name, q.opts)
	if err == nil {
		return state.MergeKeyValue(typed...), nil
	}
	stamped, tsErr := localStoresAs[state.ReadOnlyKeyValueStore[K, state.ValueAndTimestamp[V]]](q.a, q.name, q.opts)
	if tsErr != nil {
		return nil, err // it names the type asked for
	}
	return valuesOnly[K, V]{state.MergeKeyValue(stamped...)}, nil
}

// valuesOnly reads a timestamped store's values without their timestamps.
type valuesOnly[K, V any] struct {
	s state.ReadOnlyKeyValueStore[K, state.ValueAndTimestamp[V]]
}

func (v valuesOnly[K, V]) Get(key K) (V, bool, error) {
	vt, ok, err := v.s.Get(key)
	return vt.Value, ok, err
}

func (v valuesOnly[K, V]) ApproximateNumEntries() (int64, error) { return v.s.ApproximateNumEntries() }

func (v valuesOnly[K, V]) Range(from, to *K) iter.Seq2[state.KeyValue[K, V], error] {
	return dropTimestamps(v.s.Range(from, to))
}

func (v valuesOnly[K, V]) ReverseRange(from, to *K) iter.Seq2[state.KeyValue[K, V], error] {
	return dropTimestamps(v.s.ReverseRange(from, to))
}

func (v valuesOnly[K, V]) All() iter.Seq2[state.KeyValue[K, V], error] {
	return dropTimestamps(v.s.All())
}

func (v valuesOnly[K, V]) ReverseAll() iter.Seq2[state.KeyValue[K, V], error] {
	return dropTimestamps(v.s.ReverseAll())
}

func (v valuesOnly[K, V]) PrefixScan(prefix K) iter.Seq2[state.KeyValue[K, V], error] {
	return dropTimestamps(v.s.PrefixScan(prefix))
}

func dropTimestamps[K, V any](seq iter.Seq2[state.KeyValue[K, state.ValueAndTimestamp[V]], error]) iter.Seq2[state.KeyValue[K, V], error] {
	return func(yield func(state.KeyValue[K, V], error) bool) {
		for kv, err := range seq {
			if !yield(state.KeyValue[K, V]{Key: kv.Key, Value: kv.Value.Value}, err) {
				return
			}
		}
	}
}

func (q *kvQuery[K, V]) Get(key K) (V, bool, error) {
	v, err := q.view()
	if err != nil {
		var zero V
		return zero, false, err
	}
	return v.Get(key)
}

func (q *kvQuery[K, V]) ApproximateNumEntries() (int64, error) {
	v, err := q.view()
	if err != nil {
		return 0, err
	}
	return v.ApproximateNumEntries()
}

// scan yields f of the merged view, taken when the loop starts.
func (q *kvQuery[K, V]) scan(f func(state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error]) iter.Seq2[state.KeyValue[K, V], error] {
	return chainStores(func() ([]state.ReadOnlyKeyValueStore[K, V], error) {
		v, err := q.view()
		return []state.ReadOnlyKeyValueStore[K, V]{v}, err
	}, f)
}

func (q *kvQuery[K, V]) Range(from, to *K) iter.Seq2[state.KeyValue[K, V], error] {
	return q.scan(func(v state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error] {
		return v.Range(from, to)
	})
}

func (q *kvQuery[K, V]) ReverseRange(from, to *K) iter.Seq2[state.KeyValue[K, V], error] {
	return q.scan(func(v state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error] {
		return v.ReverseRange(from, to)
	})
}

func (q *kvQuery[K, V]) All() iter.Seq2[state.KeyValue[K, V], error] {
	return q.scan(func(v state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error] { return v.All() })
}

func (q *kvQuery[K, V]) ReverseAll() iter.Seq2[state.KeyValue[K, V], error] {
	return q.scan(func(v state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error] {
		return v.ReverseAll()
	})
}

func (q *kvQuery[K, V]) PrefixScan(prefix K) iter.Seq2[state.KeyValue[K, V], error] {
	return q.scan(func(v state.ReadOnlyKeyValueStore[K, V]) iter.Seq2[state.KeyValue[K, V], error] {
		return v.PrefixScan(prefix)
	})
}

// ErrNotAvailable is returned by QueryMetadataForKey while the app does not
// know where the key lives: before it first joined its group, or for a
// task nobody runs during a rebalance. Retry.
var ErrNotAvailable = errors.New("streams: not available yet; retry")

// KeyQueryMetadata says where a key of a store lives.
type KeyQueryMetadata struct {
	// Server is the Config.ApplicationServer of the instance that runs the
	// key's task ("" if that instance advertises none).
	Server string
	// Standbys are the Config.ApplicationServer of the instances that
	// hold standby replicas of the key's task (Config.NumStandbyReplicas),
	// which a query with QueryOptions.StaleStores may read when the active
	// instance is down.
	Standbys []string
	// Task is the task that holds the key, Partition its partition.
	Task      processor.TaskID
	Partition int32
	// Local reports whether this instance runs the task now;
	// LocalStandby, whether it holds a standby replica of it.
	Local, LocalStandby bool
}

// QueryMetadataForKey tells which instance holds key in the store name, so
// that a query can be sent there; keySerde must be the store's key serde.
// The key's partition is computed as sinks compute it (murmur2 of the
// serialized key), so the answer holds for stores whose input was
// partitioned by that key with the default partitioner, as records that
// went through a repartition topic are. During a rebalance the answer may
// name the instance a task is moving to; a query there may then need a
// retry. For a global store the answer is this instance, Local, with task
// -1_-1 and partition -1: every instance holds every key.
func QueryMetadataForKey[K any](a *App, name string, key K, keySerde serde.Serde[K]) (KeyQueryMetadata, error) {
	if def, ok := a.prog.Stores[name]; ok && def.Global {
		// Every instance holds all of a global store, as in Kafka Streams.
		return KeyQueryMetadata{Server: a.cfg.ApplicationServer, Task: task.GlobalTaskID, Partition: -1, Local: true}, nil
	}
	sub := -1
	for _, st := range a.prog.Subtopologies {
		if slices.Contains(st.Stores, name) {
			sub = st.ID
		}
	}
	if sub < 0 {
		return KeyQueryMetadata{}, fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	n := a.rt.SubPartitions(sub)
	if n <= 0 {
		return KeyQueryMetadata{}, fmt.Errorf("%w: the app has not started", ErrNotAvailable)
	}
	kb, err := keySerde.Serialize(key)
	if err != nil {
		return KeyQueryMetadata{}, fmt.Errorf("streams: serializing the key: %w", err)
	}
	p := int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: kb}, n))
	id := processor.TaskID{Subtopology: sub, Partition: p}
	server, ok := a.rt.Owner(sub, p)
	standbys := a.rt.Replicas(sub, p)
	kind, here := a.local.kindOf(name, id)
	local := here && kind == Active
	if !ok && !local && len(standbys) == 0 {
		return KeyQueryMetadata{}, fmt.Errorf("%w: no instance runs task %s", ErrNotAvailable, id)
	}
	if !ok && local {
		server = a.cfg.ApplicationServer
	}
	return KeyQueryMetadata{Server: server, Standbys: standbys, Task: id, Partition: p, Local: local, LocalStandby: here && kind == Standby}, nil
}

// kindOf says whether this instance has task id's copy of store name, and
// of what kind.
func (l *localStores) kindOf(name string, id processor.TaskID) (StoreKind, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ls, ok := l.mu.byName[name][id]
	return ls.kind, ok
}
