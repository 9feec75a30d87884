package rocksdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/linxGnu/grocksdb"

	"github.com/gostreams/streams/state"
)

// KeyValueStore returns a supplier of RocksDB key-value stores named name,
// configured by opts. Each call of its Get returns a fresh, unopened store;
// the store's Init opens (or creates) the database in
// <ctx.Dir>/rocksdb/<name>, so a store reopened on the same task directory
// finds what it held before. Persistent is true.
//
// name becomes a directory name: it must not be empty, "." or "..", nor
// contain a slash, a backslash or a NUL byte. opts is copied; it and name
// are checked by Init, which returns an *OptionsError for a bad field.
func KeyValueStore(name string, opts Options) state.KeyValueBytesStoreSupplier {
	return supplier{name: name, opts: opts}
}

type supplier struct {
	name string
	opts Options
}

func (s supplier) Name() string { return s.name }

func (s supplier) Get() state.KeyValueBytesStore { return &store{name: s.name, opts: s.opts} }

// The gate is one atomic word that every operation passes through: two flag
// bits and the number of operations running on the database. An operation
// increments the count (acquire) only while the open flag is set and the
// closed flag is not, and decrements it (release) when done with the
// database, which for a Scan is when its range loop ends. Close sets the
// closed flag, so no new operation starts, and waits until the count is
// zero before it frees the database: the C++ side must never see a read on a
// closed database, and a running Scan finishes on its snapshot.
//
// A counter rather than a sync.RWMutex, because an RWMutex blocks new
// readers while Close waits for the lock: a range loop whose body calls Get
// on the same store would then deadlock against a concurrent Close instead
// of getting ErrStoreClosed.
const (
	gateOpen   = 1 << 62
	gateClosed = 1 << 61
	gateCount  = gateClosed - 1
)

// store is the KeyValueBytesStore that KeyValueStore supplies.
//
// Concurrency: RocksDB is safe for concurrent use; the store only has to
// keep the database alive while it is used. Init and Close hold life, so
// they never overlap; every other method holds the gate (see above) while
// it uses db. The fields below life are written by Init before it sets
// gateOpen, and by Close after the gate has drained, so an operation that
// holds the gate reads them without a lock.
//
// Lock order: store.life, then Cache.mu (Init reads the cache under it).
// The gate is not a lock, but Close waits for it to drain while holding
// life, so nothing that holds the gate may take life or Cache.mu, and
// nothing does.
type store struct {
	name string
	opts Options

	gate atomic.Uint64
	// done is closed by the operation that releases the gate last once
	// Close has set gateClosed.
	done chan struct{}
	// dirty is set after every write and cleared by Flush, which then syncs
	// the write-ahead log.
	dirty atomic.Bool

	life sync.Mutex
	db   *grocksdb.DB
	// meta is the column family that keeps the changelog offset the data
	// reflects (WriteWithOffset), apart from the entries: scans never see it.
	meta   *grocksdb.ColumnFamilyHandle
	cfs    []*grocksdb.ColumnFamilyHandle // every handle, for Close
	native nativeOptions
	// ro and wo serve every Get and every write: RocksDB only reads them,
	// so they are shared, and allocated once instead of per call.
	ro *grocksdb.ReadOptions
	wo *grocksdb.WriteOptions
	// dir is where the database lives.
	dir string
	// wal is Options.WriteAheadLog.
	wal bool
	// syncWrites is Options.SyncWrites: every write syncs, Flush need not.
	syncWrites bool

	// buf holds the writes not applied to RocksDB yet, when the store
	// keeps no write-ahead log (batch.go). Lock order: the gate, then
	// buf.mu; Close takes buf.mu once the gate has drained.
	buf writeBatch
}

var (
	_ state.KeyValueBytesStore    = (*store)(nil)
	_ state.ChangelogOffsetKeeper = (*store)(nil)
)

// metaFamily is the name of the column family of the store's own metadata,
// and changelogOffsetKey the key of the changelog offset in it.
const metaFamily = "streams-meta"

var changelogOffsetKey = []byte("changelog-offset")

