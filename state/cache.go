package state

import (
	"bytes"
	"fmt"
	"github.com/gostreams/streams/internal/metrics"
	"iter"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/btree"
)

// DefaultCacheMaxBytes is the size of a cached store's cache when its
// StoreContext sets none.
const DefaultCacheMaxBytes = 1 << 20

// cacheEntryOverhead is what an entry costs beyond its key and value bytes
// (the map slot, the entry, the tree item), counted against the cache size.
const cacheEntryOverhead = 96

// writeCache is what the caching layers of key-value stores (cachedStore)
// and of window and session stores (cachedSegmentedStore) share: the writes
// made since the last write-down, by key, and recently read values.
//
// The cache holds at most maxBytes. When a write takes it over, the dirty
// entries are written down at once (one batch, as at a commit) and the least
// recently used clean entries are dropped. A read never writes down: only the
// owning task writes, and a reader on another goroutine only drops clean
// entries.
type writeCache struct {
	// mode is set by open, before the store is shared, and read without
	// the lock.
	mode cacheMode
	mu   struct {
		sync.Mutex
		entries map[string]*cacheEntry
		dirty   *btree.BTreeG[*cacheEntry] // the dirty entries, by key
		// lru lists the clean entries, lru.next the most recently used:
		// only they can be evicted. A dirty entry leaves the list until it
		// is written down.
		lru      cacheEntry
		bytes    int64
		maxBytes int64
		state    storeState
		// full is set in cacheTxn mode when the writes since the last commit
		// take more than maxBytes.
		full bool
		// gen counts the changes of the backend made through the cache
		// (write-downs) or under it (a reset): a value read from the
		// backend while gen moved may be stale, so it is not remembered.
		gen uint64
	}
}

// cacheMode is what the cache layer does.
type cacheMode int8

const (
	// cacheOff passes every call through: the store was built without
	// caching and runs without transactions.
	cacheOff cacheMode = iota
	// cacheWriteBack keeps writes until the commit, or until they fill the
	// cache (Builder.WithCaching).
	cacheWriteBack
	// cacheTxn keeps writes until the commit whatever their size
	// (StoreContext.Transactional): they reach the changelog with Prepare
	// and the backend with Apply, once the transaction committed.
	cacheTxn
)

// cacheEntry is one cached key. value is never changed once set (a write
// replaces it), so a reader may keep reading a value it got under the lock
// after releasing it.
type cacheEntry struct {
	key        string
	value      []byte // nil: the key is deleted (a dirty tombstone)
	dirty      bool
	prev, next *cacheEntry
}

func (e *cacheEntry) size() int64 { return int64(len(e.key)+len(e.value)) + cacheEntryOverhead }

func lessCacheEntry(a, b *cacheEntry) bool { return a.key < b.key }

func newWriteCache() *writeCache {
	c := &writeCache{}
	c.reset()
	return c
}

// reset empties the cache. The caller holds c.mu or owns c alone.
func (c *writeCache) reset() {
	c.mu.entries = map[string]*cacheEntry{}
	c.mu.dirty = btree.NewG(32, lessCacheEntry)
	c.mu.lru.next, c.mu.lru.prev = &c.mu.lru, &c.mu.lru
	c.mu.bytes = 0
	c.mu.gen++
}

// open makes the cache usable, in the mode ctx and caching ask for, holding
// at most ctx.CacheMaxBytes (0: the default).
func (c *writeCache) open(ctx StoreContext, caching bool) {
	c.mode = cacheOff
	switch {
	case ctx.Transactional:
		c.mode = cacheTxn
	case caching:
		c.mode = cacheWriteBack
	}
	maxBytes := ctx.CacheMaxBytes
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.maxBytes = maxBytes
	if c.mu.maxBytes <= 0 {
		c.mu.maxBytes = DefaultCacheMaxBytes
	}
	c.mu.state = stateOpen
}

// close drops everything and refuses further writes.
func (c *writeCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	c.mu.state = stateClosed
}

