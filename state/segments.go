package state

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SegmentFactory is the backend of the window and session stores: it makes
// the KeyValueBytesStores that hold their time segments, and for a
// persistent backend finds and removes the segments left on disk.
//
// The in-memory backend is SegmentFactoryFunc over InMemoryKeyValueStore;
// package rocksdb has the persistent one.
type SegmentFactory interface {
	// NewSegment returns a fresh, unopened store for the segment called
	// name, "<store>.<start>" where start is the first Unix millisecond the
	// segment holds. The segmented store opens it with the StoreContext it
	// was opened with, without its Changelog: segments never log.
	NewSegment(name string) KeyValueBytesStore
	// Persistent reports whether the segments keep their data on disk.
	Persistent() bool
	// ExistingSegments returns the names of the segments of the store
	// called store that the task directory of ctx holds from an earlier
	// run, in any order. Names that do not have the form
	// "<store>.<start>" are ignored by the caller. A backend that keeps
	// nothing returns none.
	ExistingSegments(ctx StoreContext, store string) ([]string, error)
	// DestroySegment removes what the segment called name left behind,
	// once it is closed: its files, for a persistent backend.
	DestroySegment(ctx StoreContext, name string) error
}

// SegmentFactoryFunc adapts a func to a SegmentFactory whose segments live
// in memory: not persistent, nothing to find or remove.
type SegmentFactoryFunc func(name string) KeyValueBytesStore

// NewSegment returns f(name).
func (f SegmentFactoryFunc) NewSegment(name string) KeyValueBytesStore { return f(name) }

// Persistent is false.
func (f SegmentFactoryFunc) Persistent() bool { return false }

// ExistingSegments returns none.
func (f SegmentFactoryFunc) ExistingSegments(StoreContext, string) ([]string, error) { return nil, nil }

// DestroySegment does nothing: closing an in-memory segment frees it.
func (f SegmentFactoryFunc) DestroySegment(StoreContext, string) error { return nil }

// inMemorySegments is the in-memory SegmentFactory.
var inMemorySegments = SegmentFactoryFunc(func(name string) KeyValueBytesStore {
	return InMemoryKeyValueStore(name).Get()
})

// SegmentedBytesStore is the serialized layer under every window and
// session store: entries keyed by encoded window or session keys, each kept
// in the time segment of its key's segment time, the window start or the
// session end. The backends are made by NewWindowBytesStoreSupplier and
// NewSessionBytesStoreSupplier; the change-logging layer wraps them, and
// their changelog records carry the same keys.
//
// # Key layouts
//
// Integers are big-endian; a time is its Unix milliseconds with the sign
// bit flipped (as serde.Int64 writes an int64), so that byte order is time
// order, before 1970 included:
//
//	window key:  serialized key ‖ window start (8 bytes) ‖ sequence number (4 bytes)
//	session key: serialized key ‖ session end (8 bytes)  ‖ session start (8 bytes)
//
// The sequence number is 0 in a store that does not retain duplicates; in
// one that does, each Put takes the next one, so a window's duplicates sort
// in insertion order. The serialized key is not length-prefixed: the
// fixed-size suffix is read from the end, and a read of one key checks that
// the key part is exactly that key, since a key that extends another ("a"
// and "a\x80…") may have entries inside the other's byte range.
//
// # Segments
//
// A segment covers max(retention/2, 1 minute) of segment time, as in Kafka
// Streams, and is one KeyValueBytesStore from the SegmentFactory, named
// "<store>.<first Unix millisecond it covers>".
//
// # Retention
//
// The store tracks its observed stream time, the largest segment time ever
// put (restores included). An entry whose segment time is at or before
// observed stream time − retention has expired: reads never return it, a
// Put of it is ignored (and counted in DroppedRecords), and a segment is
// dropped, files included, as soon as all the times it covers have expired.
// Observed stream time is not stored: a persistent store reopened on its
// directory finds it again from its newest segment.
//
// # Concurrency
//
// One goroutine, the owning task, writes; Get and Scan may run on any
// goroutine. Every write (Put, Delete, Write, with the segments it drops) is
// atomic with respect to Scan: a range loop opens the scans of all the
// segments it reads at once, when it starts, and so reads one consistent
// snapshot of the whole store, which it keeps while the owner writes and
// drops segments: a dropped segment is closed and removed only once the last
// loop reading it has ended.
//
// Slices passed in are the caller's; slices returned are the receiver's.
type SegmentedBytesStore interface {
	Store
	// Get returns the value stored under key, unless it expired.
	Get(key []byte) ([]byte, bool, error)
	// Put stores value under key in the segment of key's time and reports
	// true; when that time has expired it stores nothing, counts the
	// record in DroppedRecords and reports false. A nil value stores an
	// empty value.
	Put(key, value []byte) (bool, error)
	// Delete removes key and returns the value it had, if it had one that
	// had not expired.
	Delete(key []byte) ([]byte, bool, error)
	// Write applies a batch of puts and deletions (nil Values) atomically
	// with respect to readers, in order, as Put and Delete would, except
	// that expired puts are skipped without being counted: the runtime
	// restores a store from its changelog through it. A malformed key fails
	// the batch before anything is written.
	Write(batch []KeyValue[[]byte, []byte]) error
	// Scan yields the entries whose encoded key lies in r and whose
	// segment time lies in [from, to] (Unix milliseconds, inclusive) and
	// has not expired, in ascending order of encoded key or, with reverse,
	// descending. The range loop reads a snapshot taken when it starts.
	Scan(r KeyRange, from, to int64, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error]
	// Wipe removes every entry and segment and forgets the observed
	// stream time.
	Wipe() error
	// Retention is how long entries are kept behind observed stream time.
	Retention() time.Duration
	// DroppedRecords counts the Puts ignored because their time had
	// expired since the store was made.
	DroppedRecords() int64
}

