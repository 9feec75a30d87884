package state

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type bkv = KeyValue[[]byte, []byte]

func TestInMemorySupplier(t *testing.T) {
	t.Parallel()
	sup := InMemoryKeyValueStore("Counts")
	require.Equal(t, "Counts", sup.Name())

	a, b := sup.Get(), sup.Get()
	require.Equal(t, "Counts", a.Name())
	require.False(t, a.Persistent())
	require.NoError(t, a.Init(StoreContext{}))
	require.NoError(t, b.Init(StoreContext{}))
	require.NoError(t, a.Put([]byte("k"), []byte("v")))
	_, ok, err := b.Get([]byte("k"))
	require.NoError(t, err)
	require.False(t, ok, "each Get must return a fresh store")
}

func TestMemoryStoreLifecycle(t *testing.T) {
	t.Parallel()
	ops := map[string]func(s KeyValueBytesStore) error{
		"Get":    func(s KeyValueBytesStore) error { _, _, err := s.Get([]byte("k")); return err },
		"Put":    func(s KeyValueBytesStore) error { return s.Put([]byte("k"), []byte("v")) },
		"PutAll": func(s KeyValueBytesStore) error { return s.PutAll([]bkv{{Key: []byte("k")}}) },
		"PutAll empty": func(s KeyValueBytesStore) error {
			return s.PutAll(nil)
		},
		"Delete": func(s KeyValueBytesStore) error { _, _, err := s.Delete([]byte("k")); return err },
		"Flush":  func(s KeyValueBytesStore) error { return s.Flush() },
		"ApproximateNumEntries": func(s KeyValueBytesStore) error {
			_, err := s.ApproximateNumEntries()
			return err
		},
		"Scan": func(s KeyValueBytesStore) error {
			kvs, errs, err := drain(s.Scan(KeyRange{}, false))
			if len(kvs) != 0 || errs != 1 {
				panic("a failing scan must yield exactly one error and nothing else")
			}
			return err
		},
	}

	t.Run("before Init", func(t *testing.T) {
		t.Parallel()
		s := InMemoryKeyValueStore("s").Get()
		for name, op := range ops {
			require.ErrorIs(t, op(s), ErrStoreNotInitialized, name)
		}
		require.Equal(t, "s", s.Name())
	})

	t.Run("Init twice", func(t *testing.T) {
		t.Parallel()
		s := openBytesStore(t)
		err := s.Init(StoreContext{})
		require.ErrorContains(t, err, `state: store "bytes": Init called twice`)
	})

	t.Run("after Close", func(t *testing.T) {
		t.Parallel()
		s := InMemoryKeyValueStore("s").Get()
		require.NoError(t, s.Init(StoreContext{}))
		require.NoError(t, s.Put([]byte("k"), []byte("v")))
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close is idempotent")
		for name, op := range ops {
			require.ErrorIs(t, op(s), ErrStoreClosed, name)
		}
		require.ErrorIs(t, s.Init(StoreContext{}), ErrStoreClosed)
		require.Equal(t, "s", s.Name())
		require.False(t, s.Persistent())
		require.EqualError(t, ErrStoreClosed, "state: store closed")
	})

	t.Run("Close before Init", func(t *testing.T) {
		t.Parallel()
		s := InMemoryKeyValueStore("s").Get()
		require.NoError(t, s.Close())
		require.ErrorIs(t, s.Put([]byte("k"), nil), ErrStoreClosed)
	})
}