// drop empties the cache without writing anything down: the backend is
// about to change underneath it (a restore or a wipe).
func (c *writeCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

// writable reports why the store cannot be written, if it cannot. The
// caller holds c.mu.
func (c *writeCache) writable() error { return c.mu.state.err() }

// flush writes the dirty entries down with write, if the cache is open and
// not transactional (the runtime commits those with prepare and apply).
func (c *writeCache) flush(write func([]KeyValue[[]byte, []byte]) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	if c.mode == cacheTxn {
		return nil
	}
	return c.writeDown(write)
}

// flushInto writes the dirty entries down to inner, unless the layer is
// off, then flushes inner.
func (c *writeCache) flushInto(inner interface {
	Write([]KeyValue[[]byte, []byte]) error
	Flush() error
}) error {
	if c.mode != cacheOff {
		if err := c.flush(inner.Write); err != nil {
			return err
		}
	}
	return inner.Flush()
}

// prepare hands the dirty entries, in key order, to log, and keeps them
// dirty.
func (c *writeCache) prepare(log func([]KeyValue[[]byte, []byte]) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	if c.mu.dirty.Len() == 0 {
		return nil
	}
	return log(c.dirtyBatch())
}

// apply writes the dirty entries down to backend b and marks them clean,
// with the changelog offset when b keeps one (ChangelogOffsetKeeper) and it
// is known.
func (c *writeCache) apply(b interface {
	Write([]KeyValue[[]byte, []byte]) error
}, changelogEnd int64) error {
	write := b.Write
	if k, ok := b.(ChangelogOffsetKeeper); ok && changelogEnd >= 0 {
		write = func(batch []KeyValue[[]byte, []byte]) error { return k.WriteWithOffset(batch, changelogEnd) }
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	c.mu.full = false
	return c.writeDown(write)
}

// Abort implements the store side of Transactional: it drops the writes
// since the last commit, the dirty entries; the clean ones still match the
// backend.
func (c *writeCache) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.dirty.Ascend(func(e *cacheEntry) bool {
		delete(c.mu.entries, e.key)
		c.mu.bytes -= e.size()
		return true
	})
	c.mu.dirty.Clear(false)
	c.mu.full = false
}

// Full reports whether the writes since the last commit overflowed the
// cache (cacheTxn mode).
func (c *writeCache) Full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.full
}

// dirtyBatch returns the dirty entries in key order. The caller holds c.mu.
func (c *writeCache) dirtyBatch() []KeyValue[[]byte, []byte] {
	batch := make([]KeyValue[[]byte, []byte], 0, c.mu.dirty.Len())
	c.mu.dirty.Ascend(func(e *cacheEntry) bool {
		batch = append(batch, KeyValue[[]byte, []byte]{Key: []byte(e.key), Value: e.value})
		return true
	})
	return batch
}

// writeDown hands every dirty entry, in key order, to write in one batch and
// marks them clean; deleted keys leave the cache. On error nothing is
// marked, so nothing is lost: the next flush tries again. The caller holds
// c.mu.
func (c *writeCache) writeDown(write func([]KeyValue[[]byte, []byte]) error) error {
	if c.mu.dirty.Len() == 0 {
		return nil
	}
	if err := write(c.dirtyBatch()); err != nil {
		return err
	}
	c.mu.dirty.Ascend(func(e *cacheEntry) bool {
		e.dirty = false
		if e.value == nil {
			delete(c.mu.entries, e.key)
			c.mu.bytes -= e.size()
		} else {
			c.touch(e)
		}
		return true
	})
	c.mu.dirty.Clear(false)
	c.mu.gen++
	return nil
}

// touch makes the clean entry e the most recently used. The caller holds
// c.mu.
func (c *writeCache) touch(e *cacheEntry) {
	if c.mu.lru.next == e {
		return
	}
	c.unlink(e)
	e.prev, e.next = &c.mu.lru, c.mu.lru.next
	e.next.prev = e
	c.mu.lru.next = e
}

