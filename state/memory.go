package state

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/google/btree"
)

// ErrStoreClosed is returned by every operation of a store after its Close,
// Init included; Name, Persistent and Close itself still work. The typed
// stores wrap it with the store's name, so test for it with errors.Is. An
// iteration that was already running when Close was called finishes on its
// snapshot; one that starts afterwards yields ErrStoreClosed as its only
// element.
var ErrStoreClosed = errors.New("state: store closed")

// ErrStoreNotInitialized is returned by every operation of a store before its
// Init, except Name, Persistent and Close. The runtime always calls Init
// first; code that builds a store by hand (a unit test of a processor, say)
// must call Init itself. The typed stores wrap it with the store's name, so
// test for it with errors.Is.
var ErrStoreNotInitialized = errors.New("state: store not initialized; call Init first")

// InMemoryKeyValueStore returns a supplier of in-memory key-value stores
// named name. Each call of its Get returns a fresh, empty store; nothing is
// kept on disk (Persistent is false and Flush does nothing): when a task
// starts, the runtime rebuilds a logged store from its changelog topic
// before the task processes anything. A store built WithLoggingDisabled
// starts empty.
//
// The stores answer point reads from a hash index and scans from a B-tree
// ordered by bytes.Compare on the keys. One goroutine, the owning task, writes; any goroutine may Get, Scan
// and ApproximateNumEntries at the same time. A Scan reads a copy-on-write
// snapshot of the tree taken when its range loop starts, so it never blocks
// the writer for longer than that O(1) snapshot and never sees a PutAll half
// applied.
func InMemoryKeyValueStore(name string) KeyValueBytesStoreSupplier {
	return memorySupplier{name: name}
}

type memorySupplier struct{ name string }

func (s memorySupplier) Name() string { return s.name }

func (s memorySupplier) Get() KeyValueBytesStore { return newMemoryStore(s.name) }

// sharedReader is implemented by a KeyValueBytesStore whose stored slices
// never change once written (an overwrite replaces them), so that it can lend
// them out instead of copying them. The typed store uses it when the backend
// sits directly under it: it only hands the lent slices to a serde's
// Deserialize, which by the serde.Serde contract copies whatever it keeps, so
// no caller ever holds store memory. That spares one allocation per Get and
// per entry scanned. Wrapping layers need not implement it; the typed store
// then takes the copying path of the KeyValueBytesStore contract.
type sharedReader interface {
	// getShared is Get returning the stored value itself: read it, do not
	// change it or keep it.
	getShared(key []byte) ([]byte, bool, error)
	// scanShared is Scan yielding the stored keys and values themselves,
	// under the same rule.
	scanShared(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error]
}

var _ sharedReader = (*memoryStore)(nil)

// memoryDegree is the B-tree's degree. A write after a snapshot copies every
// node on its path, so a small node keeps that copy cheap; 16 (up to 31
// entries per node) keeps the tree shallow as well.
const memoryDegree = 16

// memEntry is one stored entry. key and value share one allocation that the
// store made and never changes afterwards: a write replaces the entry and a
// snapshot may still be reading the old one.
type memEntry struct {
	key, value []byte
}

func lessEntry(a, b memEntry) bool { return bytes.Compare(a.key, b.key) < 0 }

type storeState uint8

const (
	stateCreated storeState = iota
	stateOpen
	stateClosed
)

// err reports why a store in state st cannot be used, if it cannot.
func (st storeState) err() error {
	switch st {
	case stateCreated:
		return ErrStoreNotInitialized
	case stateClosed:
		return ErrStoreClosed
	}
	return nil
}

