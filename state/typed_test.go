package state

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

type skv = KeyValue[string, string]

func TestTypedGetPutDelete(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Counts", serde.String(), serde.Int64())

	v, ok, err := s.Get("a")
	require.NoError(t, err)
	require.False(t, ok)
	require.Zero(t, v)

	require.NoError(t, s.Put("a", 1))
	require.NoError(t, s.Put("a", -2))
	v, ok, err = s.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, -2, v)

	old, existed, err := s.PutIfAbsent("a", 10)
	require.NoError(t, err)
	require.True(t, existed)
	require.EqualValues(t, -2, old)

	old, existed, err = s.PutIfAbsent("b", 10)
	require.NoError(t, err)
	require.False(t, existed)
	require.Zero(t, old)
	v, _, err = s.Get("b")
	require.NoError(t, err)
	require.EqualValues(t, 10, v)

	require.NoError(t, s.PutAll([]KeyValue[string, int64]{{Key: "c", Value: 3}, {Key: "d", Value: 4}}))
	require.NoError(t, s.PutAll(nil))
	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.EqualValues(t, 4, n)

	v, ok, err = s.Delete("c")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, v)
	v, ok, err = s.Delete("c")
	require.NoError(t, err)
	require.False(t, ok)
	require.Zero(t, v)

	require.Equal(t, []KeyValue[string, int64]{{"a", -2}, {"b", 10}, {"d", 4}}, collect(t, s.All()))
	require.NoError(t, s.Flush())
	require.Equal(t, "Counts", s.Name())
	require.False(t, s.Persistent())
}

func TestTypedRange(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Letters", serde.String(), serde.String())
	all := []string{"a", "b", "c", "d", "e"}
	for _, k := range all {
		require.NoError(t, s.Put(k, "v"+k))
	}

	tests := []struct {
		name     string
		from, to *string
		want     []string
	}{
		{"open both sides", nil, nil, all},
		{"closed", ptr("b"), ptr("d"), []string{"b", "c", "d"}},
		{"open upper", ptr("b"), nil, []string{"b", "c", "d", "e"}},
		{"open lower", nil, ptr("c"), []string{"a", "b", "c"}},
		{"from > to", ptr("d"), ptr("b"), nil},
		{"from == to", ptr("c"), ptr("c"), []string{"c"}},
		{"bounds not stored", ptr("bb"), ptr("cc"), []string{"c"}},
		{"above every key", ptr("f"), nil, nil},
		{"below every key", nil, ptr("0"), nil},
		{"empty lower bound", ptr(""), ptr("a"), []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []skv
			for _, k := range tc.want {
				want = append(want, skv{Key: k, Value: "v" + k})
			}
			require.Equal(t, want, collect(t, s.Range(tc.from, tc.to)))
			require.Equal(t, reversed(want), collect(t, s.ReverseRange(tc.from, tc.to)))
		})
	}

	t.Run("All and ReverseAll", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, all, keysOf(collect(t, s.All())))
		require.Equal(t, reversed(all), keysOf(collect(t, s.ReverseAll())))
	})
}

func TestTypedEmptyStore(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Empty", serde.String(), serde.String())
	require.Empty(t, collect(t, s.All()))
	require.Empty(t, collect(t, s.ReverseAll()))
	require.Empty(t, collect(t, s.Range(nil, nil)))
	require.Empty(t, collect(t, s.ReverseRange(ptr("a"), ptr("z"))))
	require.Empty(t, collect(t, s.PrefixScan("a")))
	n, err := s.ApproximateNumEntries()
	require.NoError(t, err)
	require.Zero(t, n)
}

