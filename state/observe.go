package state

import (
	"sync/atomic"
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

// The protocols between the runtime and the stores the builders make, which
// internal/stateproto exports: the runtime's names for them. They are
// declared here too, unexported, so that this package's code and tests can
// name them without importing the runtime's package.
type (
	transactional interface {
		Prepare() error
		Apply(changelogEnd int64) error
		Abort()
		Full() bool
	}
	restorer interface {
		Restore(batch []KeyValue[[]byte, []byte]) error
		Wipe() error
	}
	changelogOffsetReader interface {
		ChangelogOffset() (changelogEnd int64, ok bool, err error)
	}
	committer            interface{ Committed() }
	committedViewer      interface{ CommittedView() Store }
	observable[K, V any] interface{ SetObserver(fn func([]Change[K, V])) }
)

// recorder is the Observable part of the stores the builders make: the
// changes recorded since the last commit, for the observer. Only the task's
// goroutine touches pending.
type recorder[K, V any] struct {
	observer atomic.Pointer[func([]Change[K, V])]
	pending  []Change[K, V]
	now      func() time.Time // the time of the record being processed; nil for none
}

// SetObserver implements stateproto.Observable.
func (r *recorder[K, V]) SetObserver(fn func([]Change[K, V])) {
	if fn == nil {
		r.observer.Store(nil)
		return
	}
	r.observer.Store(&fn)
}

// Committed implements stateproto.Committer: it hands the changes recorded since the
// last commit to the observer.
func (r *recorder[K, V]) Committed() {
	fn := r.observer.Load()
	if fn == nil || len(r.pending) == 0 {
		r.pending = r.pending[:0]
		return
	}
	changes := r.pending
	r.pending = nil // the observer may keep the slice
	(*fn)(changes)
}

// observing reports whether changes are recorded.
func (r *recorder[K, V]) observing() bool { return r.observer.Load() != nil }

// add records c, stamped with the current record's time.
func (r *recorder[K, V]) add(c Change[K, V]) {
	c.Timestamp = r.stamp()
	r.pending = append(r.pending, c)
}

func (r *recorder[K, V]) stamp() time.Time {
	if r.now == nil {
		return time.Time{}
	}
	return r.now()
}

// discard forgets the changes recorded since the last commit: they were
// aborted.
func (r *recorder[K, V]) discard() {
	clear(r.pending)
	r.pending = r.pending[:0]
}

// txnLayer is the Transactional part of the typed stores, which embed it:
// it passes the calls to the store's caching layer, names the store in
// their errors, and drops the changes the store's recorder holds when a
// transaction aborts. A store made without a caching layer (in tests)
// commits nothing.
type txnLayer struct {
	t      transactional                    // nil without a caching layer
	forget func()                           // the recorder's discard
	wrap   func(op string, err error) error // the store's wrap
}

func newTxnLayer(inner any, forget func(), wrap func(op string, err error) error) txnLayer {
	t, _ := inner.(transactional)
	return txnLayer{t: t, forget: forget, wrap: wrap}
}

// Prepare implements stateproto.Transactional.
func (l txnLayer) Prepare() error {
	if l.t == nil {
		return nil
	}
	if err := l.t.Prepare(); err != nil {
		return l.wrap("prepare commit", err)
	}
	return nil
}

// Apply implements stateproto.Transactional.
func (l txnLayer) Apply(changelogEnd int64) error {
	if l.t == nil {
		return nil
	}
	if err := l.t.Apply(changelogEnd); err != nil {
		return l.wrap("apply commit", err)
	}
	return nil
}

// Abort implements stateproto.Transactional.
func (l txnLayer) Abort() {
	if l.t != nil {
		l.t.Abort()
	}
	l.forget()
}

// Full implements stateproto.Transactional.
func (l txnLayer) Full() bool { return l.t != nil && l.t.Full() }

var (
	_ transactional = (*keyValueStore[string, int64])(nil)
	_ transactional = (*windowStore[string, int64])(nil)
	_ transactional = (*sessionStore[string, int64])(nil)
)

// changelogOffsetOf returns what the backend b recorded with
// ChangelogOffsetKeeper, if it keeps offsets.
func changelogOffsetOf(b any) (int64, bool, error) {
	k, ok := b.(ChangelogOffsetKeeper)
	if !ok {
		return 0, false, nil
	}
	return k.ChangelogOffset()
}

// forgetChangelogOffset clears what the backend b recorded, after a wipe:
// the data it described is gone.
func forgetChangelogOffset(b any) error {
	if k, ok := b.(ChangelogOffsetKeeper); ok {
		return k.WriteWithOffset(nil, -1)
	}
	return nil
}

var (
	_ changelogOffsetReader = (*keyValueStore[string, int64])(nil)
	_ changelogOffsetReader = (*windowStore[string, int64])(nil)
	_ changelogOffsetReader = (*sessionStore[string, int64])(nil)
)

// ChangelogOffset implements stateproto.ChangelogOffsetReader.
func (s *keyValueStore[K, V]) ChangelogOffset() (int64, bool, error) {
	return changelogOffsetOf(backend(s.inner))
}

// ChangelogOffset implements stateproto.ChangelogOffsetReader.
func (s *windowStore[K, V]) ChangelogOffset() (int64, bool, error) {
	return changelogOffsetOf(belowSegmentLogging(s.inner))
}

// ChangelogOffset implements stateproto.ChangelogOffsetReader.
func (s *sessionStore[K, V]) ChangelogOffset() (int64, bool, error) {
	return changelogOffsetOf(belowSegmentLogging(s.inner))
}
