package rocksdb

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/linxGnu/grocksdb"
	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/state"
)

func TestSupplier(t *testing.T) {
	t.Parallel()
	sup := KeyValueStore("Counts", Options{})
	require.Equal(t, "Counts", sup.Name())

	dir := t.TempDir()
	a, c := sup.Get(), sup.Get()
	require.NotSame(t, a, c, "each Get must return a fresh store")
	require.Equal(t, "Counts", a.Name())
	require.True(t, a.Persistent())
	require.NoError(t, a.Init(state.StoreContext{Dir: dir}))
	t.Cleanup(func() { _ = a.Close() })
	_, err := os.Stat(filepath.Join(dir, "rocksdb", "Counts", "CURRENT"))
	require.NoError(t, err, "the database lives in <Dir>/rocksdb/<name>")

	// A second store on the same directory cannot open while the first
	// holds it, and says so.
	err = c.Init(state.StoreContext{Dir: dir})
	require.ErrorContains(t, err, `rocksdb: store "Counts": open `)
	require.ErrorContains(t, err, "is another store open on it?")
	require.NoError(t, c.Close())
}

// ops are the operations of a store other than Init, Close, Name and
// Persistent, each reduced to its error.
var ops = map[string]func(s state.KeyValueBytesStore) error{
	"Get":          func(s state.KeyValueBytesStore) error { _, _, err := s.Get(b("k")); return err },
	"Put":          func(s state.KeyValueBytesStore) error { return s.Put(b("k"), b("v")) },
	"PutAll":       func(s state.KeyValueBytesStore) error { return s.PutAll([]bkv{{Key: b("k")}}) },
	"PutAll empty": func(s state.KeyValueBytesStore) error { return s.PutAll(nil) },
	"Write":        func(s state.KeyValueBytesStore) error { return s.Write([]bkv{{Key: b("k")}}) },
	"Write empty":  func(s state.KeyValueBytesStore) error { return s.Write(nil) },
	"Delete":       func(s state.KeyValueBytesStore) error { _, _, err := s.Delete(b("k")); return err },
	"Flush":        func(s state.KeyValueBytesStore) error { return s.Flush() },
	"ApproximateNumEntries": func(s state.KeyValueBytesStore) error {
		_, err := s.ApproximateNumEntries()
		return err
	},
	"Scan": func(s state.KeyValueBytesStore) error {
		kvs, errs, err := drain(s.Scan(state.KeyRange{}, false))
		if len(kvs) != 0 || errs != 1 {
			return fmt.Errorf("a failing scan must yield exactly one error and nothing else; got %d entries, %d errors", len(kvs), errs)
		}
		return err
	},
}

func TestLifecycle(t *testing.T) {
	t.Parallel()

	t.Run("before Init", func(t *testing.T) {
		t.Parallel()
		s := KeyValueStore("s", Options{}).Get()
		for name, op := range ops {
			require.ErrorIs(t, op(s), state.ErrStoreNotInitialized, name)
		}
		require.Equal(t, "s", s.Name())
		require.True(t, s.Persistent())
	})

	t.Run("Init twice", func(t *testing.T) {
		t.Parallel()
		s := openBytes(t, t.TempDir(), "s", Options{})
		err := s.Init(state.StoreContext{Dir: t.TempDir()})
		require.EqualError(t, err, `rocksdb: store "s": Init called twice; the runtime opens each store once per task`)
		require.NoError(t, s.Put(b("k"), b("v")), "the failed Init leaves the store open")
	})

	t.Run("after Close", func(t *testing.T) {
		t.Parallel()
		s := openBytes(t, t.TempDir(), "s", Options{})
		require.NoError(t, s.Put(b("k"), b("v")))
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close is idempotent")
		for name, op := range ops {
			require.ErrorIs(t, op(s), state.ErrStoreClosed, name)
		}
		require.ErrorIs(t, s.Init(state.StoreContext{Dir: t.TempDir()}), state.ErrStoreClosed)
		require.Equal(t, "s", s.Name())
		require.True(t, s.Persistent())
		require.Nil(t, s.db, "Close releases the database")
	})

	t.Run("Close before Init", func(t *testing.T) {
		t.Parallel()
		s := KeyValueStore("s", Options{}).Get()
		require.NoError(t, s.Close())
		require.ErrorIs(t, s.Init(state.StoreContext{Dir: t.TempDir()}), state.ErrStoreClosed)
		require.ErrorIs(t, s.Put(b("k"), nil), state.ErrStoreClosed)
	})
}