// serde.Int64 flips the sign bit, so negative keys sort before positive ones
// in byte order too.
func TestTypedInt64KeysInNumericOrder(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Numbers", serde.Int64(), serde.String())
	keys := []int64{7, -1, 0, math.MaxInt64, -300, 1, math.MinInt64, 256, -256}
	for _, k := range keys {
		require.NoError(t, s.Put(k, "x"))
	}
	require.Equal(t,
		[]int64{math.MinInt64, -300, -256, -1, 0, 1, 7, 256, math.MaxInt64},
		keysOf(collect(t, s.All())))
	require.Equal(t, []int64{-256, -1, 0, 1, 7}, keysOf(collect(t, s.Range(ptr[int64](-256), ptr[int64](200)))))
	require.Equal(t, []int64{7, 1, 0, -1}, keysOf(collect(t, s.ReverseRange(ptr[int64](-2), ptr[int64](7)))))
	require.Equal(t, []int64{math.MinInt64, -300}, keysOf(collect(t, s.Range(nil, ptr[int64](-257)))))
	require.Empty(t, collect(t, s.Range(ptr[int64](1), ptr[int64](-1))))
}

func TestPrefixSuccessor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix []byte
		want   []byte
		ok     bool
	}{
		{nil, nil, false},
		{[]byte{}, nil, false},
		{[]byte{0xff}, nil, false},
		{[]byte{0xff, 0xff}, nil, false},
		{[]byte{0x00}, []byte{0x01}, true},
		{[]byte("ab"), []byte("ac"), true},
		{[]byte{0x01, 0xff}, []byte{0x02}, true},
		{[]byte{0x01, 0xfe, 0xff, 0xff}, []byte{0x01, 0xff}, true},
	}
	for _, tc := range tests {
		before := string(tc.prefix)
		got, ok := prefixSuccessor(tc.prefix)
		require.Equal(t, tc.ok, ok, "%x", tc.prefix)
		require.Equal(t, tc.want, got, "%x", tc.prefix)
		require.Equal(t, before, string(tc.prefix), "the prefix must not change")
	}
}

func TestTypedPrefixScan(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Prefixes", serde.Bytes(), serde.String())
	stored := [][]byte{
		{}, {0x00}, {0x01}, {0x01, 0x02}, {0x01, 0x02, 0x00}, {0x01, 0x02, 0xff}, {0x01, 0x03},
		{0x01, 0xff}, {0x01, 0xff, 0x00}, {0x01, 0xff, 0xff, 0x05}, {0x02}, {0x02, 0x00},
		{0xfe, 0xff}, {0xff}, {0xff, 0xfe}, {0xff, 0xff}, {0xff, 0xff, 0x01}, {0xff, 0xff, 0xff},
	}
	for _, k := range stored {
		require.NoError(t, s.Put(k, string(k)))
	}
	tests := []struct {
		name   string
		prefix []byte
		want   [][]byte
	}{
		{"empty prefix is every key", []byte{}, stored},
		{"nil prefix is every key", nil, stored},
		{"excludes the successor", []byte{0x01, 0x02}, [][]byte{{0x01, 0x02}, {0x01, 0x02, 0x00}, {0x01, 0x02, 0xff}}},
		{"trailing 0xff", []byte{0x01, 0xff}, [][]byte{{0x01, 0xff}, {0x01, 0xff, 0x00}, {0x01, 0xff, 0xff, 0x05}}},
		{"one byte", []byte{0x02}, [][]byte{{0x02}, {0x02, 0x00}}},
		{"all 0xff", []byte{0xff, 0xff}, [][]byte{{0xff, 0xff}, {0xff, 0xff, 0x01}, {0xff, 0xff, 0xff}}},
		{"single 0xff", []byte{0xff}, [][]byte{{0xff}, {0xff, 0xfe}, {0xff, 0xff}, {0xff, 0xff, 0x01}, {0xff, 0xff, 0xff}}},
		{"0xfe then 0xff", []byte{0xfe}, [][]byte{{0xfe, 0xff}}},
		{"no match", []byte{0x03}, nil},
		{"longer than any key", []byte{0x01, 0x02, 0x00, 0x00}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := keysOf(collect(t, s.PrefixScan(tc.prefix)))
			require.Len(t, got, len(tc.want))
			for i := range got {
				require.Equal(t, string(tc.want[i]), string(got[i]), "entry %d", i)
			}
		})
	}

	t.Run("string keys", func(t *testing.T) {
		t.Parallel()
		s, _ := openStore(t, "Strings", serde.String(), serde.Int64())
		for i, k := range []string{"a", "ab", "abc", "abd", "ac", "b"} {
			require.NoError(t, s.Put(k, int64(i)))
		}
		require.Equal(t, []string{"ab", "abc", "abd"}, keysOf(collect(t, s.PrefixScan("ab"))))
	})
}