// segmentInterval is the time one segment covers, as in Kafka Streams: half
// the retention, but at least a minute, so a store has about three segments
// and drops its oldest data a segment (half a retention) at a time.
func segmentInterval(retention time.Duration) time.Duration {
	return max(retention/2, time.Minute)
}

// segmentedStore is the SegmentedBytesStore of the builders.
//
// Concurrency: mu guards the segment list, the observed stream time and
// the life cycle. Writes hold it exclusively for their whole length, the
// segments' writes included (and opening a new segment, once per segment
// interval: for RocksDB, a few milliseconds during which readers wait to
// start); readers hold it shared while they look up segments and open
// their scans (each segment then takes its own snapshot), and not while
// they yield. A scan keeps the segments it reads alive with
// refs, so that a segment the owner drops meanwhile is closed and destroyed
// by whoever lets go of it last, the owner or the reader, outside mu.
//
// Lock order: segmentedStore.mu, then whatever lock a segment takes inside
// its own methods. Closing or destroying a segment never happens under mu:
// a RocksDB segment's Close waits for the scans running on it, and the
// reader ending such a scan may need mu.
type segmentedStore struct {
	name      string
	schema    keySchema
	factory   SegmentFactory
	retention int64 // milliseconds, >= 1
	interval  int64 // milliseconds, >= 1
	config    error // what is wrong with the settings; Init returns it

	dropped atomic.Int64
	// zombies counts the dropped segments that scans still read; the last
	// scan out destroys each. Only the owner adds to it (under mu).
	zombies sync.WaitGroup

	mu struct {
		sync.RWMutex
		state storeState
		// ctx is the segments' StoreContext, set by Init.
		ctx StoreContext
		// segs are the live segments, by ascending id.
		segs []*segment
		// observed is the observed stream time, if hasObserved.
		observed    int64
		hasObserved bool
		// deferred holds failures to remove dropped segments that a reader
		// released last, for Flush (or Close) to return.
		deferred error
	}
}

// segment is one time segment: the entries whose segment time lies in
// [id×interval, (id+1)×interval).
type segment struct {
	id    int64
	name  string
	store KeyValueBytesStore
	// refs counts the scans reading the segment, plus segDropped once the
	// owner has dropped it. Scans only take a reference under
	// segmentedStore.mu and while the segment is listed, so after the drop
	// the count only falls, and exactly one party sees it reach segDropped:
	// that one destroys the segment.
	refs atomic.Int64
}