// unlink takes e off the LRU list, if it is on it. The caller holds c.mu.
func (c *writeCache) unlink(e *cacheEntry) {
	if e.next != nil {
		e.prev.next, e.next.prev = e.next, e.prev
		e.prev, e.next = nil, nil
	}
}

// evict drops least recently used clean entries until the cache fits or
// holds only dirty ones. The caller holds c.mu.
func (c *writeCache) evict() {
	for c.mu.bytes > c.mu.maxBytes && c.mu.lru.prev != &c.mu.lru {
		e := c.mu.lru.prev
		c.unlink(e)
		delete(c.mu.entries, e.key)
		c.mu.bytes -= e.size()
	}
}

// set records that key now has value (nil: deleted), dirty. value is the
// cache's own. The caller holds c.mu and owns the store (the task).
func (c *writeCache) set(key []byte, value []byte) {
	e := c.mu.entries[string(key)]
	if e == nil {
		e = &cacheEntry{key: string(key)}
		c.mu.entries[e.key] = e
	} else {
		c.mu.bytes -= e.size()
	}
	e.value = value
	c.mu.bytes += e.size()
	if !e.dirty {
		e.dirty = true
		c.unlink(e)
		c.mu.dirty.ReplaceOrInsert(e)
	}
}

// setEntries caches entries as writes, atomically with respect to readers:
// with nilDeletes a nil Value deletes its key, otherwise it stores an empty
// value. Then it fits the cache, writing down with write.
func (c *writeCache) setEntries(entries []KeyValue[[]byte, []byte], nilDeletes bool, write func([]KeyValue[[]byte, []byte]) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	for _, e := range entries {
		var v []byte
		if e.Value != nil || !nilDeletes {
			v = ownedValue(e.Value)
		}
		c.set(e.Key, v)
	}
	return c.fit(write)
}

// fit writes the dirty entries down with write if the cache is over its
// size, then evicts. In cacheTxn mode it only evicts, and marks the cache
// full. The caller holds c.mu and owns the store.
func (c *writeCache) fit(write func([]KeyValue[[]byte, []byte]) error) error {
	if c.mu.bytes <= c.mu.maxBytes {
		return nil
	}
	if c.mode == cacheTxn {
		c.evict()
		c.mu.full = c.mu.bytes > c.mu.maxBytes
		return nil
	}
	if err := c.writeDown(write); err != nil {
		return err
	}
	c.evict()
	return nil
}

// lookup returns the cached value of key and whether the key is cached; a
// deleted key is cached with a nil value. On a miss, gen is what remember
// needs for the value the caller reads from the backend next.
func (c *writeCache) lookup(key []byte) (value []byte, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.mu.entries[string(key)]
	if e == nil {
		return nil, false, c.mu.gen
	}
	if !e.dirty {
		c.touch(e)
	}
	return e.value, true, 0
}

// remember caches a value read from the backend as clean, unless the key
// was cached meanwhile or the backend changed since the lookup that gave
// gen (a reader on another goroutine may have read it just before the
// owner wrote the key down and evicted it). It never writes down: it may
// run on any goroutine.
func (c *writeCache) remember(key, value []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.entries[string(key)]; ok || c.mu.state != stateOpen || c.mu.gen != gen {
		return
	}
	e := &cacheEntry{key: string(key), value: ownedValue(value)}
	c.mu.entries[e.key] = e
	c.mu.bytes += e.size()
	c.touch(e)
	c.evict()
}