func TestTypedBreakThenKeepUsing(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Break", serde.String(), serde.String())
	for _, k := range []string{"a", "b", "c", "d"} {
		require.NoError(t, s.Put(k, k))
	}
	iters := map[string]func() []string{
		"All":          func() []string { return firstTwo(t, s.All()) },
		"ReverseAll":   func() []string { return firstTwo(t, s.ReverseAll()) },
		"Range":        func() []string { return firstTwo(t, s.Range(ptr("b"), nil)) },
		"ReverseRange": func() []string { return firstTwo(t, s.ReverseRange(nil, ptr("c"))) },
		"PrefixScan":   func() []string { return firstTwo(t, s.PrefixScan("")) },
	}
	want := map[string][]string{
		"All": {"a", "b"}, "ReverseAll": {"d", "c"}, "Range": {"b", "c"},
		"ReverseRange": {"c", "b"}, "PrefixScan": {"a", "b"},
	}
	for name, it := range iters {
		require.Equal(t, want[name], it(), name)
		require.NoError(t, s.Put("e"+name, "x"))
		_, _, err := s.Delete("e" + name)
		require.NoError(t, err)
	}
	require.NoError(t, s.Put("e", "e"))
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, keysOf(collect(t, s.All())))
}

func firstTwo(t *testing.T, seq func(func(skv, error) bool)) []string {
	t.Helper()
	var out []string
	for kv, err := range seq {
		require.NoError(t, err)
		out = append(out, kv.Key)
		if len(out) == 2 {
			break
		}
	}
	return out
}

// Bytes in the backend that the value serde cannot read: every read reports
// it, naming the store, once, without hiding the serde's *serde.Error.
func TestTypedMalformedStoredBytes(t *testing.T) {
	t.Parallel()
	s, inner := openStore(t, "Counts", serde.String(), serde.Int64())
	require.NoError(t, s.Put("a", 1))
	require.NoError(t, inner.Put([]byte("b"), []byte{1, 2, 3})) // not 8 bytes
	require.NoError(t, s.Put("c", 3))

	requireMalformed := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, serde.ErrMalformed)
		var se *serde.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "int64", se.Serde)
		require.Equal(t, "deserialize", se.Op)
		require.ErrorContains(t, err, `state: store "Counts": `)
	}

	_, ok, err := s.Get("b")
	require.False(t, ok)
	requireMalformed(t, err)

	_, existed, err := s.PutIfAbsent("b", 9)
	require.False(t, existed)
	requireMalformed(t, err)

	kvs, errs, err := drain(s.All())
	require.Equal(t, []KeyValue[string, int64]{{"a", 1}}, kvs, "entries after the bad one are not yielded")
	require.Equal(t, 1, errs)
	requireMalformed(t, err)
	require.ErrorContains(t, err, "all: deserialize value of key 62")

	kvs, errs, err = drain(s.ReverseAll())
	require.Equal(t, []KeyValue[string, int64]{{"c", 3}}, kvs)
	require.Equal(t, 1, errs)
	requireMalformed(t, err)

	kvs, errs, err = drain(s.Range(ptr("c"), nil))
	require.Equal(t, []KeyValue[string, int64]{{"c", 3}}, kvs, "the bad entry outside the range does not matter")
	require.Zero(t, errs)
	require.NoError(t, err)

	// A consumer that stops at the error stops the iteration cleanly.
	for _, err := range s.PrefixScan("b") {
		requireMalformed(t, err)
		break
	}

	// Delete removes the bad entry anyway, so it can be cleaned up.
	_, _, err = s.Delete("b")
	requireMalformed(t, err)
	require.ErrorContains(t, err, "the key was removed")
	require.Equal(t, []KeyValue[string, int64]{{"a", 1}, {"c", 3}}, collect(t, s.All()))

	t.Run("malformed key", func(t *testing.T) {
		t.Parallel()
		s, inner := openStore(t, "ByID", serde.Int64(), serde.String())
		require.NoError(t, s.Put(1, "one"))
		require.NoError(t, inner.Put([]byte{0xff}, []byte("short key")))
		kvs, errs, err := drain(s.All())
		require.Equal(t, []KeyValue[int64, string]{{1, "one"}}, kvs)
		require.Equal(t, 1, errs)
		require.ErrorIs(t, err, serde.ErrMalformed)
		require.ErrorContains(t, err, `state: store "ByID": all: deserialize key`)
	})
}