const segDropped = 1 << 40

var _ SegmentedBytesStore = (*segmentedStore)(nil)

func newSegmentedStore(name string, schema keySchema, factory SegmentFactory, retention time.Duration) *segmentedStore {
	s := &segmentedStore{name: name, schema: schema, factory: factory}
	s.retention = retention.Milliseconds()
	s.interval = segmentInterval(retention).Milliseconds()
	switch {
	case factory == nil:
		s.config = errors.New("nil SegmentFactory")
	case s.retention < 1:
		s.config = fmt.Errorf("retention %v is less than a millisecond; give it the time the store must keep %ss for", retention, schema.kind())
	}
	return s
}

func (s *segmentedStore) Name() string { return s.name }
func (s *segmentedStore) Retention() time.Duration {
	return time.Duration(s.retention) * time.Millisecond
}
func (s *segmentedStore) DroppedRecords() int64 { return s.dropped.Load() }

// Persistent reports whether the segments keep their data on disk.
func (s *segmentedStore) Persistent() bool { return s.factory != nil && s.factory.Persistent() }

// The segmented store's errors say what failed inside it (which segment,
// which batch entry); the typed store above names the store and the
// operation.

// checkOpen reports why the store cannot be used; the caller holds mu.
func (s *segmentedStore) checkOpen() error { return s.mu.state.err() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (s *segmentedStore) segmentID(t int64) int64 { return floorDiv(t, s.interval) }

// segmentName is "<store>.<first millisecond of the segment>", as in Kafka
// Streams. The one segment whose start lies before the int64 range is
// named after math.MinInt64, which maps back to the same id.
func (s *segmentedStore) segmentName(id int64) string {
	start := int64(math.MinInt64)
	if id >= math.MinInt64/s.interval {
		start = id * s.interval
	}
	return s.name + "." + strconv.FormatInt(start, 10)
}

// parseSegmentName returns the id of a segment name, or false for a name
// that is not one of this store's segments.
func (s *segmentedStore) parseSegmentName(name string) (int64, bool, error) {
	rest, ok := strings.CutPrefix(name, s.name+".")
	if !ok {
		return 0, false, nil
	}
	start, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || strconv.FormatInt(start, 10) != rest {
		return 0, false, nil
	}
	id := s.segmentID(start)
	if s.segmentName(id) != name {
		return 0, false, fmt.Errorf("segment %q does not start on a multiple of the segment interval %v: the store's retention changed since it was written; delete the segment (the store is then restored from its changelog) or keep the old retention",
			name, time.Duration(s.interval)*time.Millisecond)
	}
	return id, true, nil
}

// cutoff returns the latest expired time: every time at or before it has
// expired. ok is false while nothing has.
func (s *segmentedStore) cutoff() (int64, bool) {
	if !s.mu.hasObserved || s.mu.observed < math.MinInt64+s.retention {
		return 0, false
	}
	return s.mu.observed - s.retention, true
}

// expired reports whether time t has expired; the caller holds mu.
func (s *segmentedStore) expired(t int64) bool {
	c, ok := s.cutoff()
	return ok && t <= c
}

// admit implements expiry: Put without the write.
func (s *segmentedStore) admit(t int64) (bool, error) {
	return s.putAt(t, nil)
}

// putAt observes time t, drops the segments that expired, and then, unless
// t expired too (a dropped record, counted), calls write, if any, with the
// segment of t. It reports whether t was live. The segments dropped are
// destroyed outside mu.
func (s *segmentedStore) putAt(t int64, write func(*segment) error) (bool, error) {
	var doomed []*segment
	var ctx StoreContext
	live, err := func() (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.checkOpen(); err != nil {
			return false, err
		}
		ctx = s.mu.ctx
		s.observe(t)
		doomed = s.expireSegments()
		if s.expired(t) {
			s.dropped.Add(1)
			return false, nil
		}
		if write == nil {
			return true, nil
		}
		g, err := s.getOrCreate(s.segmentID(t))
		if err != nil {
			return false, err
		}
		return true, write(g)
	}()
	if derr := s.destroyAll(doomed, ctx); derr != nil {
		err = errors.Join(err, derr)
	}
	return live, err
}

// observed implements expiry.
func (s *segmentedStore) observed() (int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.observed, s.mu.hasObserved
}

// retentionMillis implements expiry.
func (s *segmentedStore) retentionMillis() int64 { return s.retention }

// countDropped implements expiry.
func (s *segmentedStore) countDropped() { s.dropped.Add(1) }

// liveFrom implements expiry.
func (s *segmentedStore) liveFrom() (int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.cutoff()
	return c + 1, ok
}

// observe advances the observed stream time to t; the caller holds mu
// exclusively.
func (s *segmentedStore) observe(t int64) {
	if !s.mu.hasObserved || t > s.mu.observed {
		s.mu.observed, s.mu.hasObserved = t, true
	}
}

// search returns where the segment with id is, or would go, in the list,
// and whether it is there; the caller holds mu.
func (s *segmentedStore) search(id int64) (int, bool) {
	return slices.BinarySearchFunc(s.mu.segs, id, func(g *segment, id int64) int { return cmpInt(g.id, id) })
}

// find returns the segment with id, or nil; the caller holds mu.
func (s *segmentedStore) find(id int64) *segment {
	if i, ok := s.search(id); ok {
		return s.mu.segs[i]
	}
	return nil
}

// getOrCreate returns the segment with id, opening a new one if needed;
// the caller holds mu exclusively.
func (s *segmentedStore) getOrCreate(id int64) (*segment, error) {
	i, ok := s.search(id)
	if ok {
		return s.mu.segs[i], nil
	}
	g, err := s.open(id, s.segmentName(id))
	if err != nil {
		return nil, err
	}
	s.mu.segs = slices.Insert(s.mu.segs, i, g)
	return g, nil
}

func (s *segmentedStore) open(id int64, name string) (*segment, error) {
	st := s.factory.NewSegment(name)
	if st == nil {
		return nil, fmt.Errorf("open segment %q: the SegmentFactory returned a nil store", name)
	}
	if err := st.Init(s.mu.ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("open segment %q: %w", name, err)
	}
	return &segment{id: id, name: name, store: st}, nil
}

// expireSegments unlists the segments whose every time has expired and
// returns those that no scan reads, for the caller to destroy once it has
// released mu; scans destroy the others when they end. The caller holds mu
// exclusively.
func (s *segmentedStore) expireSegments() []*segment {
	c, ok := s.cutoff()
	if !ok {
		return nil
	}
	firstLive := floorDiv(c+1, s.interval) // c < MaxInt64: retention >= 1
	n := 0
	for n < len(s.mu.segs) && s.mu.segs[n].id < firstLive {
		n++
	}
	if n == 0 {
		return nil
	}
	doomed := s.unlist(s.mu.segs[:n])
	s.mu.segs = slices.Delete(s.mu.segs, 0, n)
	return doomed
}

// unlist marks segs dropped and returns those nobody reads; the caller
// holds mu exclusively.
func (s *segmentedStore) unlist(segs []*segment) []*segment {
	var free []*segment
	for _, g := range segs {
		s.zombies.Add(1)
		if g.refs.Add(segDropped) == segDropped {
			s.zombies.Done()
			free = append(free, g)
		}
	}
	return free
}

// destroy closes a dropped segment and removes its data. It runs without
// mu.
func (s *segmentedStore) destroy(g *segment, ctx StoreContext) error {
	err := g.store.Close()
	if derr := s.factory.DestroySegment(ctx, g.name); derr != nil {
		err = errors.Join(err, derr)
	}
	if err != nil {
		return fmt.Errorf("drop expired segment %q: %w", g.name, err)
	}
	return nil
}

func (s *segmentedStore) destroyAll(segs []*segment, ctx StoreContext) error {
	var errs []error
	for _, g := range segs {
		if err := s.destroy(g, ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// acquire takes a reference on g for a scan; the caller holds mu.
func (s *segmentedStore) acquire(g *segment) { g.refs.Add(1) }

// release lets go of g; the last one out of a dropped segment destroys it.
func (s *segmentedStore) release(g *segment) {
	if g.refs.Add(-1) != segDropped {
		return
	}
	s.mu.RLock()
	ctx := s.mu.ctx
	s.mu.RUnlock()
	if err := s.destroy(g, ctx); err != nil {
		s.mu.Lock()
		s.mu.deferred = errors.Join(s.mu.deferred, err)
		s.mu.Unlock()
	}
	s.zombies.Done()
}

// awaitZombies waits until the scans still reading dropped segments have
// ended and destroyed them, when the segments are persistent: a segment
// whose files outlive its store could clash with the next store opened on
// the same directory, or with a segment of the same name made after Wipe.
// In-memory segments need no wait. The caller does not hold mu.
func (s *segmentedStore) awaitZombies() {
	if s.Persistent() {
		s.zombies.Wait()
	}
}

// Init opens the store: with a persistent factory, it reopens the segments
// left in the task directory, finds the observed stream time in the newest
// of them and drops those that have expired.
func (s *segmentedStore) Init(ctx StoreContext) error {
	if s.config != nil {
		return s.config
	}
	var doomed []*segment
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch s.mu.state {
		case stateOpen:
			return fmt.Errorf("Init called twice; the runtime opens each store once per task")
		case stateClosed:
			return ErrStoreClosed
		}
		ctx.Changelog = nil
		s.mu.ctx = ctx
		names, err := s.factory.ExistingSegments(ctx, s.name)
		if err != nil {
			return fmt.Errorf("find existing segments: %w", err)
		}
		var segs []*segment
		fail := func(err error) error {
			for _, g := range segs {
				_ = g.store.Close()
			}
			return err
		}
		for _, name := range names {
			id, ok, err := s.parseSegmentName(name)
			if err != nil {
				return fail(err)
			}
			if !ok {
				continue
			}
			g, err := s.open(id, name)
			if err != nil {
				return fail(err)
			}
			segs = append(segs, g)
		}
		slices.SortFunc(segs, func(a, b *segment) int { return cmpInt(a.id, b.id) })
		for i := len(segs) - 1; i >= 0 && !s.mu.hasObserved; i-- {
			if err := s.findObserved(segs[i]); err != nil {
				return fail(err)
			}
		}
		s.mu.segs = segs
		s.mu.state = stateOpen
		doomed = s.expireSegments()
		return nil
	}()
	if err != nil {
		return err
	}
	return s.destroyAll(doomed, ctx)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// findObserved advances the observed stream time to the latest time in g.
func (s *segmentedStore) findObserved(g *segment) error {
	for kv, err := range g.store.Scan(KeyRange{}, false) {
		if err != nil {
			return fmt.Errorf("read segment %q: %w", g.name, err)
		}
		t, err := s.schema.segmentTime(kv.Key)
		if err != nil {
			return fmt.Errorf("read segment %q: %w", g.name, err)
		}
		s.observe(t)
	}
	return nil
}

// Flush flushes every segment. It also returns any failure to remove a
// dropped segment that a reader released.
func (s *segmentedStore) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	errs := []error{s.mu.deferred}
	s.mu.deferred = nil
	for _, g := range s.mu.segs {
		errs = append(errs, g.store.Flush())
	}
	return errors.Join(errs...)
}

// Close closes every segment. It is idempotent. With a persistent factory
// it waits for the range loops running on the store to end, as a RocksDB
// key-value store does: never call it from inside a range loop over the
// same store.
func (s *segmentedStore) Close() error {
	s.mu.Lock()
	if s.mu.state == stateClosed {
		s.mu.Unlock()
		return nil
	}
	s.mu.state = stateClosed
	segs := s.mu.segs
	s.mu.segs = nil
	errs := []error{s.mu.deferred}
	s.mu.deferred = nil
	s.mu.Unlock()
	for _, g := range segs {
		errs = append(errs, g.store.Close())
	}
	s.awaitZombies()
	s.mu.Lock()
	errs = append(errs, s.mu.deferred)
	s.mu.deferred = nil
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *segmentedStore) Get(key []byte) ([]byte, bool, error) {
	t, err := s.schema.segmentTime(key)
	if err != nil {
		return nil, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkOpen(); err != nil {
		return nil, false, err
	}
	if s.expired(t) {
		return nil, false, nil
	}
	g := s.find(s.segmentID(t))
	if g == nil {
		return nil, false, nil
	}
	v, ok, err := g.store.Get(key)
	if err != nil {
		return nil, false, err
	}
	return v, ok, nil
}

func (s *segmentedStore) Put(key, value []byte) (bool, error) {
	t, err := s.schema.segmentTime(key)
	if err != nil {
		return false, err
	}
	if value == nil {
		value = []byte{}
	}
	return s.putAt(t, func(g *segment) error { return g.store.Put(key, value) })
}

// Delete removes key from its segment even when it has expired (it takes
// room until its segment is dropped), but reports only a live value.
func (s *segmentedStore) Delete(key []byte) ([]byte, bool, error) {
	t, err := s.schema.segmentTime(key)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return nil, false, err
	}
	g := s.find(s.segmentID(t))
	if g == nil {
		return nil, false, nil
	}
	old, ok, err := g.store.Delete(key)
	if err != nil {
		return nil, false, err
	}
	if !ok || s.expired(t) {
		return nil, false, nil
	}
	return old, true, nil
}

func (s *segmentedStore) Write(batch []KeyValue[[]byte, []byte]) error {
	return s.write(batch, func(g *segment, part []KeyValue[[]byte, []byte]) error { return g.store.Write(part) })
}

// write is Write, with each segment's part written by writeSegment.
func (s *segmentedStore) write(batch []KeyValue[[]byte, []byte], writeSegment func(*segment, []KeyValue[[]byte, []byte]) error) error {
	times := make([]int64, len(batch))
	for i, e := range batch {
		t, err := s.schema.segmentTime(e.Key)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		times[i] = t
	}
	var doomed []*segment
	var ctx StoreContext
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.checkOpen(); err != nil {
			return err
		}
		ctx = s.mu.ctx
		// Group the batch by segment, in order; each segment applies its
		// part as one write.
		var order []*segment
		parts := map[*segment][]KeyValue[[]byte, []byte]{}
		for i, e := range batch {
			t := times[i]
			var g *segment
			if e.Value != nil {
				s.observe(t)
				if s.expired(t) {
					continue
				}
				var err error
				if g, err = s.getOrCreate(s.segmentID(t)); err != nil {
					return err
				}
			} else if g = s.find(s.segmentID(t)); g == nil {
				continue
			}
			if _, seen := parts[g]; !seen {
				order = append(order, g)
			}
			parts[g] = append(parts[g], e)
		}
		for _, g := range order {
			if err := writeSegment(g, parts[g]); err != nil {
				return err
			}
		}
		doomed = s.expireSegments()
		return nil
	}()
	if derr := s.destroyAll(doomed, ctx); derr != nil {
		err = errors.Join(err, derr)
	}
	return err
}

// Wipe drops every segment and forgets the observed stream time. Scans
// already running finish on their snapshots; with a persistent factory Wipe
// waits for them to end, so never call it from inside a range loop over the
// same store.
func (s *segmentedStore) Wipe() error {
	s.mu.Lock()
	if err := s.checkOpen(); err != nil {
		s.mu.Unlock()
		return err
	}
	free := s.unlist(s.mu.segs)
	s.mu.segs = nil
	s.mu.observed, s.mu.hasObserved = 0, false
	ctx := s.mu.ctx
	s.mu.Unlock()
	err := s.destroyAll(free, ctx)
	s.awaitZombies()
	return err
}

// segIter is one segment's part of a scan.
type segIter struct {
	seg  *segment
	next func() (KeyValue[[]byte, []byte], error, bool)
	stop func()
	kv   KeyValue[[]byte, []byte]
	done bool
}

// advance reads the next entry of it, or marks it done.
func (it *segIter) advance() error {
	kv, err, ok := it.next()
	if !ok {
		it.done = true
		return nil
	}
	if err != nil {
		it.done = true
		return fmt.Errorf("segment %q: %w", it.seg.name, err)
	}
	it.kv = kv
	return nil
}

func (s *segmentedStore) Scan(r KeyRange, from, to int64, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	r = KeyRange{
		Lower:    cloneBytes(r.Lower),
		Upper:    cloneBytes(r.Upper),
		HasLower: r.HasLower,
		HasUpper: r.HasUpper,
	}
	return func(yield func(KeyValue[[]byte, []byte], error) bool) {
		its, lo, err := s.openScan(r, from, to, reverse)
		defer func() {
			for _, it := range its {
				it.stop()
			}
			for _, it := range its {
				s.release(it.seg)
			}
		}()
		if err != nil {
			yield(KeyValue[[]byte, []byte]{}, err)
			return
		}
		for {
			// Merge the segments' scans: each is in encoded-key order, and a
			// key lives in one segment only. There are about three.
			var best *segIter
			for _, it := range its {
				if it.done {
					continue
				}
				if best == nil {
					best = it
					continue
				}
				c := bytes.Compare(it.kv.Key, best.kv.Key)
				if reverse {
					c = -c
				}
				if c < 0 {
					best = it
				}
			}
			if best == nil {
				return
			}
			kv := best.kv
			if err := best.advance(); err != nil {
				yield(KeyValue[[]byte, []byte]{}, err)
				return
			}
			t, err := s.schema.segmentTime(kv.Key)
			if err != nil {
				yield(KeyValue[[]byte, []byte]{}, err)
				return
			}
			if t < lo || t > to {
				continue
			}
			if !yield(kv, nil) {
				return
			}
		}
	}
}

// openScan opens the scans of every segment that may hold live entries with
// times in [from, to], under mu, so that they all see the same state of the
// store. It returns the iterators opened, to be stopped and released by the
// caller even on error, and the earliest live time asked for.
func (s *segmentedStore) openScan(r KeyRange, from, to int64, reverse bool) (its []*segIter, lo int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkOpen(); err != nil {
		return nil, 0, err
	}
	lo = from
	if c, ok := s.cutoff(); ok && c+1 > lo {
		lo = c + 1
	}
	if lo > to || r.HasLower && r.HasUpper && bytes.Compare(r.Lower, r.Upper) > 0 {
		return nil, lo, nil
	}
	loID, hiID := s.segmentID(lo), s.segmentID(to)
	for _, g := range s.mu.segs {
		if g.id < loID || g.id > hiID {
			continue
		}
		s.acquire(g)
		next, stop := iter.Pull2(g.store.Scan(r, reverse))
		it := &segIter{seg: g, next: next, stop: stop}
		its = append(its, it)
		// The first step takes the segment's snapshot.
		if err := it.advance(); err != nil {
			return its, lo, err
		}
	}
	return its, lo, nil
}

var _ ChangelogOffsetKeeper = (*segmentedStore)(nil)

// WriteWithOffset applies batch as Write does, and records changelogEnd in
// every segment the batch writes to, when the segments keep offsets
// (ChangelogOffsetKeeper). Each segment writes its part and the offset
// atomically; the segments are not written atomically together, which
// ChangelogOffset allows for.
func (s *segmentedStore) WriteWithOffset(batch []KeyValue[[]byte, []byte], changelogEnd int64) error {
	return s.write(batch, func(g *segment, part []KeyValue[[]byte, []byte]) error {
		if k, ok := g.store.(ChangelogOffsetKeeper); ok {
			return k.WriteWithOffset(part, changelogEnd)
		}
		return g.store.Write(part)
	})
}

// ChangelogOffset returns the smallest offset its segments recorded, and
// false if a segment recorded none (or does not keep offsets). Restoring
// from the smallest is safe: a changelog record sets a key to a value, so
// replaying records a segment already holds leaves it as it was.
func (s *segmentedStore) ChangelogOffset() (int64, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkOpen(); err != nil {
		return 0, false, err
	}
	if len(s.mu.segs) == 0 {
		return 0, false, nil
	}
	low := int64(-1)
	for _, g := range s.mu.segs {
		k, ok := g.store.(ChangelogOffsetKeeper)
		if !ok {
			return 0, false, nil
		}
		off, ok, err := k.ChangelogOffset()
		if err != nil {
			return 0, false, fmt.Errorf("segment %q: %w", g.name, err)
		}
		if !ok {
			return 0, false, nil
		}
		if low < 0 || off < low {
			low = off
		}
	}
	return low, true, nil
}
