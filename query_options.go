package streams

import (
	"slices"

	"github.com/gostreams/streams/internal/runtime"
	"github.com/gostreams/streams/processor"
)

// QueryOptions widen or narrow what a local query (QueryKeyValue,
// QueryWindow, QuerySession, QueryVersioned) reads, as Kafka Streams'
// StoreQueryParameters. The zero value reads the stores of the tasks this
// instance runs, restored and processing.
type QueryOptions struct {
	// StaleStores lets the query read, besides the running tasks' stores,
	// those of this instance's standby tasks (Config.NumStandbyReplicas)
	// and of its tasks still restoring: they may lag behind what the
	// active task has (App.LagInfo says how far), and are there when the
	// active task's instance is gone. Kafka Streams'
	// enableStaleStores(). Default false.
	StaleStores bool
	// Partitions, if not nil, restricts the query to the stores of these
	// partitions (Kafka Streams' withPartition): the partition
	// QueryMetadataForKey gives for a key. Default nil: every partition.
	Partitions []int32
}

func options(opts []QueryOptions) QueryOptions {
	if len(opts) == 0 {
		return QueryOptions{}
	}
	return opts[0]
}

// StoreKind says what kind of task a local copy of a store belongs to.
type StoreKind int

const (
	// Active is a running task's store: up to date.
	Active StoreKind = iota
	// Restoring is an active task's store while it is being restored from
	// its changelog.
	Restoring
	// Standby is a standby task's store, kept up to date from the
	// changelog the active task writes.
	Standby
)

func (k StoreKind) String() string {
	switch k {
	case Active:
		return "active"
	case Restoring:
		return "restoring"
	case Standby:
		return "standby"
	}
	return "unknown"
}

// LocalStore is one task's copy of a store on this instance.
type LocalStore struct {
	Store     string
	Task      processor.TaskID
	Partition int32
	Kind      StoreKind
}

// LocalStores lists the copies of store name on this instance that a
// query with opts reads now, in task order: what a query read (or, a
// moment later, reads; a rebalance may change it).
func LocalStores(a *App, name string, opts ...QueryOptions) ([]LocalStore, error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	o := options(opts)
	a.local.mu.RLock()
	defer a.local.mu.RUnlock()
	var out []LocalStore
	for _, id := range a.local.readable(name, o) {
		out = append(out, LocalStore{Store: name, Task: id, Partition: id.Partition, Kind: a.local.mu.byName[name][id].kind})
	}
	slices.SortFunc(out, func(x, y LocalStore) int { return runtime.CompareTaskIDs(x.Task, y.Task) })
	return out, nil
}