// A serde that fails on one value, in every direction.
func TestTypedSerdeFailures(t *testing.T) {
	t.Parallel()
	keys := &faultySerde{failOn: "badkey"}
	vals := &faultySerde{failOn: "badvalue"}
	s, inner := openStore(t, "Faulty", keys, vals)
	require.NoError(t, s.Put("a", "a"))
	require.NoError(t, inner.Put([]byte("b"), []byte("badvalue")))
	require.NoError(t, inner.Put([]byte("badkey"), []byte("x")))

	requireFault := func(t *testing.T, err error, op string) {
		t.Helper()
		require.ErrorIs(t, err, errFault)
		var se *serde.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "faulty", se.Serde)
		require.ErrorContains(t, err, `state: store "Faulty": `+op)
	}

	requireFault(t, s.Put("badkey", "v"), "put: serialize key")
	requireFault(t, s.Put("k", "badvalue"), "put: serialize value")
	_, _, err := s.Get("badkey")
	requireFault(t, err, "get: serialize key")
	_, _, err = s.Get("b")
	requireFault(t, err, "get: deserialize value")
	_, _, err = s.Delete("badkey")
	requireFault(t, err, "delete: serialize key")
	_, _, err = s.PutIfAbsent("badkey", "v")
	requireFault(t, err, "put if absent: serialize key")
	_, _, err = s.PutIfAbsent("new", "badvalue")
	requireFault(t, err, "put if absent: serialize value")

	// PutAll serializes everything first: one bad entry writes nothing.
	err = s.PutAll([]skv{{"p1", "v"}, {"p2", "badvalue"}})
	requireFault(t, err, "put all: serialize value of entry 1")
	err = s.PutAll([]skv{{"p1", "v"}, {"badkey", "v"}})
	requireFault(t, err, "put all: serialize key")
	_, ok, err := s.Get("p1")
	require.NoError(t, err)
	require.False(t, ok)

	seqs := map[string]func(func(skv, error) bool){
		"range: serialize lower bound":         s.Range(ptr("badkey"), nil),
		"range: serialize upper bound":         s.Range(nil, ptr("badkey")),
		"reverse range: serialize lower bound": s.ReverseRange(ptr("badkey"), ptr("z")),
		"prefix scan: serialize prefix":        s.PrefixScan("badkey"),
		"all: deserialize value of key 62":     s.All(),
		"reverse all: deserialize key":         s.ReverseAll(),
	}
	for op, seq := range seqs {
		_, errs, err := drain(seq)
		require.Equal(t, 1, errs, op)
		requireFault(t, err, op)
	}
	require.Positive(t, keys.hits.Load())
	require.Positive(t, vals.hits.Load())
}

func TestTypedClosedAndUninitialized(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		want   error
		before func(s *keyValueStore[string, string])
	}{
		{"not initialized", ErrStoreNotInitialized, func(*keyValueStore[string, string]) {}},
		{"closed", ErrStoreClosed, func(s *keyValueStore[string, string]) {
			_ = s.Init(StoreContext{})
			_ = s.Put("a", "a")
			_ = s.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newKeyValueStore(InMemoryKeyValueStore("Gone").Get(), serde.String(), serde.String())
			tc.before(s)
			requireIs := func(err error, what string) {
				t.Helper()
				require.ErrorIs(t, err, tc.want, what)
				require.ErrorContains(t, err, `state: store "Gone": `, what)
			}
			_, _, err := s.Get("a")
			requireIs(err, "Get")
			requireIs(s.Put("a", "b"), "Put")
			_, _, err = s.PutIfAbsent("a", "b")
			requireIs(err, "PutIfAbsent")
			requireIs(s.PutAll([]skv{{"a", "b"}}), "PutAll")
			_, _, err = s.Delete("a")
			requireIs(err, "Delete")
			_, err = s.ApproximateNumEntries()
			requireIs(err, "ApproximateNumEntries")
			requireIs(s.Flush(), "Flush")
			for name, seq := range map[string]func(func(skv, error) bool){
				"All": s.All(), "ReverseAll": s.ReverseAll(), "Range": s.Range(nil, nil),
				"ReverseRange": s.ReverseRange(ptr("a"), ptr("b")), "PrefixScan": s.PrefixScan("a"),
			} {
				kvs, errs, err := drain(seq)
				require.Empty(t, kvs, name)
				require.Equal(t, 1, errs, name)
				requireIs(err, name)
			}
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
		})
	}
}