func (s *store) Name() string { return s.name }

// Persistent is true: the entries live on disk.
func (s *store) Persistent() bool { return true }

// checkName rejects a store name that is not one plain directory name.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("rocksdb: store name %q is not a valid directory name; use letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

// checkSetup checks what a store called name needs to open in ctx's task
// directory, and returns opts with its defaults filled in.
func checkSetup(name string, ctx state.StoreContext, opts Options) (Options, error) {
	if err := checkName(name); err != nil {
		return opts, err
	}
	if ctx.Dir == "" {
		return opts, fmt.Errorf("rocksdb: store %q: StoreContext.Dir is empty; a persistent store needs the task's state directory (set the app's state directory)", name)
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return opts, fmt.Errorf("rocksdb: store %q: %w", name, err)
	}
	return opts, nil
}

// Init opens the store's database in <ctx.Dir>/rocksdb/<name>, creating the
// directories and the database when they do not exist.
func (s *store) Init(ctx state.StoreContext) error {
	s.life.Lock()
	defer s.life.Unlock()
	switch g := s.gate.Load(); {
	case g&gateClosed != 0:
		return state.ErrStoreClosed
	case g&gateOpen != 0:
		return fmt.Errorf("rocksdb: store %q: Init called twice; the runtime opens each store once per task", s.name)
	}
	opts, err := checkSetup(s.name, ctx, s.opts)
	if err != nil {
		return err
	}
	dir := filepath.Join(ctx.Dir, "rocksdb", s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("rocksdb: store %q: create its directory: %w", s.name, err)
	}
	native, err := newNativeOptions(opts)
	if err != nil {
		return fmt.Errorf("rocksdb: store %q: %w", s.name, err)
	}
	native.db.SetCreateIfMissingColumnFamilies(true)
	db, cfs, err := grocksdb.OpenDbColumnFamilies(native.db, dir,
		[]string{"default", metaFamily}, []*grocksdb.Options{native.db, native.db})
	if err != nil {
		native.destroy()
		return fmt.Errorf("rocksdb: store %q: open %s (is another store open on it?): %w", s.name, dir, err)
	}
	s.db, s.native, s.dir, s.cfs, s.meta = db, native, dir, cfs, cfs[1]
	s.ro = grocksdb.NewDefaultReadOptions()
	s.wo = grocksdb.NewDefaultWriteOptions()
	s.wo.SetSync(opts.SyncWrites)
	// A transactional store (ExactlyOnce) writes one batch per commit, with
	// the changelog offset it reflects, and must find both after a crash:
	// it keeps the log whatever Options say. Unsynced: a killed process
	// loses nothing the operating system has.
	s.wo.DisableWAL(!opts.WriteAheadLog && !ctx.Transactional)
	s.syncWrites = opts.SyncWrites
	s.wal = opts.WriteAheadLog
	if !opts.WriteAheadLog && !ctx.Transactional && opts.WriteBatchSize > 0 {
		s.buf.limit = opts.WriteBatchSize
		s.buf.m = map[string]*pending{}
	}
	s.done = make(chan struct{})
	s.gate.Or(gateOpen) // publishes the fields above to every acquire
	return nil
}

// acquire enters the gate: on success the database stays open until the
// matching release.
func (s *store) acquire() error {
	for {
		g := s.gate.Load()
		switch {
		case g&gateClosed != 0:
			return state.ErrStoreClosed
		case g&gateOpen == 0:
			return state.ErrStoreNotInitialized
		}
		if s.gate.CompareAndSwap(g, g+1) {
			return nil
		}
	}
}

// release leaves the gate; the last one out after Close began wakes Close.
func (s *store) release() {
	if s.gate.Add(^uint64(0)) == gateOpen|gateClosed {
		close(s.done)
	}
}

// Flush, with Options.WriteAheadLog, makes every write so far durable: when
// there were writes since the last Flush, it syncs the log to stable
// storage (one fsync); with SyncWrites, where every write has synced
// already, it does nothing. Without the log (the default) it does nothing:
// the runtime restores a store that was not closed cleanly from its
// changelog, and Close writes the memtables to files.
func (s *store) Flush() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if err := s.applyNow("flush"); err != nil {
		return err
	}
	return s.syncWAL("flush")
}