// memoryStore is the KeyValueBytesStore that InMemoryKeyValueStore supplies.
//
// Two indexes hold the entries. mu.index, a hash map, is always current and
// answers point reads in one lookup. mu.tree, the ordered copy-on-write
// B-tree that scans read, is brought up to date lazily: a write records its
// key in mu.pending, and the pending keys are applied to the tree when a
// scan needs a snapshot, or by the writer once pendingLimit keys are
// waiting. A workload that never scans (counting, say) never pays for the
// ordered index, and a reader that does scan holds mu for at most
// pendingLimit tree updates.
//
// Concurrency: the task's goroutine is the only writer; readers run on any
// goroutine. Every access to the indexes holds mu: writes hold it
// exclusively, Get and ApproximateNumEntries share it. google/btree lets a tree and its
// Clone be used concurrently once Clone has returned, but Clone itself must
// not overlap a write or another Clone (it resets the original tree's
// copy-on-write context), so it too holds mu exclusively; a reader then
// iterates its clone with no lock held, and a write to the tree copies the
// nodes it would change instead of changing shared ones. Nothing ever writes
// to a clone, so one clone serves every Scan started until the next write:
// mu.snap caches it and each write drops it. Without the cache, readers
// scanning in a loop would make every write copy its whole path.
type memoryStore struct {
	name string

	mu struct {
		sync.RWMutex
		state storeState
		tree  *btree.BTreeG[memEntry]
		// index maps every key to its slot. A deleted key keeps its slot,
		// marked dead, until the deletion reaches the tree.
		index map[string]*memSlot
		// live counts the live slots.
		live int
		// pending are the slots whose state the tree does not have yet.
		pending []*memSlot
		// stale means the tree is out of date altogether (after a
		// restore): the next sync rebuilds it from the index.
		stale bool
		// snap is a read-only clone of tree, or nil once tree has been
		// written since the clone was taken.
		snap *btree.BTreeG[memEntry]
	}
}

func newMemoryStore(name string) *memoryStore {
	return &memoryStore{name: name}
}

func (s *memoryStore) Name() string { return s.name }

// Persistent is false: the entries live only in memory.
func (s *memoryStore) Persistent() bool { return false }

func (s *memoryStore) Init(StoreContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.mu.state {
	case stateOpen:
		return fmt.Errorf("state: store %q: Init called twice; the runtime opens each store once per task", s.name)
	case stateClosed:
		return ErrStoreClosed
	}
	s.mu.state = stateOpen
	s.mu.tree = btree.NewG(memoryDegree, lessEntry)
	s.mu.index = map[string]*memSlot{}
	return nil
}

// checkOpen reports why the store cannot be used, if it cannot. The caller
// holds mu, for reading or writing.
func (s *memoryStore) checkOpen() error { return s.mu.state.err() }

// Flush does nothing: there is nowhere more durable to write to.
func (s *memoryStore) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkOpen()
}

// Close drops the entries. It is idempotent. Iterations already running
// keep their snapshot and finish normally.
func (s *memoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.state = stateClosed
	s.mu.tree = nil
	s.mu.index = nil
	s.mu.pending = nil
	s.mu.live = 0
	s.mu.snap = nil
	return nil
}

// Get returns a copy of the value stored under key.
func (s *memoryStore) Get(key []byte) ([]byte, bool, error) {
	v, ok, err := s.getShared(key)
	return cloneBytes(v), ok, err
}

// getShared is Get without the copy; see sharedReader.
func (s *memoryStore) getShared(key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkOpen(); err != nil {
		return nil, false, err
	}
	sl := s.mu.index[string(key)]
	if sl == nil || !sl.live {
		return nil, false, nil
	}
	return sl.e.value, true, nil
}

// Put stores a copy of key and value. An empty or nil value is stored as an
// empty value, not as a deletion; use Delete to remove a key.
func (s *memoryStore) Put(key, value []byte) error {
	e := newEntry(key, value) // copy before taking the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.put(e)
	return nil
}

// pendingLimit bounds the keys waiting to reach the tree, and so the work a
// snapshot does under mu.
const pendingLimit = 4096

// memSlot is the index's record of one key.
type memSlot struct {
	e       memEntry
	live    bool // false once deleted
	pending bool // in mu.pending
}

// put records e in the index and marks its slot pending. The caller holds
// mu exclusively.
func (s *memoryStore) put(e memEntry) {
	sl := s.mu.index[string(e.key)]
	if sl == nil {
		sl = &memSlot{}
		s.mu.index[string(e.key)] = sl
	}
	if !sl.live {
		sl.live = true
		s.mu.live++
	}
	sl.e = e
	s.markPending(sl)
}

