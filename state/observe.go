package state

import (
	"time"
)

// Change is one change to a key-value store: its key, the value before
// (if there was one) and after (unless the key was deleted), and the time
// of the record or punctuation that made it.
type Change[K, V any] struct {
	Key       K
	Old       V
	HadOld    bool
	New       V
	Deleted   bool
	Timestamp time.Time
}

// Observable is implemented by the key-value stores the builders make. The
// runtime sets an observer to learn of a store's changes: while one is set
// the store records each change (reading the old value first), and hands
// the changes recorded since the last call to the observer when the runtime
// calls Committed after a successful commit. Restoring records nothing.
type Observable[K, V any] interface {
	// SetObserver sets fn, or with nil stops recording. It may be called
	// from any goroutine; fn runs on the task's goroutine.
	SetObserver(fn func([]Change[K, V]))
}

// Committer is implemented by stores that act when their task commits.
type Committer interface {
	// Committed tells the store its task committed successfully.
	Committed()
}

// CommittedViewer is implemented by the stores the builders make.
// Interactive queries read a store through its committed view, which is
// safe to read from any goroutine.
type CommittedViewer interface {
	// CommittedView returns a read-only store of the same type over what
	// the store has written down, below any cache: it never shows a write
	// the task has not flushed. A store without a cache is its own view.
	CommittedView() Store
}