// errors.Is and errors.As reach through the store's wrapping.
func TestTypedErrorsUnwrap(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, "Wrap", serde.String(), serde.String())
	require.NoError(t, s.Close())
	err := s.Put("a", "b")
	require.True(t, errors.Is(err, ErrStoreClosed))
	require.EqualError(t, err, `state: store "Wrap": put: state: store closed`)
	require.ErrorIs(t, s.Init(StoreContext{}), ErrStoreClosed)
}

// plainBytesStore hides the in-memory store's sharedReader, as a wrapping
// layer would, so the typed store takes its copying path.
type plainBytesStore struct{ KeyValueBytesStore }

// The typed store reads the in-memory backend without copies (sharedReader)
// and any other backend through the copying KeyValueBytesStore methods: both
// paths must give the same answers.
func TestTypedSharedAndCopyingPathsAgree(t *testing.T) {
	t.Parallel()
	shared := newKeyValueStore(InMemoryKeyValueStore("S").Get(), serde.String(), serde.Int64())
	plain := newKeyValueStore[string, int64](plainBytesStore{InMemoryKeyValueStore("S").Get()}, serde.String(), serde.Int64())
	require.NotNil(t, shared.shared)
	require.Nil(t, plain.shared)

	for _, s := range []*keyValueStore[string, int64]{shared, plain} {
		require.NoError(t, s.Init(StoreContext{}))
		t.Cleanup(func() { _ = s.Close() })
		for i, k := range []string{"b", "a", "ab", "abc", "c", "d"} {
			require.NoError(t, s.Put(k, int64(i)-2))
		}
		_, _, err := s.Delete("d")
		require.NoError(t, err)
		require.NoError(t, s.inner.Put([]byte("bad"), []byte{1}))
	}

	type result struct {
		kvs  []KeyValue[string, int64]
		errs int
		err  string
	}
	run := func(seq func(func(KeyValue[string, int64], error) bool)) result {
		kvs, errs, err := drain(seq)
		r := result{kvs: kvs, errs: errs}
		if err != nil {
			r.err = err.Error()
		}
		return r
	}
	views := map[string]func(s *keyValueStore[string, int64]) any{
		"All":          func(s *keyValueStore[string, int64]) any { return run(s.All()) },
		"ReverseAll":   func(s *keyValueStore[string, int64]) any { return run(s.ReverseAll()) },
		"Range":        func(s *keyValueStore[string, int64]) any { return run(s.Range(ptr("a"), ptr("b"))) },
		"ReverseRange": func(s *keyValueStore[string, int64]) any { return run(s.ReverseRange(ptr("ab"), nil)) },
		"PrefixScan":   func(s *keyValueStore[string, int64]) any { return run(s.PrefixScan("ab")) },
		"Get": func(s *keyValueStore[string, int64]) any {
			var out []any
			for _, k := range []string{"a", "c", "d", "bad"} {
				v, ok, err := s.Get(k)
				out = append(out, v, ok, fmt.Sprint(err))
			}
			return out
		},
		"PutIfAbsent": func(s *keyValueStore[string, int64]) any {
			v, ok, err := s.PutIfAbsent("c", 100)
			return []any{v, ok, err}
		},
	}
	for name, view := range views {
		require.Equal(t, view(shared), view(plain), name)
	}
	r := run(shared.All())
	require.Equal(t, 1, r.errs, "the bad entry is reported on both paths")
	require.Equal(t, []string{"a", "ab", "abc", "b"}, keysOf(r.kvs))
}