// kill marks a live slot deleted. The caller holds mu exclusively.
func (s *memoryStore) kill(sl *memSlot) {
	sl.live = false
	s.mu.live--
	sl.e.value = nil // the tree entry, if any, keeps its own copy of the slice header
	s.markPending(sl)
}

func (s *memoryStore) markPending(sl *memSlot) {
	s.mu.snap = nil
	if sl.pending {
		return
	}
	sl.pending = true
	s.mu.pending = append(s.mu.pending, sl)
	if len(s.mu.pending) >= pendingLimit {
		s.syncTree()
	}
}

// restoreWrite is Write for a restore: it updates the hash index only and
// marks the tree stale, to be rebuilt in one sorted pass by the first scan.
// A restoring task serves no scans, so a restore pays for the ordered index
// once instead of once per record.
func (s *memoryStore) restoreWrite(batch []KeyValue[[]byte, []byte]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	for _, kv := range batch {
		sl := s.mu.index[string(kv.Key)]
		if kv.Value == nil {
			if sl != nil && sl.live {
				sl.live = false
				s.mu.live--
				sl.e.value = nil
			}
			continue
		}
		if sl == nil {
			sl = &memSlot{}
			s.mu.index[string(kv.Key)] = sl
		}
		if !sl.live {
			sl.live = true
			s.mu.live++
		}
		sl.e = newEntry(kv.Key, kv.Value)
	}
	s.mu.stale = true
	s.mu.snap = nil
	return nil
}

// rebuildTree makes the tree anew from the index, in key order. The caller
// holds mu exclusively.
func (s *memoryStore) rebuildTree() {
	live := make([]memEntry, 0, s.mu.live)
	for k, sl := range s.mu.index {
		sl.pending = false
		if sl.live {
			live = append(live, sl.e)
		} else {
			delete(s.mu.index, k)
		}
	}
	slices.SortFunc(live, func(a, b memEntry) int { return bytes.Compare(a.key, b.key) })
	s.mu.tree = btree.NewG(memoryDegree, lessEntry)
	for _, e := range live {
		s.mu.tree.ReplaceOrInsert(e)
	}
	clear(s.mu.pending)
	s.mu.pending = s.mu.pending[:0]
	s.mu.stale = false
}

// syncTree applies the pending slots to the tree and forgets dead ones. The
// caller holds mu exclusively.
func (s *memoryStore) syncTree() {
	if s.mu.stale {
		s.rebuildTree()
		return
	}
	for i, sl := range s.mu.pending {
		if sl.live {
			s.mu.tree.ReplaceOrInsert(sl.e)
		} else {
			s.mu.tree.Delete(sl.e)
			delete(s.mu.index, string(sl.e.key))
		}
		sl.pending = false
		s.mu.pending[i] = nil
	}
	s.mu.pending = s.mu.pending[:0]
}

// PutAll stores copies of every entry under one lock, so a Scan sees all of
// them or none. A key listed twice ends with its last value.
func (s *memoryStore) PutAll(entries []KeyValue[[]byte, []byte]) error {
	if len(entries) == 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.checkOpen()
	}
	es := make([]memEntry, len(entries))
	for i, kv := range entries {
		es[i] = newEntry(kv.Key, kv.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	for _, e := range es {
		s.put(e)
	}
	return nil
}

// Write applies puts and deletes (nil values) under one lock, so a Scan
// sees all of the batch or none of it.
func (s *memoryStore) Write(batch []KeyValue[[]byte, []byte]) error {
	es := make([]memEntry, len(batch))
	for i, kv := range batch {
		if kv.Value == nil {
			es[i] = memEntry{key: cloneBytes(kv.Key)} // a deletion; value stays nil
			continue
		}
		es[i] = newEntry(kv.Key, kv.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	for i, e := range es {
		if batch[i].Value != nil {
			s.put(e)
			continue
		}
		if sl := s.mu.index[string(e.key)]; sl != nil && sl.live {
			s.kill(sl)
		}
	}
	return nil
}

// wipe drops every entry at once; snapshots already taken keep theirs.
func (s *memoryStore) wipe() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.mu.tree = btree.NewG(memoryDegree, lessEntry)
	s.mu.index = map[string]*memSlot{}
	clear(s.mu.pending)
	s.mu.pending = s.mu.pending[:0]
	s.mu.live = 0
	s.mu.snap = nil
	return nil
}

// Delete removes key and returns a copy of the value it had. The copy is
// needed even though the tree no longer holds the entry: a snapshot opened
// before the delete may still be reading it.
func (s *memoryStore) Delete(key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return nil, false, err
	}
	sl := s.mu.index[string(key)]
	if sl == nil || !sl.live {
		return nil, false, nil
	}
	old := sl.e.value
	s.kill(sl)
	return cloneBytes(old), true, nil
}

// ApproximateNumEntries is exact for this store.
func (s *memoryStore) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	return int64(s.mu.live), nil
}

