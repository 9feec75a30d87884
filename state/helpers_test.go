package state

import (
	"errors"
	"fmt"
	"iter"
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
