// Package stateproto holds the protocols between the runtime and the stores
// the state package's builders make: how a store is committed in steps
// under exactly-once, restored from its changelog, read by queries through
// its committed view, observed, and asked how far its backend got. Users
// never call them; they are here so that package state's documentation
// shows only what a user builds and reads.
//
// Each store the builders make implements all of them; a store a user
// writes by hand may implement none, and the runtime then does without
// (no restore, no subscription, no exactly-once write buffering).
package stateproto

import (
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/state"
)

// Transactional is a store opened with state.StoreContext.Transactional: it
// keeps its writes in its cache (the task reads them back) and the runtime
// commits them in three steps. Prepare sends them to the changelog inside
// the Kafka transaction; once the transaction committed, Apply writes them
// to the backend in one batch, with the changelog offset they bring the
// store to. If the transaction aborts, Abort drops them and the store is
// back at its last commit, in memory and on disk alike: nothing needs a
// restore.
type Transactional interface {
	// Prepare sends the writes since the last commit to the changelog,
	// without applying them.
	Prepare() error
	// Apply writes them to the backend. changelogEnd is the offset after
	// the last changelog record of the store's partition, which a
	// state.ChangelogOffsetKeeper backend keeps with them; -1 when unknown.
	Apply(changelogEnd int64) error
	// Abort drops them.
	Abort()
	// Full reports whether they take more than
	// state.StoreContext.CacheMaxBytes: the runtime should commit soon.
	Full() bool
}

// Restorer rebuilds a store from its changelog: the batches go to the
// backend directly, below the change-logging layer, so restoring never
// writes to the changelog.
type Restorer interface {
	// Restore applies a batch of changelog records: a nil Value deletes
	// the key.
	Restore(batch []state.KeyValue[[]byte, []byte]) error
	// Wipe removes every entry, before a full restore of a store whose
	// contents cannot be trusted.
	Wipe() error
}

// ChangelogOffsetReader tells how far the store's changelog partition its
// persistent backend reflects, as recorded by the last commit under
// exactly-once. The runtime restores a store that was not closed cleanly
// from there, instead of wiping it.
type ChangelogOffsetReader interface {
	ChangelogOffset() (changelogEnd int64, ok bool, err error)
}

// Committer acts when its task's commit succeeded: an observed store hands
// the changes recorded since the last commit to its observer.
type Committer interface {
	Committed()
}

// CommittedViewer gives interactive queries a view that is safe to read
// from any goroutine.
type CommittedViewer interface {
	// CommittedView returns a read-only store of the same type over what
	// the store has written down, below any cache: it never shows a write
	// the task has not flushed. A store without a cache is its own view.
	CommittedView() state.Store
}

// Observable lets the runtime learn of a key-value store's changes: while
// an observer is set the store records each change (reading the old value
// first), and hands the changes recorded since the last commit to the
// observer when the runtime calls Committed. Restoring records nothing.
type Observable[K, V any] interface {
	// SetObserver sets fn, or with nil stops recording. It may be called
	// from any goroutine; fn runs on the task's goroutine.
	SetObserver(fn func([]state.Change[K, V]))
}

// ReadOnlyViewer gives the tasks' processors a view of a global store that
// is safe to read from any goroutine while the global thread writes, and
// refuses writes (state.ErrReadOnly).
type ReadOnlyViewer interface {
	ReadOnlyView() state.Store
}

// Metered is a store that records its operations' rates and latencies, and
// its cache's hit ratio, once the runtime gives it sensors (debug
// metrics). Caching tells whether it has a record cache.
type Metered interface {
	SetSensors(*metrics.StoreSensors)
	Caching() bool
}