func TestInitFails(t *testing.T) {
	t.Parallel()
	closedCache, err := NewCache(1 << 20)
	require.NoError(t, err)
	closedCache.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o644))

	tests := []struct {
		name, store string
		opts        Options
		dir         string
		want        string
		field       string // the *OptionsError's field, if any
	}{
		{name: "no Dir", store: "s", want: `rocksdb: store "s": StoreContext.Dir is empty; a persistent store needs the task's state directory`},
		{name: "empty name", store: "", dir: t.TempDir(), want: `rocksdb: store name "" is not a valid directory name`},
		{name: "dot dot", store: "..", dir: t.TempDir(), want: `rocksdb: store name ".." is not a valid directory name`},
		{name: "slash", store: "a/b", dir: t.TempDir(), want: `rocksdb: store name "a/b" is not a valid directory name`},
		{name: "Dir is a file", store: "s", dir: notADir, want: `rocksdb: store "s": create its directory: `},
		{name: "WriteBufferSize", store: "s", dir: t.TempDir(), opts: Options{WriteBufferSize: 1024}, field: "WriteBufferSize",
			want: `rocksdb: store "s": rocksdb: Options.WriteBufferSize is 1024; want 0 for the default (16 MiB) or at least 65536 (64 KiB)`},
		{name: "MaxWriteBuffers", store: "s", dir: t.TempDir(), opts: Options{MaxWriteBuffers: 1}, field: "MaxWriteBuffers",
			want: `rocksdb: store "s": rocksdb: Options.MaxWriteBuffers is 1; want 0 for the default (3) or at least 2`},
		{name: "Compression", store: "s", dir: t.TempDir(), opts: Options{Compression: 42}, field: "Compression",
			want: `rocksdb: store "s": rocksdb: Options.Compression is Compression(42); want one of the Compression constants`},
		{name: "SyncWrites without a log", store: "s", dir: t.TempDir(), opts: Options{SyncWrites: true}, field: "SyncWrites",
			want: `rocksdb: Options.SyncWrites is true without WriteAheadLog; want WriteAheadLog true as well`},
		{name: "closed Cache", store: "s", dir: t.TempDir(), opts: Options{Cache: closedCache}, field: "Cache",
			want: `rocksdb: store "s": rocksdb: Options.Cache is a closed Cache; want an open Cache from NewCache, or nil for DefaultCache()`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := KeyValueStore(tc.store, tc.opts).Get()
			err := s.Init(state.StoreContext{Dir: tc.dir})
			require.ErrorContains(t, err, tc.want)
			if tc.field != "" {
				var oe *OptionsError
				require.ErrorAs(t, err, &oe)
				require.Equal(t, tc.field, oe.Field)
			}
			require.ErrorIs(t, s.Put(b("k"), b("v")), state.ErrStoreNotInitialized, "a failed Init leaves the store unopened")
			require.NoError(t, s.Close())
		})
	}
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "crud", Options{})

	v, ok, err := s.Get(b("missing"))
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, v)

	require.NoError(t, s.Put(b("a"), b("1")))
	require.NoError(t, s.Put(b("a"), b("2")))
	require.NoError(t, s.Put(b(""), b("empty key")))
	require.NoError(t, s.Put(b("nil value"), nil))
	require.NoError(t, s.Put(b("empty value"), []byte{}))

	v, ok, err = s.Get(b("a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, b("2"), v)

	v, ok, err = s.Get(nil)
	require.NoError(t, err)
	require.True(t, ok, "nil and empty keys are the same key")
	require.Equal(t, b("empty key"), v)

	for _, k := range []string{"nil value", "empty value"} {
		v, ok, err = s.Get(b(k))
		require.NoError(t, err)
		require.True(t, ok, "%s: stored, not deleted", k)
		require.NotNil(t, v, "%s: an empty value comes back non-nil, so that Write stores it again", k)
		require.Empty(t, v, k)
	}

	v, ok, err = s.Delete(b("a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, b("2"), v)

	v, ok, err = s.Delete(b("a"))
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, v)

	v, ok, err = s.Delete(b("empty value"))
	require.NoError(t, err)
	require.True(t, ok)
	require.NotNil(t, v)
	require.Empty(t, v)

	require.NoError(t, s.PutAll([]bkv{
		{Key: b("x"), Value: b("first")},
		{Key: b("y"), Value: b("y")},
		{Key: b("x"), Value: b("last")},
	}))
	v, _, err = s.Get(b("x"))
	require.NoError(t, err)
	require.Equal(t, b("last"), v, "a key listed twice in PutAll ends with its last value")

	require.NoError(t, s.PutAll(nil))
	require.NoError(t, s.Flush())
	require.Equal(t, []string{"=empty key", "nil value=", "x=last", "y=y"}, strs(collect(t, s.Scan(state.KeyRange{}, false))))
}

// Write applies puts and deletions (nil values) at once; an empty non-nil
// value is a put, and a key listed twice ends as its last entry says.
func TestWrite(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "write", Options{})
	require.NoError(t, s.PutAll([]bkv{
		{Key: b("a"), Value: b("1")}, {Key: b("b"), Value: b("1")}, {Key: b("c"), Value: b("1")}, {Key: b("d"), Value: b("1")},
	}))
	require.NoError(t, s.Write([]bkv{
		{Key: b("a")},                    // delete
		{Key: b("b"), Value: []byte{}},   // empty value
		{Key: b("c"), Value: b("2")},     // overwrite
		{Key: b("e"), Value: b("new")},   // insert
		{Key: b("f"), Value: b("gone")},  // insert, then...
		{Key: b("f")},                    // ...delete in the same batch
		{Key: b("d")},                    // delete, then...
		{Key: b("d"), Value: b("again")}, // ...put back
		{Key: b("missing")},              // delete of nothing
	}))
	require.Equal(t, []string{"b=", "c=2", "d=again", "e=new"}, strs(collect(t, s.Scan(state.KeyRange{}, false))))

	// PutAll does not delete: a nil value is an empty value there.
	require.NoError(t, s.PutAll([]bkv{{Key: b("e")}}))
	v, ok, err := s.Get(b("e"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, v)
}

func TestBigValues(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "big", Options{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	bigKey := bytes.Repeat([]byte("k"), 64<<10)
	require.NoError(t, s.Put(b("big"), big))
	require.NoError(t, s.Put(bigKey, b("v")))
	require.NoError(t, s.Write([]bkv{{Key: b("big2"), Value: big[:len(big)-1]}}))

	v, ok, err := s.Get(b("big"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, big, v)

	kvs := collect(t, s.Scan(state.KeyRange{}, false))
	require.Len(t, kvs, 3)
	require.Equal(t, b("big"), kvs[0].Key)
	require.Equal(t, big, kvs[0].Value)
	require.Equal(t, big[:len(big)-1], kvs[1].Value)
	require.Equal(t, bigKey, kvs[2].Key)
	require.Equal(t, b("v"), kvs[2].Value)
}

func TestScanBounds(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "scan", Options{})
	for _, k := range []string{"", "a", "b", "ba", "c", "d", "\xff"} {
		require.NoError(t, s.Put(b(k), b("v"+k)))
	}
	lo := func(k string) state.KeyRange { return state.KeyRange{Lower: b(k), HasLower: true} }
	hi := func(k string) state.KeyRange { return state.KeyRange{Upper: b(k), HasUpper: true} }
	both := func(l, u string) state.KeyRange {
		return state.KeyRange{Lower: b(l), Upper: b(u), HasLower: true, HasUpper: true}
	}
	tests := []struct {
		name string
		r    state.KeyRange
		want []string // keys, ascending
	}{
		{"all", state.KeyRange{}, []string{"", "a", "b", "ba", "c", "d", "\xff"}},
		{"inclusive", both("b", "c"), []string{"b", "ba", "c"}},
		{"between keys", both("ab", "bb"), []string{"b", "ba"}},
		{"single key", both("c", "c"), []string{"c"}},
		{"empty range", both("bb", "bc"), nil},
		{"lower above upper", both("c", "b"), nil},
		{"open upper", lo("c"), []string{"c", "d", "\xff"}},
		{"open lower", hi("b"), []string{"", "a", "b"}},
		{"empty lower bound is a bound", lo(""), []string{"", "a", "b", "ba", "c", "d", "\xff"}},
		{"empty upper bound", hi(""), []string{""}},
		{"nil bounds with Has flags", state.KeyRange{HasLower: true, HasUpper: true}, []string{""}},
		{"past the end", lo("e\x00"), []string{"\xff"}},
		{"below the start", hi("\x00"), []string{""}},
		{"beyond everything", both("\xff\x00", "\xff\xff"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want, rwant []string
			for _, k := range tc.want {
				want = append(want, k+"=v"+k)
			}
			for i := len(want) - 1; i >= 0; i-- {
				rwant = append(rwant, want[i])
			}
			require.Equal(t, want, nilIfEmpty(strs(collect(t, s.Scan(tc.r, false)))), "ascending")
			require.Equal(t, rwant, nilIfEmpty(strs(collect(t, s.Scan(tc.r, true)))), "descending")
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// A break ends the loop and releases the iterator; the scan that follows,
// and Close, are not disturbed by it.
func TestScanBreak(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "break", Options{})
	for i := range 100 {
		require.NoError(t, s.Put(fmt.Appendf(nil, "k%03d", i), b("v")))
	}
	for range 1000 {
		for _, err := range s.Scan(state.KeyRange{}, false) {
			require.NoError(t, err)
			break
		}
	}
	require.Zero(t, s.gate.Load()&gateCount, "every loop released the gate")
	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		for range s.Scan(state.KeyRange{}, true) {
			panic("boom")
		}
	}()
	require.Zero(t, s.gate.Load()&gateCount, "a panicking loop released the gate")
	require.Len(t, collect(t, s.Scan(state.KeyRange{}, false)), 100)
	require.NoError(t, s.Close())
}

// The store copies what it is given and what it hands out.
func TestDoesNotAlias(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "alias", Options{})
	key, val := b("key"), b("value")
	require.NoError(t, s.Put(key, val))
	key[0], val[0] = 'X', 'X'
	got, _, err := s.Get(b("key"))
	require.NoError(t, err)
	require.Equal(t, b("value"), got)
	got[0] = 'Y'
	again, _, err := s.Get(b("key"))
	require.NoError(t, err)
	require.Equal(t, b("value"), again)

	require.NoError(t, s.PutAll([]bkv{{Key: b("p"), Value: b("pv")}, {Key: b("q"), Value: b("")}}))
	var kept []bkv
	for kv, err := range s.Scan(state.KeyRange{}, false) {
		require.NoError(t, err)
		kept = append(kept, kv)
		kv.Key[0] = 'W'
		kv.Key = append(kv.Key, "appended"...) // must not run into the value or the next entry
		kv.Value = append(kv.Value, "appended"...)
	}
	require.Equal(t, []string{"Wey=value", "W=pv", "W="}, strs(kept), "yielded slices are the caller's to change")
	require.Equal(t, []string{"key=value", "p=pv", "q="}, strs(collect(t, s.Scan(state.KeyRange{}, false))))

	// The bounds are copied when Scan is called.
	lower := b("p")
	seq := s.Scan(state.KeyRange{Lower: lower, HasLower: true}, false)
	lower[0] = 'a'
	require.Equal(t, []string{"p=pv", "q="}, strs(collect(t, seq)))
}

// Data written and closed is there when the store is opened again on the
// same directory, as after a restart of the app.
func TestReopenSeesPersistedData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sup := KeyValueStore("persist", Options{Compression: CompressionZstd})

	s := sup.Get()
	require.NoError(t, s.Init(state.StoreContext{Dir: dir}))
	require.NoError(t, s.Put(b("a"), b("1")))
	require.NoError(t, s.PutAll([]bkv{{Key: b("b"), Value: b("2")}, {Key: b("c"), Value: b("3")}}))
	require.NoError(t, s.Write([]bkv{{Key: b("a")}, {Key: b("d"), Value: []byte{}}}))
	_, _, err := s.Delete(b("c"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	for round := range 3 {
		s = sup.Get()
		require.NoError(t, s.Init(state.StoreContext{Dir: dir}), "round %d", round)
		require.Equal(t, []string{"b=2", "d="}, strs(collect(t, s.Scan(state.KeyRange{}, false))), "round %d", round)
		require.NoError(t, s.Close())
	}
}

// With WriteAheadLog, a crash of the process loses no write that returned,
// even without Flush or Close: the test runs a child process that writes,
// reports, and is then killed with SIGKILL; the parent opens the store and
// finds every write. (Without the log, the default, the runtime restores
// such a store from its changelog instead.)
func TestProcessCrashLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ROCKSDB_CRASH_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	written := false
	for sc.Scan() {
		if sc.Text() == "written" {
			written = true
			break
		}
	}
	require.True(t, written, "the child never reported its writes")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	s := openBytes(t, dir, "crash", Options{WriteAheadLog: true})
	kvs := collect(t, s.Scan(state.KeyRange{}, false))
	require.Len(t, kvs, 1000)
	for i, kv := range kvs {
		require.Equal(t, fmt.Sprintf("k%04d=v%d", i, i), string(kv.Key)+"="+string(kv.Value))
	}
}

// TestMain lets the test binary be the child of
// TestProcessCrashLosesNothing: with ROCKSDB_CRASH_CHILD_DIR set it writes
// to a store there and waits to be killed instead of running the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ROCKSDB_CRASH_CHILD_DIR"); dir != "" {
		crashChild(dir)
	}
	os.Exit(m.Run())
}

// crashChild writes 1000 entries (500 Puts and a 500-entry Write), reports
// "written" on stdout and waits to be killed; it never Flushes or Closes.
func crashChild(dir string) {
	fail := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
	}
	s := KeyValueStore("crash", Options{WriteAheadLog: true}).Get()
	fail(s.Init(state.StoreContext{Dir: dir}))
	for i := range 500 {
		fail(s.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d", i)))
	}
	var batch []bkv
	for i := 500; i < 1000; i++ {
		batch = append(batch, bkv{Key: fmt.Appendf(nil, "k%04d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	batch = append(batch, bkv{Key: b("zz")}, bkv{Key: b("zz"), Value: b("x")}, bkv{Key: b("zz")})
	fail(s.Write(batch))
	fmt.Println("written")
	select {} // wait to be killed
}

// Flush syncs the log only when something was written since the last one.
func TestFlush(t *testing.T) {
	t.Parallel()
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprint("SyncWrites=", sync), func(t *testing.T) {
			t.Parallel()
			s := openBytes(t, t.TempDir(), "flush", Options{WriteAheadLog: true, SyncWrites: sync})
			require.False(t, s.dirty.Load())
			require.NoError(t, s.Put(b("k"), b("v")))
			require.True(t, s.dirty.Load())
			require.NoError(t, s.Flush())
			require.Equal(t, sync, s.dirty.Load(), "with SyncWrites there is nothing to sync")
			require.NoError(t, s.Flush())
			v, _, err := s.Get(b("k"))
			require.NoError(t, err)
			require.Equal(t, b("v"), v)
		})
	}
}

func TestApproximateNumEntries(t *testing.T) {
	t.Parallel()
	s := openBytes(t, t.TempDir(), "count", Options{})
	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.Zero(t, n)
	var batch []bkv
	for i := range 1000 {
		batch = append(batch, bkv{Key: fmt.Appendf(nil, "k%d", i), Value: b("v")})
	}
	require.NoError(t, s.PutAll(batch))
	n, err = s.ApproximateNumEntries()
	require.NoError(t, err)
	require.EqualValues(t, 1000, n, "exact after distinct puts")
}

// nativeIterator reads grocksdb's unexported iterator handle through unsafe;
// this test fails if an upgrade of grocksdb moves it.
func TestGrocksdbLayout(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[grocksdb.Iterator]()
	require.Equal(t, 1, typ.NumField(), "grocksdb.Iterator changed: review nativeIterator in fill.go")
	f := typ.Field(0)
	require.Equal(t, "c", f.Name)
	require.Zero(t, f.Offset)
	require.Equal(t, reflect.Pointer, f.Type.Kind())
	require.Equal(t, "_Ctype_struct_rocksdb_iterator_t", f.Type.Elem().Name())
}
