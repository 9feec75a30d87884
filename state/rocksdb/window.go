package rocksdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gostreams/streams/state"
)

// WindowStore returns a supplier of RocksDB window stores named name: give
// it to state.NewWindowStoreBuilder (or NewTimestampedWindowStoreBuilder) as
// you would state.InMemoryWindowStore. retention, windowSize and
// retainDuplicates mean what they mean there.
//
// A store keeps its windows in time segments of max(retention/2, 1 minute)
// by window start, each its own RocksDB database configured by opts, in
//
//	<StoreContext.Dir>/rocksdb/<name>.<segment start in Unix ms>
//
// which is how Kafka Streams names its segments. A segment is created by
// the first Put into it, and closed and deleted, directory included, once
// every window it holds has expired. A store reopened on the same task
// directory finds its segments, and the observed stream time in the newest
// of them. So do not give another store of the task a name of the form
// <name>.<integer>.
//
// Every open segment is an open RocksDB database, with its own memtables
// (opts.WriteBufferSize × opts.MaxWriteBuffers each, 48 MiB by default) and
// the shared block cache: a store has about three segments open.
//
// Flush flushes every segment as a KeyValueStore is flushed (see Options).
// Close waits for the range loops running on the store to end, as a
// key-value store does.
func WindowStore(name string, opts Options, retention, windowSize time.Duration, retainDuplicates bool) state.WindowBytesStoreSupplier {
	return state.NewWindowBytesStoreSupplier(name, Segments(opts), retention, windowSize, retainDuplicates)
}

// Segments returns the state.SegmentFactory of RocksDB segments configured
// by opts, which WindowStore and SessionStore use; a segment named n lives
// in <StoreContext.Dir>/rocksdb/<n>.
func Segments(opts Options) state.SegmentFactory { return segments{opts: opts} }

type segments struct{ opts Options }

func (f segments) NewSegment(name string) state.KeyValueBytesStore {
	return &store{name: name, opts: f.opts}
}

// Persistent is true.
func (f segments) Persistent() bool { return true }

// ExistingSegments lists the directories <ctx.Dir>/rocksdb/<store>.*; the
// segmented store keeps those whose suffix is a segment start. It also
// checks the store's name and opts, so that a mistake in them shows up in
// Init rather than at the first Put.
func (f segments) ExistingSegments(ctx state.StoreContext, storeName string) ([]string, error) {
	if _, err := checkSetup(storeName, ctx, f.opts); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(ctx.Dir, "rocksdb"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rocksdb: store %q: list its segments: %w", storeName, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), storeName+".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// DestroySegment deletes the segment's directory.
func (f segments) DestroySegment(ctx state.StoreContext, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(ctx.Dir, "rocksdb", name)); err != nil {
		return fmt.Errorf("rocksdb: segment %q: delete its directory: %w", name, err)
	}
	return nil
}