// snapshot returns a read-only clone of the tree that stays valid, and
// unchanged, whatever the writer does next.
func (s *memoryStore) snapshot() (*btree.BTreeG[memEntry], error) {
	s.mu.RLock()
	snap, err := s.mu.snap, s.checkOpen()
	s.mu.RUnlock()
	if err != nil || snap != nil {
		return snap, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if s.mu.snap == nil { // another reader may have cloned meanwhile
		s.syncTree()
		s.mu.snap = s.mu.tree.Clone()
	}
	return s.mu.snap, nil
}

// Scan yields copies of the entries in r from a snapshot taken when the range
// loop starts: writes made after that, by the owner or anyone, are not seen,
// and ranging the returned sequence again takes a new snapshot. The bounds
// are copied when Scan is called. Each yielded key and value is the caller's
// to keep or change.
func (s *memoryStore) Scan(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.scan(r, reverse, true)
}

// scanShared is Scan without the copies; see sharedReader.
func (s *memoryStore) scanShared(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.scan(r, reverse, false)
}

func (s *memoryStore) scan(r KeyRange, reverse, copyOut bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	r = KeyRange{
		Lower:    cloneBytes(r.Lower),
		Upper:    cloneBytes(r.Upper),
		HasLower: r.HasLower,
		HasUpper: r.HasUpper,
	}
	return func(yield func(KeyValue[[]byte, []byte], error) bool) {
		snap, err := s.snapshot()
		if err != nil {
			yield(KeyValue[[]byte, []byte]{}, err)
			return
		}
		if r.HasLower && r.HasUpper && bytes.Compare(r.Lower, r.Upper) > 0 {
			return
		}
		visit := func(e memEntry) bool {
			k, v := e.key, e.value
			if copyOut {
				k, v = cloneEntry(k, v)
			}
			return yield(KeyValue[[]byte, []byte]{Key: k, Value: v}, nil)
		}
		switch {
		case !reverse && r.HasLower:
			snap.AscendGreaterOrEqual(memEntry{key: r.Lower}, func(e memEntry) bool {
				if r.HasUpper && bytes.Compare(e.key, r.Upper) > 0 {
					return false
				}
				return visit(e)
			})
		case !reverse:
			snap.Ascend(func(e memEntry) bool {
				if r.HasUpper && bytes.Compare(e.key, r.Upper) > 0 {
					return false
				}
				return visit(e)
			})
		case r.HasUpper:
			snap.DescendLessOrEqual(memEntry{key: r.Upper}, func(e memEntry) bool {
				if r.HasLower && bytes.Compare(e.key, r.Lower) < 0 {
					return false
				}
				return visit(e)
			})
		default:
			snap.Descend(func(e memEntry) bool {
				if r.HasLower && bytes.Compare(e.key, r.Lower) < 0 {
					return false
				}
				return visit(e)
			})
		}
	}
}

// newEntry copies key and value into a single allocation.
func newEntry(key, value []byte) memEntry {
	k, v := cloneEntry(key, value)
	return memEntry{key: k, value: v}
}

// cloneEntry copies key and value into one new buffer, capping the key so
// that appending to it cannot overwrite the value.
func cloneEntry(key, value []byte) ([]byte, []byte) {
	buf := make([]byte, len(key)+len(value))
	n := copy(buf, key)
	copy(buf[n:], value)
	return buf[:n:n], buf[n:]
}

// cloneBytes copies b, keeping nil and empty apart: an empty value is not
// a tombstone, and a nil returned for it would read as one in Write.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
