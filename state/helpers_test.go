package state

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// openStore returns an initialized typed store named name over a fresh
// in-memory backend, and that backend, closed when the test ends.
func openStore[K, V any](t testing.TB, name string, ks serde.Serde[K], vs serde.Serde[V]) (*keyValueStore[K, V], KeyValueBytesStore) {
	t.Helper()
	inner := InMemoryKeyValueStore(name).Get()
	s := newKeyValueStore(inner, ks, vs)
	require.NoError(t, s.Init(StoreContext{ApplicationID: "app", TaskID: "0_0"}))
	t.Cleanup(func() { _ = s.Close() })
	return s, inner
}

// openBytesStore returns an initialized in-memory bytes store, closed when
// the test ends.
func openBytesStore(t testing.TB) KeyValueBytesStore {
	t.Helper()
	s := InMemoryKeyValueStore("bytes").Get()
	require.NoError(t, s.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// drain ranges over seq to the end. It may run on any goroutine: it reports
// rather than fails. errs counts the errors yielded; err is the last one.
func drain[K, V any](seq iter.Seq2[KeyValue[K, V], error]) (kvs []KeyValue[K, V], errs int, err error) {
	for kv, e := range seq {
		if e != nil {
			errs++
			err = e
			continue // keep ranging: the iterator must stop by itself
		}
		if errs > 0 {
			return kvs, errs, fmt.Errorf("entry %v yielded after an error", kv)
		}
		kvs = append(kvs, kv)
	}
	return kvs, errs, err
}

// collect ranges over seq on the test goroutine and requires no error.
func collect[K, V any](t testing.TB, seq iter.Seq2[KeyValue[K, V], error]) []KeyValue[K, V] {
	t.Helper()
	kvs, errs, err := drain(seq)
	require.NoError(t, err)
	require.Zero(t, errs)
	return kvs
}

func keysOf[K, V any](kvs []KeyValue[K, V]) []K {
	out := make([]K, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func ptr[T any](v T) *T { return &v }

// kvStrings renders byte entries as "key=value", as kvModel.scan does.
func kvStrings(kvs []KeyValue[[]byte, []byte]) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key) + "=" + string(kv.Value)
	}
	return out
}

// kvModel is the reference the model tests of bytes stores check against:
// a plain map from key to value.
type kvModel map[string]string

// requireAnswer requires a store's answer for key k, from a Get or the old
// value a Delete returned, to be the model's.
func (m kvModel) requireAnswer(t testing.TB, op string, k, v []byte, ok bool) {
	t.Helper()
	want, wantOK := m[string(k)]
	require.Equal(t, wantOK, ok, "%s %s", op, k)
	require.Equal(t, want, string(v), "%s %s", op, k)
}

// randomBatch returns 1 to n puts and deletions (nil values) of keys from
// key, as a restore writes, and applies them to m. op tells the values of
// one batch from another's.
func (m kvModel) randomBatch(rng *rand.Rand, key func() []byte, n, op int) []KeyValue[[]byte, []byte] {
	var batch []KeyValue[[]byte, []byte]
	for j := range 1 + rng.IntN(n) {
		k := key()
		if rng.IntN(3) == 0 {
			batch = append(batch, KeyValue[[]byte, []byte]{Key: k})
			delete(m, string(k))
		} else {
			v := fmt.Appendf(nil, "w%d.%d", op, j)
			batch = append(batch, KeyValue[[]byte, []byte]{Key: k, Value: v})
			m[string(k)] = string(v)
		}
	}
	return batch
}

// scan renders the entries of m within kr as kvStrings renders a scan's, in
// key order or, if reverse, the reverse.
func (m kvModel) scan(kr KeyRange, reverse bool) []string {
	out := []string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if (kr.HasLower && k < string(kr.Lower)) || (kr.HasUpper && k > string(kr.Upper)) {
			continue
		}
		out = append(out, k+"="+m[k])
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// errFault is the cause of every faultySerde failure.
var errFault = errors.New("injected fault")

// faultySerde is a string serde that fails to serialize the string failOn
// and to deserialize the bytes of failOn, counting how often it did.
type faultySerde struct {
	failOn string
	hits   atomic.Int64
}

func (s *faultySerde) Name() string { return "faulty" }

func (s *faultySerde) Serialize(v string) ([]byte, error) {
	if v == s.failOn {
		s.hits.Add(1)
		return nil, &serde.Error{Serde: s.Name(), Op: "serialize", Err: errFault}
	}
	return []byte(v), nil
}

func (s *faultySerde) Deserialize(data []byte) (string, error) {
	if string(data) == s.failOn {
		s.hits.Add(1)
		return "", &serde.Error{Serde: s.Name(), Op: "deserialize", Err: errFault}
	}
	return string(data), nil
}