// dirtyIn returns copies of the dirty entries in r that keep accepts (nil:
// all), in scan order: a snapshot that later writes do not change.
func (c *writeCache) dirtyIn(r KeyRange, reverse bool, keep func(key string) bool) []*cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*cacheEntry
	visit := func(e *cacheEntry) bool {
		if r.HasUpper && e.key > string(r.Upper) {
			return false
		}
		if keep == nil || keep(e.key) {
			out = append(out, &cacheEntry{key: e.key, value: e.value})
		}
		return true
	}
	if r.HasLower {
		c.mu.dirty.AscendGreaterOrEqual(&cacheEntry{key: string(r.Lower)}, visit)
	} else {
		c.mu.dirty.Ascend(visit)
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// mergeScan yields below's entries with the cached ones merged in, in scan
// order: a cached write replaces the entry of the same key below, a cached
// deletion hides it. Cached values are copied unless shared.
func mergeScan(cached []*cacheEntry, below iter.Seq2[KeyValue[[]byte, []byte], error], reverse, shared bool, yield func(KeyValue[[]byte, []byte], error) bool) {
	out := func(e *cacheEntry) bool {
		if e.value == nil {
			return true // deleted
		}
		kv := KeyValue[[]byte, []byte]{Key: []byte(e.key), Value: e.value}
		if !shared {
			kv.Value = ownedValue(e.value)
		}
		return yield(kv, nil)
	}
	// cmp orders the cached key a against the key b from below, in the
	// scan's order.
	cmp := func(a string, b []byte) int {
		c := bytes.Compare([]byte(a), b)
		if reverse {
			return -c
		}
		return c
	}
	i := 0
	for kv, err := range below {
		if err != nil {
			yield(KeyValue[[]byte, []byte]{}, err)
			return
		}
		for ; i < len(cached) && cmp(cached[i].key, kv.Key) < 0; i++ {
			if !out(cached[i]) {
				return
			}
		}
		if i < len(cached) && cached[i].key == string(kv.Key) {
			i++
			if !out(cached[i-1]) {
				return
			}
			continue
		}
		if !yield(kv, nil) {
			return
		}
	}
	for ; i < len(cached); i++ {
		if !out(cached[i]) {
			return
		}
	}
}

// cachedStore is the caching layer of a key-value store (Builder.WithCaching).
// It sits between the typed store and the change-logging layer and keeps
// the writes made since the last Flush: a key written many times between
// two commits reaches the backend and the changelog once, with its last
// value. Reads see those writes; Flush, which the runtime calls on every
// commit, writes them down in one Write. It also keeps recently read values,
// which spares the backend (a cgo call for RocksDB) the repeated reads of
// hot keys.
//
// Interactive queries read below the cache (see CommittedView), so they see
// what was flushed, never a write still in the cache. Close drops what was
// not flushed: the runtime commits before it closes a store cleanly, and a
// store closed without a commit must not write down what was never
// committed.
type cachedStore struct {
	inner   KeyValueBytesStore
	caching bool
	// below is the backend's sharedReader, nil if it has none: found once,
	// not on every read.
	below sharedReader
	// hits records the cache's hit ratio when metrics are on (SetSensors
	// of the typed store above), nil otherwise.
	hits *metrics.Stat
	*writeCache
}

var (
	_ KeyValueBytesStore = (*cachedStore)(nil)
	_ sharedReader       = (*cachedStore)(nil)
)

// newCachedStore wraps inner. The layer caches when caching is set, keeps
// transactions when its StoreContext asks for them, and otherwise passes
// every call through.
func newCachedStore(inner KeyValueBytesStore, caching bool) *cachedStore {
	below, _ := backend(inner).(sharedReader)
	return &cachedStore{inner: inner, caching: caching, below: below, writeCache: newWriteCache()}
}

// off reports whether the layer passes calls through.
func (s *cachedStore) off() bool { return s.mode == cacheOff }

func (s *cachedStore) Name() string     { return s.inner.Name() }
func (s *cachedStore) Persistent() bool { return s.inner.Persistent() }

func (s *cachedStore) Init(ctx StoreContext) error {
	if err := s.inner.Init(ctx); err != nil {
		return err
	}
	s.open(ctx, s.caching)
	return nil
}

// Prepare implements the store side of Transactional: it logs the writes
// since the last commit to the changelog, below the cache.
func (s *cachedStore) Prepare() error {
	if l, ok := s.inner.(*loggedStore); ok {
		return s.prepare(l.changes)
	}
	return nil
}

// Apply writes the writes since the last commit to the backend, with the
// changelog offset when the backend keeps one.
func (s *cachedStore) Apply(changelogEnd int64) error {
	return s.apply(backend(s.inner), changelogEnd)
}

// Flush writes the dirty entries down in one batch, in key order, then
// flushes the backend.
func (s *cachedStore) Flush() error { return s.flushInto(s.inner) }

// Close drops the cache, flushed or not, and closes the backend.
func (s *cachedStore) Close() error {
	s.close()
	return s.inner.Close()
}

// getShared returns the cached value itself, which is never changed.
func (s *cachedStore) getShared(key []byte) ([]byte, bool, error) {
	if s.off() {
		if s.below != nil {
			return s.below.getShared(key)
		}
		return s.inner.Get(key)
	}
	v, ok, gen := s.lookup(key)
	if ok {
		s.hits.Record(1)
		return v, v != nil, nil
	}
	s.hits.Record(0)
	v, ok, err := s.inner.Get(key)
	if err != nil || !ok {
		return nil, false, err
	}
	s.remember(key, v, gen)
	return v, true, nil
}

func (s *cachedStore) Get(key []byte) ([]byte, bool, error) {
	if s.off() {
		return s.inner.Get(key)
	}
	v, ok, err := s.getShared(key)
	if err != nil || !ok {
		return nil, false, err
	}
	return ownedValue(v), true, nil
}

// ownedValue copies v for a caller, keeping an empty value non-nil.
func ownedValue(v []byte) []byte {
	c := make([]byte, len(v))
	copy(c, v)
	return c
}

func (s *cachedStore) Put(key, value []byte) error {
	if s.off() {
		return s.inner.Put(key, value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	s.set(key, ownedValue(value))
	return s.fit(s.inner.Write)
}

func (s *cachedStore) PutAll(entries []KeyValue[[]byte, []byte]) error {
	if s.off() {
		return s.inner.PutAll(entries)
	}
	return s.setEntries(entries, false, s.inner.Write)
}

func (s *cachedStore) Write(batch []KeyValue[[]byte, []byte]) error {
	if s.off() {
		return s.inner.Write(batch)
	}
	return s.setEntries(batch, true, s.inner.Write)
}

func (s *cachedStore) Delete(key []byte) ([]byte, bool, error) {
	if s.off() {
		return s.inner.Delete(key)
	}
	old, had, err := s.Get(key)
	if err != nil {
		return nil, false, err
	}
	if !had {
		return nil, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return nil, false, err
	}
	s.set(key, nil)
	return old, true, s.fit(s.inner.Write)
}

func (s *cachedStore) ApproximateNumEntries() (int64, error) { return s.inner.ApproximateNumEntries() }

// Scan merges the dirty entries in r, taken when the loop starts, with the
// backend's scan: a cached write replaces the backend's entry, a cached
// deletion hides it. Clean entries equal the backend's and are not looked
// at.
func (s *cachedStore) Scan(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.scan(r, reverse, false)
}

func (s *cachedStore) scanShared(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.scan(r, reverse, true)
}

func (s *cachedStore) scan(r KeyRange, reverse, shared bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	if s.off() {
		if s.below != nil && shared {
			return s.below.scanShared(r, reverse)
		}
		return s.inner.Scan(r, reverse)
	}
	return func(yield func(KeyValue[[]byte, []byte], error) bool) {
		cached := s.dirtyIn(r, reverse, nil)
		below := s.inner.Scan
		if s.below != nil && shared {
			below = s.below.scanShared
		}
		mergeScan(cached, below(r, reverse), reverse, shared, yield)
	}
}

// expiry is implemented by the segmented store, and passed through by its
// change-logging layer, so that the caching layer above decides as the
// store would which times have expired.
type expiry interface {
	// admit observes time t as a Put at t would (advancing stream time and
	// dropping expired segments) and reports whether t is still live; when
	// it is not, it counts a dropped record.
	admit(t int64) (bool, error)
	// liveFrom returns the earliest live time; ok is false while nothing
	// has expired.
	liveFrom() (t int64, ok bool)
	// observed returns the stream time observed, ok false before any.
	observed() (t int64, ok bool)
	// retentionMillis returns the retention, in ms.
	retentionMillis() int64
	// countDropped counts a dropped record.
	countDropped()
}

// cachedSegmentedStore is the caching layer of window and session stores:
// cachedStore's contract over a SegmentedBytesStore. A Put is admitted (or
// dropped as expired) when it is made, as without a cache; a cached entry
// whose window expires before the write-down stops being read and is
// skipped by the backend when written down.
type cachedSegmentedStore struct {
	inner   SegmentedBytesStore
	schema  keySchema
	exp     expiry
	caching bool
	*writeCache
	// pending is the stream time the puts of the open transaction moved
	// (cacheTxn), if hasPending: the backend observes it, and drops what
	// it expires, only when the transaction is applied, so that an abort
	// leaves the committed windows and stream time as they were. Guarded by
	// the cache's mu.
	pending    int64
	hasPending bool
}

var _ SegmentedBytesStore = (*cachedSegmentedStore)(nil)

// newCachedSegmentedStore wraps inner as newCachedStore does.
func newCachedSegmentedStore(inner SegmentedBytesStore, schema keySchema, caching bool) *cachedSegmentedStore {
	exp, _ := inner.(expiry)
	return &cachedSegmentedStore{inner: inner, schema: schema, exp: exp, caching: caching, writeCache: newWriteCache()}
}

func (s *cachedSegmentedStore) off() bool { return s.mode == cacheOff }

// Prepare logs the writes since the last commit, below the cache.
func (s *cachedSegmentedStore) Prepare() error {
	if l, ok := s.inner.(*loggedSegmentedStore); ok {
		return s.prepare(l.changes)
	}
	return nil
}

// Apply writes the writes since the last commit to the backend, with the
// changelog offset when the backend keeps one, and then has it observe the
// stream time they moved.
func (s *cachedSegmentedStore) Apply(changelogEnd int64) error {
	if err := s.apply(belowSegmentLogging(s.inner), changelogEnd); err != nil {
		return err
	}
	s.mu.Lock()
	t, ok := s.pending, s.hasPending
	s.hasPending = false
	s.mu.Unlock()
	if ok {
		_, err := s.exp.admit(t)
		return err
	}
	return nil
}

// Abort drops the writes since the last commit, and the stream time they
// moved.
func (s *cachedSegmentedStore) Abort() {
	s.writeCache.Abort()
	s.mu.Lock()
	s.hasPending = false
	s.mu.Unlock()
}

// admitLocked is expiry.admit as the task sees it: in cacheTxn mode, the
// stream time moves in pending, not in the backend. The caller holds mu.
func (s *cachedSegmentedStore) admitLocked(t int64) (bool, error) {
	if s.mode != cacheTxn {
		return s.exp.admit(t)
	}
	if !s.hasPending || t > s.pending {
		s.pending, s.hasPending = t, true
	}
	if from, ok := s.liveFromLocked(); ok && t < from {
		s.exp.countDropped()
		return false, nil
	}
	return true, nil
}

// liveFromLocked is expiry.liveFrom as the task sees it, counting pending.
// The caller holds mu.
func (s *cachedSegmentedStore) liveFromLocked() (int64, bool) {
	if s.mode != cacheTxn || !s.hasPending {
		return s.exp.liveFrom()
	}
	obs, ok := s.exp.observed()
	if !ok || s.pending > obs {
		obs = s.pending
	}
	r := s.exp.retentionMillis()
	if obs < math.MinInt64+r {
		return 0, false
	}
	return obs - r + 1, true
}

func (s *cachedSegmentedStore) liveFrom() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveFromLocked()
}

func (s *cachedSegmentedStore) Name() string             { return s.inner.Name() }
func (s *cachedSegmentedStore) Persistent() bool         { return s.inner.Persistent() }
func (s *cachedSegmentedStore) Retention() time.Duration { return s.inner.Retention() }
func (s *cachedSegmentedStore) DroppedRecords() int64    { return s.inner.DroppedRecords() }

func (s *cachedSegmentedStore) Init(ctx StoreContext) error {
	if err := s.inner.Init(ctx); err != nil {
		return err
	}
	s.open(ctx, s.caching)
	if s.mode != cacheOff && s.exp == nil {
		return fmt.Errorf("caching needs the segmented store's expiry; %T does not have it", s.inner)
	}
	return nil
}

func (s *cachedSegmentedStore) Flush() error { return s.flushInto(s.inner) }

func (s *cachedSegmentedStore) Close() error {
	s.close()
	return s.inner.Close()
}

// Wipe drops the cache and wipes the backend.
func (s *cachedSegmentedStore) Wipe() error {
	s.drop()
	return s.inner.Wipe()
}

// live reports whether key's time has not expired.
func (s *cachedSegmentedStore) live(key []byte) (bool, error) {
	t, err := s.schema.segmentTime(key)
	if err != nil {
		return false, err
	}
	from, ok := s.liveFrom()
	return !ok || t >= from, nil
}

func (s *cachedSegmentedStore) Get(key []byte) ([]byte, bool, error) {
	if s.off() {
		return s.inner.Get(key)
	}
	v, ok, gen := s.lookup(key)
	if ok {
		if v == nil {
			return nil, false, nil
		}
		if live, err := s.live(key); err != nil || !live {
			return nil, false, err
		}
		return ownedValue(v), true, nil
	}
	v, ok, err := s.inner.Get(key)
	if err != nil || !ok {
		return nil, false, err
	}
	if s.mode == cacheTxn { // the open transaction may have expired it
		if live, err := s.live(key); err != nil || !live {
			return nil, false, err
		}
	}
	s.remember(key, v, gen)
	return v, true, nil
}

func (s *cachedSegmentedStore) Put(key, value []byte) (bool, error) {
	if s.off() {
		return s.inner.Put(key, value)
	}
	t, err := s.schema.segmentTime(key)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return false, err
	}
	if live, err := s.admitLocked(t); err != nil || !live {
		return false, err
	}
	s.set(key, ownedValue(value))
	return true, s.fit(s.inner.Write)
}

func (s *cachedSegmentedStore) Delete(key []byte) ([]byte, bool, error) {
	if s.off() {
		return s.inner.Delete(key)
	}
	old, had, err := s.Get(key)
	if err != nil || !had {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return nil, false, err
	}
	s.set(key, nil)
	return old, true, s.fit(s.inner.Write)
}

// Write caches a batch as the backend would apply it: puts of expired times
// are skipped (uncounted), and a malformed key fails the batch before
// anything is cached.
func (s *cachedSegmentedStore) Write(batch []KeyValue[[]byte, []byte]) error {
	if s.off() {
		return s.inner.Write(batch)
	}
	times := make([]int64, len(batch))
	for i, e := range batch {
		t, err := s.schema.segmentTime(e.Key)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		times[i] = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	for i, e := range batch {
		if e.Value == nil {
			s.set(e.Key, nil)
			continue
		}
		live, err := s.admitLocked(times[i])
		if err != nil {
			return err
		}
		if live {
			s.set(e.Key, ownedValue(e.Value))
		}
	}
	return s.fit(s.inner.Write)
}

// Scan merges the live dirty entries in r and [from, to] with the backend's
// scan.
func (s *cachedSegmentedStore) Scan(r KeyRange, from, to int64, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	if s.off() {
		return s.inner.Scan(r, from, to, reverse)
	}
	return func(yield func(KeyValue[[]byte, []byte], error) bool) {
		lo := from
		if f, ok := s.liveFrom(); ok && f > lo {
			lo = f
		}
		var bad error
		cached := s.dirtyIn(r, reverse, func(key string) bool {
			t, err := s.schema.segmentTime([]byte(key))
			if err != nil {
				bad = err
				return false
			}
			return t >= lo && t <= to
		})
		if bad != nil { // cached keys were checked when written: not expected
			yield(KeyValue[[]byte, []byte]{}, bad)
			return
		}
		mergeScan(cached, s.inner.Scan(r, lo, to, reverse), reverse, false, yield)
	}
}