func (s *store) syncWAL(op string) error {
	if !s.wal || s.syncWrites || !s.dirty.Swap(false) {
		return nil
	}
	if err := s.db.FlushWAL(true); err != nil {
		s.dirty.Store(true)
		return fmt.Errorf("rocksdb: store %q: %s: sync the write-ahead log in %s: %w", s.name, op, s.dir, err)
	}
	return nil
}

// Close makes the writes durable (it syncs the write-ahead log, or without
// one writes the memtables to files) when there were writes since the last
// Flush, then closes the database and releases everything the store holds.
// It waits for the operations running on other goroutines, range loops
// included, to end: never call it from inside a range loop over the same
// store. Operations that start once Close has begun return
// state.ErrStoreClosed. Close is idempotent; a store closed before Init is
// closed for good.
func (s *store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	g := s.gate.Or(gateClosed)
	if g&gateClosed != 0 || g&gateOpen == 0 {
		return nil // closed already, or never opened
	}
	if g&gateCount != 0 {
		<-s.done
	}
	err := s.applyNow("close")
	if serr := s.syncWAL("close"); err == nil {
		err = serr
	}
	if !s.wal && s.dirty.Swap(false) {
		// Without a log, what is only in the memtables is lost at close
		// unless written to files now.
		fo := grocksdb.NewDefaultFlushOptions()
		fo.SetWait(true)
		if ferr := s.db.Flush(fo); ferr != nil && err == nil {
			err = fmt.Errorf("rocksdb: store %q: close: writing the memtables in %s: %w", s.name, s.dir, ferr)
		}
		fo.Destroy()
	}
	for _, cf := range s.cfs {
		cf.Destroy()
	}
	s.db.Close()
	s.ro.Destroy()
	s.wo.Destroy()
	s.native.destroy()
	s.db, s.ro, s.wo, s.native, s.cfs, s.meta = nil, nil, nil, nativeOptions{}, nil, nil
	s.buf.reset()
	return err
}

// WriteWithOffset applies batch as Write does and records changelogEnd in
// the same write batch, so that after a crash the store holds both or
// neither. A negative changelogEnd forgets the offset.
func (s *store) WriteWithOffset(batch []state.KeyValue[[]byte, []byte], changelogEnd int64) error {
	return s.write("write with changelog offset", batch, true, func(wb *grocksdb.WriteBatch) {
		if changelogEnd < 0 {
			wb.DeleteCF(s.meta, changelogOffsetKey)
		} else {
			wb.PutCF(s.meta, changelogOffsetKey, binary.BigEndian.AppendUint64(nil, uint64(changelogEnd)))
		}
	})
}