func TestMemoryStoreCRUD(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)

	v, ok, err := s.Get([]byte("missing"))
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, v)

	require.NoError(t, s.Put([]byte("a"), []byte("1")))
	require.NoError(t, s.Put([]byte("a"), []byte("2")))
	require.NoError(t, s.Put([]byte(""), []byte("empty key")))
	require.NoError(t, s.Put([]byte("nil value"), nil))

	v, ok, err = s.Get([]byte("a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []byte("2"), v)

	v, ok, err = s.Get(nil)
	require.NoError(t, err)
	require.True(t, ok, "nil and empty keys are the same key")
	require.Equal(t, []byte("empty key"), v)

	v, ok, err = s.Get([]byte("nil value"))
	require.NoError(t, err)
	require.True(t, ok, "a nil value is stored, not a deletion")
	require.Empty(t, v)

	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)

	v, ok, err = s.Delete([]byte("a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []byte("2"), v)

	v, ok, err = s.Delete([]byte("a"))
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, v)

	require.NoError(t, s.PutAll([]bkv{
		{Key: []byte("x"), Value: []byte("first")},
		{Key: []byte("y"), Value: []byte("y")},
		{Key: []byte("x"), Value: []byte("last")},
	}))
	v, _, err = s.Get([]byte("x"))
	require.NoError(t, err)
	require.Equal(t, []byte("last"), v, "a key listed twice in PutAll ends with its last value")

	require.NoError(t, s.PutAll(nil))
	require.NoError(t, s.Flush())
	n, err = s.ApproximateNumEntries()
	require.NoError(t, err)
	require.EqualValues(t, 4, n)
}

// The store copies what it is given and what it hands out: callers own their
// slices, and neither side can change the other's bytes.
func TestMemoryStoreDoesNotAlias(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)

	key, val := []byte("key"), []byte("value")
	require.NoError(t, s.Put(key, val))
	key[0], val[0] = 'X', 'X'
	got, ok, err := s.Get([]byte("key"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []byte("value"), got)

	got[0] = 'Y'
	again, _, err := s.Get([]byte("key"))
	require.NoError(t, err)
	require.Equal(t, []byte("value"), again)

	entries := []bkv{{Key: []byte("p"), Value: []byte("pv")}}
	require.NoError(t, s.PutAll(entries))
	entries[0].Key[0], entries[0].Value[0] = 'Z', 'Z'
	got, ok, err = s.Get([]byte("p"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []byte("pv"), got)

	for kv, err := range s.Scan(KeyRange{}, false) {
		require.NoError(t, err)
		kv.Key[0], kv.Value[0] = 'W', 'W'
		kv.Key = append(kv.Key, "appended"...) // must not run into the value
	}
	kvs := collect(t, s.Scan(KeyRange{}, false))
	require.Equal(t, []bkv{
		{Key: []byte("key"), Value: []byte("value")},
		{Key: []byte("p"), Value: []byte("pv")},
	}, kvs)

	// The value Delete returns may still be read by a snapshot opened
	// before the delete: it must be a copy.
	for kv, err := range s.Scan(KeyRange{}, false) {
		require.NoError(t, err)
		old, ok, err := s.Delete([]byte("p"))
		require.NoError(t, err)
		if kv.Key[0] == 'k' {
			require.True(t, ok)
			old[0] = 'D'
			continue
		}
		require.Equal(t, []byte("pv"), kv.Value)
	}

	// Bounds are copied when Scan is called.
	lower := []byte("a")
	seq := s.Scan(KeyRange{Lower: lower, HasLower: true}, false)
	lower[0] = 'z'
	require.Len(t, collect(t, seq), 1)
}

func TestMemoryStoreScan(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)
	all := []string{"", "a", "b", "ba", "c", "d\xff", "e"}
	for _, k := range all {
		require.NoError(t, s.Put([]byte(k), []byte("v"+k)))
	}
	b := func(s string) []byte { return []byte(s) }

	tests := []struct {
		name string
		r    KeyRange
		want []string
	}{
		{"open both sides", KeyRange{}, all},
		{"lower only", KeyRange{Lower: b("b"), HasLower: true}, []string{"b", "ba", "c", "d\xff", "e"}},
		{"upper only", KeyRange{Upper: b("b"), HasUpper: true}, []string{"", "a", "b"}},
		{"both inclusive", KeyRange{Lower: b("a"), Upper: b("c"), HasLower: true, HasUpper: true}, []string{"a", "b", "ba", "c"}},
		{"bounds not stored", KeyRange{Lower: b("aa"), Upper: b("bb"), HasLower: true, HasUpper: true}, []string{"b", "ba"}},
		{"single key", KeyRange{Lower: b("c"), Upper: b("c"), HasLower: true, HasUpper: true}, []string{"c"}},
		{"lower above upper", KeyRange{Lower: b("c"), Upper: b("a"), HasLower: true, HasUpper: true}, nil},
		{"empty lower is the first key", KeyRange{Lower: b(""), HasLower: true}, all},
		{"empty upper", KeyRange{Upper: b(""), HasUpper: true}, []string{""}},
		{"above every key", KeyRange{Lower: b("f"), HasLower: true}, nil},
		{"0xff upper", KeyRange{Lower: b("d"), Upper: b("d\xff"), HasLower: true, HasUpper: true}, []string{"d\xff"}},
		{"bounds ignored without Has", KeyRange{Lower: b("z"), Upper: b("0")}, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []bkv
			for _, k := range tc.want {
				want = append(want, bkv{Key: b(k), Value: b("v" + k)})
			}
			got := collect(t, s.Scan(tc.r, false))
			require.Equal(t, keyStrings(want), keyStrings(got))
			require.Equal(t, normalize(want), normalize(got))

			got = collect(t, s.Scan(tc.r, true))
			require.Equal(t, keyStrings(reversed(want)), keyStrings(got), "reverse")
		})
	}
}

