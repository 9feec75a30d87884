package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/gostreams/streams/serde"
)

// VersionedRecord is one version of a key in a versioned store: its value,
// the timestamp it is valid from, and the timestamp the next version
// replaced it at.
type VersionedRecord[V any] struct {
	Value V
	// Timestamp is when the version became valid, in milliseconds.
	Timestamp time.Time
	// ValidTo is when the next version (a value or a deletion) replaced
	// it; the zero Time while it is the latest version.
	ValidTo time.Time
}

// ReadOnlyVersionedKeyValueStore is the read side of a versioned store:
// what a processor that only reads, and an interactive query, may do.
type ReadOnlyVersionedKeyValueStore[K, V any] interface {
	// Get returns the latest version of key. It reports false when key
	// has none or its latest version is a deletion.
	Get(key K) (VersionedRecord[V], bool, error)
	// GetAsOf returns the version of key that was valid at asOf: the one
	// with the largest timestamp not after asOf. It reports false when
	// there was none, when it was a deletion, or when asOf is older than
	// the history the store keeps (stream time minus the history
	// retention), even if older versions happen to be still there.
	GetAsOf(key K, asOf time.Time) (VersionedRecord[V], bool, error)
	// HistoryRetention is how far behind its stream time (the largest
	// timestamp written to it) the store answers GetAsOf.
	HistoryRetention() time.Duration
}

// VersionedKeyValueStore is a key-value store that keeps, for each key,
// the versions of its value over time (Kafka Streams' KIP-889): a write
// says from when its value is valid, and a read may ask for the value as
// of a time. Writes may come in any timestamp order; one older than the
// history retention behind the store's stream time is not applied.
// Deletions are versions too, so a read as of a time between a delete and
// the next write finds nothing.
type VersionedKeyValueStore[K, V any] interface {
	Store
	ReadOnlyVersionedKeyValueStore[K, V]
	// Put adds the version of key valid from ts until the next version's
	// timestamp, replacing one with the same timestamp, and returns that
	// next version's timestamp: validTo is the zero Time when the new
	// version is the key's latest (Kafka Streams' put return code). A
	// value the value serde writes as nil bytes (a nil pointer with
	// serde.Nullable) is a deletion. It reports stored false, writing
	// nothing, when ts is older than stream time minus the history
	// retention.
	Put(key K, value V, ts time.Time) (validTo time.Time, stored bool, err error)
	// Delete adds a deletion of key at ts and returns the version it
	// ends: the one valid at ts, if any. Nothing is written when ts is
	// older than stream time minus the history retention.
	Delete(key K, ts time.Time) (VersionedRecord[V], bool, error)
}

// NewVersionedKeyValueStoreBuilder returns a builder of
// VersionedKeyValueStore[K,V] stores named supplier.Name(), on a backend
// from supplier (in memory or RocksDB), that answer reads as of any time
// up to history behind their stream time. Defaults: change-logging
// enabled, the changelog compacted no earlier than history plus
// ChangelogAdditionalRetention after a write (min.compaction.lag.ms), so
// a restore brings back the history too; caching disabled.
//
// Each version is an entry of its own in the backend, keyed by the key
// and the version's timestamp, so a write costs one entry (and one
// changelog record), whatever the key's history. A key's versions that
// fell out of the history are deleted when the key is next written, and
// at each commit for a few hundred more keys, round the store, so that
// keys no longer written lose theirs too.
//
// It panics if supplier or a serde is nil, or if history is negative.
func NewVersionedKeyValueStoreBuilder[K, V any](supplier KeyValueBytesStoreSupplier, history time.Duration, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *Builder[VersionedKeyValueStore[K, V]] {
	mustNotBeNil("NewVersionedKeyValueStoreBuilder", supplier, keySerde == nil, valueSerde == nil)
	if history < 0 {
		panic(fmt.Sprintf("state: NewVersionedKeyValueStoreBuilder: store %q: negative history retention %v", supplier.Name(), history))
	}
	var b *Builder[VersionedKeyValueStore[K, V]]
	b = newBuilder(supplier.Name(), func() VersionedKeyValueStore[K, V] {
		return newVersionedStore(b.backendFor(supplier), history, keySerde, valueSerde)
	})
	b.history = history
	b.versioned = true
	return b
}

// Versioned reports whether the stores are versioned
// (NewVersionedKeyValueStoreBuilder) and, if so, their history retention.
func (b *Builder[S]) Versioned() (history time.Duration, ok bool) { return b.history, b.versioned }

// The backend's entries of a versioned store. A version's key is
// versionTag, the key's length as a uvarint, the key, and the version's
// timestamp in Unix milliseconds, 8 bytes big-endian with the sign bit
// flipped, so that a key's versions are adjacent and in time order, and
// no key's entries fall among another's. Its value is valueTag and the
// value serde's bytes, or tombstoneTag alone for a deletion. The one
// entry under metaKey holds the store's stream time (8 bytes, the same
// encoding), written at each commit that advanced it, so a store whose
// backend survived a restart knows it before it is written again.
const (
	metaTag      = 0
	versionTag   = 1
	valueTag     = 0
	tombstoneTag = 1
	tsSize       = 8
)

var metaKey = []byte{metaTag}

// noStreamTime is a store's stream time before anything was written.
const noStreamTime = math.MinInt64

func appendVersionTime(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms)^(1<<63))
}

func versionTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// versionPrefix is the start of every entry key of key k's versions.
func versionPrefix(dst, k []byte) []byte {
	dst = append(dst, versionTag)
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	return append(dst, k...)
}

// parseVersionKey splits an entry key into the user key and the
// timestamp; ok is false for the meta entry and for malformed keys.
func parseVersionKey(b []byte) (k []byte, ms int64, ok bool) {
	if len(b) < 1+1+tsSize || b[0] != versionTag {
		return nil, 0, false
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || uint64(len(b)-1-w-tsSize) != n {
		return nil, 0, false
	}
	return b[1+w : 1+w+int(n)], versionTime(b[len(b)-tsSize:]), true
}

// versionedStore is the VersionedKeyValueStore the builder makes, over the
// same layers as the key-value stores (cache, change-logging, backend), so
// that exactly-once commits, restoration and checkpoints work as theirs.
type versionedStore[K, V any] struct {
	inner      KeyValueBytesStore
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	history    int64 // ms
	// streamTime is the largest timestamp written (noStreamTime before
	// any); the owning task writes it, queries read it. Shared with the
	// store's committed view.
	streamTime *atomic.Int64
	// metaTime is the stream time the meta entry holds.
	metaTime int64
	// cursor is the version key the next sweep starts at; nil: the first.
	cursor []byte
	txnLayer
}

// sweepKeys is how many keys each commit's sweep looks at.
const sweepKeys = 256

var _ VersionedKeyValueStore[string, int64] = (*versionedStore[string, int64])(nil)

func newVersionedStore[K, V any](inner KeyValueBytesStore, history time.Duration, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *versionedStore[K, V] {
	st := new(atomic.Int64)
	st.Store(noStreamTime)
	s := &versionedStore[K, V]{inner: inner, keySerde: keySerde, valueSerde: valueSerde, history: history.Milliseconds(), streamTime: st, metaTime: noStreamTime}
	s.txnLayer = newTxnLayer(inner, func() {}, s.wrap)
	return s
}

func (s *versionedStore[K, V]) wrap(op string, err error) error {
	return fmt.Errorf("state: versioned store %q: %s: %w", s.inner.Name(), op, err)
}

func (s *versionedStore[K, V]) Name() string     { return s.inner.Name() }
func (s *versionedStore[K, V]) Persistent() bool { return s.inner.Persistent() }
func (s *versionedStore[K, V]) HistoryRetention() time.Duration {
	return time.Duration(s.history) * time.Millisecond
}

func (s *versionedStore[K, V]) Init(ctx StoreContext) error {
	if err := s.inner.Init(ctx); err != nil {
		return s.wrap("init", err)
	}
	b, ok, err := s.inner.Get(metaKey)
	if err != nil {
		return s.wrap("init: reading the stream time", err)
	}
	if ok {
		if len(b) != tsSize {
			return s.wrap("init", fmt.Errorf("%w: the stream time entry has %d bytes, want %d", serde.ErrMalformed, len(b), tsSize))
		}
		s.advance(versionTime(b))
		s.metaTime = versionTime(b)
	}
	return nil
}

// advance moves stream time to ms if that is later.
func (s *versionedStore[K, V]) advance(ms int64) {
	if ms > s.streamTime.Load() {
		s.streamTime.Store(ms)
	}
}

// writeMeta writes stream time down if it moved since it last was.
func (s *versionedStore[K, V]) writeMeta() error {
	st := s.streamTime.Load()
	if st == s.metaTime {
		return nil
	}
	if err := s.inner.Put(metaKey, appendVersionTime(nil, st)); err != nil {
		return s.wrap("writing the stream time", err)
	}
	s.metaTime = st
	return nil
}

func (s *versionedStore[K, V]) Flush() error {
	if err := s.commitWrites(); err != nil {
		return err
	}
	if err := s.inner.Flush(); err != nil {
		return s.wrap("flush", err)
	}
	return nil
}

// Prepare implements stateproto.Transactional: stream time goes down
// with the commit's versions.
func (s *versionedStore[K, V]) Prepare() error {
	if err := s.commitWrites(); err != nil {
		return err
	}
	return s.txnLayer.Prepare()
}

// commitWrites are the store's own writes at each commit: the stream
// time, and a sweep.
func (s *versionedStore[K, V]) commitWrites() error {
	if err := s.writeMeta(); err != nil {
		return err
	}
	return s.sweep()
}

// sweep expires the old versions of the next sweepKeys keys, going round
// the store commit after commit: a write expires its own key's, and this
// reaches the keys that are not written any more.
func (s *versionedStore[K, V]) sweep() error {
	if s.streamTime.Load() == noStreamTime {
		return nil
	}
	from := s.cursor
	if from == nil {
		from = []byte{versionTag}
	}
	var prefixes [][]byte
	var next []byte
	for e, err := range s.inner.Scan(KeyRange{Lower: from, HasLower: true}, false) {
		if err != nil {
			return s.wrap("sweeping old versions", err)
		}
		k, _, ok := parseVersionKey(e.Key)
		if !ok {
			continue
		}
		p := versionPrefix(nil, k)
		if n := len(prefixes); n > 0 && bytes.Equal(p, prefixes[n-1]) {
			continue // another version of the same key
		}
		if len(prefixes) == sweepKeys {
			next = bytes.Clone(e.Key)
			break
		}
		prefixes = append(prefixes, p)
	}
	for _, p := range prefixes {
		if err := s.expire("sweeping old versions", p); err != nil {
			return err
		}
	}
	s.cursor = next
	return nil
}

func (s *versionedStore[K, V]) Close() error {
	if err := s.inner.Close(); err != nil {
		return s.wrap("close", err)
	}
	return nil
}

// expired reports whether a write or read at ms is older than the history
// the store keeps.
func (s *versionedStore[K, V]) expired(ms int64) bool {
	st := s.streamTime.Load()
	return st != noStreamTime && ms < st-s.history
}

func (s *versionedStore[K, V]) key(op string, key K) ([]byte, error) {
	k, err := s.keySerde.Serialize(key)
	if err != nil {
		return nil, s.wrap(op+": serialize key", err)
	}
	return k, nil
}

// keyRange is the range of prefix's versions from ms lo to hi, inclusive.
func keyRange(prefix []byte, lo, hi int64) KeyRange {
	return KeyRange{
		Lower: appendVersionTime(bytes.Clone(prefix), lo), HasLower: true,
		Upper: appendVersionTime(bytes.Clone(prefix), hi), HasUpper: true,
	}
}

// first returns the first version in r, in the order reverse says.
func (s *versionedStore[K, V]) first(r KeyRange, reverse bool) (ms int64, value []byte, ok bool, err error) {
	for e, err := range s.inner.Scan(r, reverse) {
		if err != nil {
			return 0, nil, false, err
		}
		return versionTime(e.Key[len(e.Key)-tsSize:]), e.Value, true, nil
	}
	return 0, nil, false, nil
}

// at returns the version of the key whose entries start with prefix that
// was valid at ms, tombstones included (deleted is true for one).
func (s *versionedStore[K, V]) at(op string, prefix []byte, ms int64) (rec VersionedRecord[V], deleted, ok bool, err error) {
	from, b, ok, err := s.first(keyRange(prefix, math.MinInt64, ms), true)
	if err != nil || !ok {
		return rec, false, false, s.wrapErr(op, err)
	}
	if ms < math.MaxInt64 {
		to, _, has, err := s.first(keyRange(prefix, ms+1, math.MaxInt64), false)
		if err != nil {
			return rec, false, false, s.wrap(op, err)
		}
		if has {
			rec.ValidTo = time.UnixMilli(to).UTC()
		}
	}
	rec.Timestamp = time.UnixMilli(from).UTC()
	if len(b) == 0 {
		return rec, false, false, s.wrap(op, fmt.Errorf("%w: a version of %d bytes has no tag", serde.ErrMalformed, len(b)))
	}
	if b[0] == tombstoneTag {
		return rec, true, true, nil
	}
	if rec.Value, err = s.valueSerde.Deserialize(b[1:]); err != nil {
		return rec, false, false, s.wrap(op+": deserialize value", err)
	}
	return rec, false, true, nil
}

func (s *versionedStore[K, V]) wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return s.wrap(op, err)
}

func (s *versionedStore[K, V]) Get(key K) (VersionedRecord[V], bool, error) {
	k, err := s.key("get", key)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	rec, deleted, ok, err := s.at("get", versionPrefix(nil, k), math.MaxInt64)
	return rec, ok && !deleted, err
}

func (s *versionedStore[K, V]) GetAsOf(key K, asOf time.Time) (VersionedRecord[V], bool, error) {
	ms := asOf.UnixMilli()
	if s.expired(ms) {
		return VersionedRecord[V]{}, false, nil
	}
	k, err := s.key("get as of", key)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	rec, deleted, ok, err := s.at("get as of", versionPrefix(nil, k), ms)
	return rec, ok && !deleted, err
}

func (s *versionedStore[K, V]) Put(key K, value V, ts time.Time) (validTo time.Time, stored bool, err error) {
	ms := ts.UnixMilli()
	if s.expired(ms) {
		return time.Time{}, false, nil
	}
	k, err := s.key("put", key)
	if err != nil {
		return time.Time{}, false, err
	}
	v, err := s.valueSerde.Serialize(value)
	if err != nil {
		return time.Time{}, false, s.wrap("put: serialize value", err)
	}
	entry := []byte{tombstoneTag}
	if v != nil {
		entry = append(append(make([]byte, 0, 1+len(v)), valueTag), v...)
	}
	if ms < math.MaxInt64 {
		next, _, has, err := s.first(keyRange(versionPrefix(nil, k), ms+1, math.MaxInt64), false)
		if err != nil {
			return time.Time{}, false, s.wrap("put", err)
		}
		if has {
			validTo = time.UnixMilli(next).UTC()
		}
	}
	return validTo, true, s.write("put", k, ms, entry)
}

func (s *versionedStore[K, V]) Delete(key K, ts time.Time) (VersionedRecord[V], bool, error) {
	ms := ts.UnixMilli()
	if s.expired(ms) {
		return VersionedRecord[V]{}, false, nil
	}
	k, err := s.key("delete", key)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	prefix := versionPrefix(nil, k)
	old, deleted, ok, err := s.at("delete", prefix, ms)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	if err := s.write("delete", k, ms, []byte{tombstoneTag}); err != nil {
		return VersionedRecord[V]{}, false, err
	}
	if !ok || deleted {
		return VersionedRecord[V]{}, false, nil
	}
	// It is valid until the deletion now.
	old.ValidTo = time.UnixMilli(ms).UTC()
	return old, true, nil
}

// write adds the version entry of k at ms, advances stream time and drops
// k's versions that left the history.
func (s *versionedStore[K, V]) write(op string, k []byte, ms int64, entry []byte) error {
	prefix := versionPrefix(nil, k)
	if err := s.inner.Put(appendVersionTime(bytes.Clone(prefix), ms), entry); err != nil {
		return s.wrap(op, err)
	}
	s.advance(ms)
	return s.expire(op, prefix)
}

// expire deletes the versions of prefix's key that no read can return any
// more: every version that a later one replaced at or before stream time
// minus the history, and the oldest remaining one if it is a deletion
// (a read finds nothing there either way).
func (s *versionedStore[K, V]) expire(op string, prefix []byte) error {
	bound := s.streamTime.Load() - s.history
	var old [][]byte
	var last []byte
	lastDeleted := false
	for e, err := range s.inner.Scan(keyRange(prefix, math.MinInt64, bound), false) {
		if err != nil {
			return s.wrap(op+": expiring old versions", err)
		}
		if last != nil {
			old = append(old, last)
		}
		last, lastDeleted = bytes.Clone(e.Key), len(e.Value) > 0 && e.Value[0] == tombstoneTag
	}
	if last != nil && lastDeleted {
		old = append(old, last)
	}
	for _, key := range old {
		if _, _, err := s.inner.Delete(key); err != nil {
			return s.wrap(op+": expiring old versions", err)
		}
	}
	return nil
}

// Restore implements stateproto.Restorer. Stream time follows the
// restored versions.
func (s *versionedStore[K, V]) Restore(batch []KeyValue[[]byte, []byte]) error {
	for _, e := range batch {
		if e.Value == nil {
			continue
		}
		if bytes.Equal(e.Key, metaKey) && len(e.Value) == tsSize {
			s.advance(versionTime(e.Value))
		} else if _, ms, ok := parseVersionKey(e.Key); ok {
			s.advance(ms)
		}
	}
	if err := restoreInto(s.inner, batch); err != nil {
		return s.wrap("restore", err)
	}
	return nil
}

// Wipe implements stateproto.Restorer.
func (s *versionedStore[K, V]) Wipe() error {
	if err := wipeBackend(s.inner); err != nil {
		return s.wrap("wipe", err)
	}
	s.streamTime.Store(noStreamTime)
	s.metaTime = noStreamTime
	return nil
}

// ChangelogOffset implements stateproto.ChangelogOffsetReader.
func (s *versionedStore[K, V]) ChangelogOffset() (int64, bool, error) {
	return changelogOffsetOf(backend(s.inner))
}

// CommittedView implements stateproto.CommittedViewer: the same store over
// what was written down, sharing stream time.
func (s *versionedStore[K, V]) CommittedView() Store {
	below := belowCache(s.inner)
	if below == s.inner {
		return s
	}
	v := newVersionedStore(below, s.HistoryRetention(), s.keySerde, s.valueSerde)
	v.streamTime = s.streamTime
	return v
}