// ChangelogOffset returns the offset the last WriteWithOffset recorded.
func (s *store) ChangelogOffset() (int64, bool, error) {
	if err := s.acquire(); err != nil {
		return 0, false, err
	}
	defer s.release()
	sl, err := s.db.GetCF(s.ro, s.meta, changelogOffsetKey)
	if err != nil {
		return 0, false, s.wrap("read the changelog offset", err)
	}
	defer sl.Free()
	if !sl.Exists() {
		return 0, false, nil
	}
	v := sl.Data()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("rocksdb: store %q: the kept changelog offset is %d bytes, not 8: the store's metadata is corrupt", s.name, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func (s *store) wrap(op string, err error) error {
	return fmt.Errorf("rocksdb: store %q: %s: %w", s.name, op, err)
}

// Get returns a copy of the value stored under key. A stored empty value
// comes back empty and non-nil, so that writing it back with Write stores it
// again instead of deleting the key.
func (s *store) Get(key []byte) ([]byte, bool, error) {
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.release()
	return s.get(key)
}

// get reads key, from the buffered writes first; the caller holds the gate.
func (s *store) get(key []byte) ([]byte, bool, error) {
	if s.batching() {
		if v, ok, found := s.buf.lookup(key); found {
			return v, ok, nil
		}
		// Not buffered: RocksDB has the latest value. Should the owner
		// write key meanwhile, this read returns the value before that
		// write, as it would have had it run a moment earlier.
	}
	// GetBytes copies the value into Go memory and frees RocksDB's copy.
	// It returns nil for a missing key and a non-nil slice, empty or not,
	// for a stored value.
	v, err := s.db.GetBytes(s.ro, key)
	if err != nil {
		return nil, false, s.wrap("get", err)
	}
	return v, v != nil, nil
}

// Put stores value under key. A nil value stores an empty value, not a
// deletion; use Delete to remove a key.
func (s *store) Put(key, value []byte) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if s.batching() {
		return s.buffer("put", []state.KeyValue[[]byte, []byte]{{Key: key, Value: value}}, false, nil)
	}
	if err := s.db.Put(s.wo, key, value); err != nil {
		return s.wrap("put", err)
	}
	s.dirty.Store(true)
	return nil
}

// PutAll stores every entry in one write batch, so a Scan sees all of them
// or none. A nil value stores an empty value. A key listed twice ends with
// its last value.
func (s *store) PutAll(entries []state.KeyValue[[]byte, []byte]) error {
	return s.write("put all", entries, false, nil)
}

// Write applies puts and deletions (nil values) in one write batch, so a
// Scan sees all of the batch or none of it.
func (s *store) Write(batch []state.KeyValue[[]byte, []byte]) error {
	return s.write("write", batch, true, nil)
}

// write applies entries in one write batch, with what meta, if not nil, adds
// to it.
func (s *store) write(op string, entries []state.KeyValue[[]byte, []byte], nilDeletes bool, meta func(*grocksdb.WriteBatch)) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if len(entries) == 0 && meta == nil {
		return nil
	}
	if s.batching() {
		return s.buffer(op, entries, nilDeletes, meta)
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, kv := range entries {
		if nilDeletes && kv.Value == nil {
			wb.Delete(kv.Key)
		} else {
			wb.Put(kv.Key, kv.Value)
		}
	}
	if meta != nil {
		meta(wb)
	}
	if err := s.db.Write(s.wo, wb); err != nil {
		return s.wrap(op, err)
	}
	s.dirty.Store(true)
	return nil
}

// buffer adds entries to the write batch, a nil value deleting its key when
// nilDeletes is set, all under one hold of buf.mu so that no reader sees
// part of them. It applies the batch when it is full, and at once when meta
// adds to it: the changelog offset must land in the same RocksDB batch as
// every write before it. The caller holds the gate.
func (s *store) buffer(op string, entries []state.KeyValue[[]byte, []byte], nilDeletes bool, meta func(*grocksdb.WriteBatch)) error {
	s.buf.mu.Lock()
	defer s.buf.mu.Unlock()
	for _, kv := range entries {
		s.buf.add(kv.Key, kv.Value, nilDeletes && kv.Value == nil)
	}
	if meta != nil || s.buf.full() {
		return s.applyBuffered(op, meta)
	}
	return nil
}

// Delete removes key and returns the value it had. A key that has no value
// is left alone: no tombstone is written.
func (s *store) Delete(key []byte) ([]byte, bool, error) {
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.release()
	old, ok, err := s.get(key)
	if err != nil || !ok {
		return nil, false, err
	}
	if s.batching() {
		return old, true, s.buffer("delete", []state.KeyValue[[]byte, []byte]{{Key: key}}, true, nil)
	}
	if err := s.db.Delete(s.wo, key); err != nil {
		return nil, false, s.wrap("delete", err)
	}
	s.dirty.Store(true)
	return old, true, nil
}

// ApproximateNumEntries is RocksDB's estimate of the number of keys
// (rocksdb.estimate-num-keys): exact after distinct puts, but overwrites and
// deletions not yet compacted away can make it too high or too low.
func (s *store) ApproximateNumEntries() (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	// RocksDB counts only what it has: apply the buffered writes first.
	if err := s.applyNow("approximate num entries"); err != nil {
		return 0, err
	}
	n, ok := s.db.GetIntProperty("rocksdb.estimate-num-keys")
	if !ok {
		return 0, s.wrap("approximate num entries", fmt.Errorf("property rocksdb.estimate-num-keys not available"))
	}
	return int64(n), nil
}

// Scan yields copies of the entries in r from a RocksDB snapshot taken when
// the range loop starts: writes made after that, by the owner or anyone, are
// not seen, and ranging the returned sequence again takes a new snapshot.
// The bounds are copied when Scan is called. The loop holds the snapshot and
// an iterator until it ends, break and panic included, and Close waits for
// it. The yielded keys and values are the caller's; they are carved from
// batches of up to 16 KiB, which a kept slice keeps alive.
func (s *store) Scan(r state.KeyRange, reverse bool) iter.Seq2[state.KeyValue[[]byte, []byte], error] {
	r = state.KeyRange{
		Lower:    bytes.Clone(r.Lower),
		Upper:    bytes.Clone(r.Upper),
		HasLower: r.HasLower,
		HasUpper: r.HasUpper,
	}
	return func(yield func(state.KeyValue[[]byte, []byte], error) bool) {
		if err := s.acquire(); err != nil {
			yield(state.KeyValue[[]byte, []byte]{}, err)
			return
		}
		defer s.release()
		if r.HasLower && r.HasUpper && bytes.Compare(r.Lower, r.Upper) > 0 {
			return
		}
		snap, err := s.snapshot()
		if err != nil {
			yield(state.KeyValue[[]byte, []byte]{}, err)
			return
		}
		defer s.db.ReleaseSnapshot(snap)
		ro := grocksdb.NewDefaultReadOptions()
		defer ro.Destroy()
		ro.SetSnapshot(snap)
		it := s.db.NewIterator(ro)
		defer it.Close()
		if err := s.iterate(it, r, reverse, yield); err != nil {
			yield(state.KeyValue[[]byte, []byte]{}, err)
		}
	}
}

// snapshot applies the buffered writes and takes a snapshot that has them
// all, holding buf.mu across both so that no write slips in between. The
// caller holds the gate.
func (s *store) snapshot() (*grocksdb.Snapshot, error) {
	if !s.batching() {
		return s.db.NewSnapshot(), nil
	}
	s.buf.mu.Lock()
	defer s.buf.mu.Unlock()
	if err := s.applyBuffered("scan", nil); err != nil {
		return nil, err
	}
	return s.db.NewSnapshot(), nil
}

// iterate walks it over r and yields copies of the entries. It returns the
// iterator's error, if any, for the caller to yield.
//
// The entries are copied in batches (see fill.go), and the yielded slices
// are carved from them, so a caller that keeps one entry keeps its batch,
// at most maxFill bytes, alive.
func (s *store) iterate(it *grocksdb.Iterator, r state.KeyRange, reverse bool, yield func(state.KeyValue[[]byte, []byte], error) bool) error {
	f := &filler{it: nativeIterator(it), reverse: reverse}
	// The bounds are checked by the filler rather than given to RocksDB as
	// iterate_lower_bound/iterate_upper_bound: RocksDB would keep pointers
	// to them after the call, which cgo does not allow for Go memory.
	switch {
	case !reverse && r.HasLower:
		it.Seek(r.Lower)
	case !reverse:
		it.SeekToFirst()
	case r.HasUpper:
		it.SeekForPrev(r.Upper)
	default:
		it.SeekToLast()
	}
	if reverse {
		f.bound, f.hasBound = r.Lower, r.HasLower
	} else {
		f.bound, f.hasBound = r.Upper, r.HasUpper
	}
	for more := true; more; {
		var batch []byte
		batch, more = f.next()
		for off := 0; off < len(batch); {
			var k, v []byte
			k, v, off = entryAt(batch, off)
			if !yield(state.KeyValue[[]byte, []byte]{Key: k, Value: v}, nil) {
				return nil
			}
		}
	}
	if err := it.Err(); err != nil {
		return s.wrap("scan", err)
	}
	return nil
}