func TestMemoryStoreScanEmpty(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)
	require.Empty(t, collect(t, s.Scan(KeyRange{}, false)))
	require.Empty(t, collect(t, s.Scan(KeyRange{}, true)))
	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestMemoryStoreScanBreakThenKeepUsing(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		require.NoError(t, s.Put([]byte(k), []byte(k)))
	}
	for _, reverse := range []bool{false, true} {
		var seen []string
		for kv, err := range s.Scan(KeyRange{}, reverse) {
			require.NoError(t, err)
			seen = append(seen, string(kv.Key))
			if len(seen) == 2 {
				break
			}
		}
		if reverse {
			require.Equal(t, []string{"d", "c"}, seen)
		} else {
			require.Equal(t, []string{"a", "b"}, seen)
		}
	}
	require.NoError(t, s.Put([]byte("e"), []byte("e")))
	_, _, err := s.Delete([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c", "d", "e"}, keyStrings(collect(t, s.Scan(KeyRange{}, false))))
}

// Close while a range loop is running: the loop finishes on its snapshot, and
// a loop started afterwards yields ErrStoreClosed.
func TestMemoryStoreCloseDuringScan(t *testing.T) {
	t.Parallel()
	s := InMemoryKeyValueStore("s").Get()
	require.NoError(t, s.Init(StoreContext{}))
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, s.Put([]byte(k), []byte(k)))
	}
	var seen []string
	for kv, err := range s.Scan(KeyRange{}, false) {
		require.NoError(t, err)
		seen = append(seen, string(kv.Key))
		require.NoError(t, s.Close())
	}
	require.Equal(t, []string{"a", "b", "c"}, seen)
	_, errs, err := drain(s.Scan(KeyRange{}, false))
	require.Equal(t, 1, errs)
	require.ErrorIs(t, err, ErrStoreClosed)
}

func keyStrings(kvs []bkv) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key)
	}
	return out
}

// normalize turns empty slices into nil, so that require.Equal compares
// contents only.
func normalize(kvs []bkv) []bkv {
	out := make([]bkv, len(kvs))
	for i, kv := range kvs {
		out[i] = kv
		if len(kv.Key) == 0 {
			out[i].Key = nil
		}
		if len(kv.Value) == 0 {
			out[i].Value = nil
		}
	}
	return out
}
