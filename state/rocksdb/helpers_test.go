package rocksdb

import (
	"fmt"
	"iter"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

type bkv = state.KeyValue[[]byte, []byte]

// openBytes returns an initialized bytes store named name in dir, closed when
// the test ends.
func openBytes(t testing.TB, dir, name string, opts Options) *store {
	t.Helper()
	s := KeyValueStore(name, opts).Get().(*store)
	require.NoError(t, s.Init(state.StoreContext{ApplicationID: "app", TaskID: "0_0", Dir: dir}))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openTyped returns an initialized typed store over a RocksDB store named
// name in a fresh directory, built the way the runtime builds it, and closed
// when the test ends.
func openTyped[K, V any](t testing.TB, name string, ks serde.Serde[K], vs serde.Serde[V]) state.KeyValueStore[K, V] {
	t.Helper()
	s := state.NewKeyValueStoreBuilder(KeyValueStore(name, Options{}), ks, vs).BuildStore()
	require.NoError(t, s.Init(state.StoreContext{ApplicationID: "app", TaskID: "0_0", Dir: t.TempDir()}))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// drain ranges over seq to the end. It may run on any goroutine: it reports
// rather than fails. errs counts the errors yielded; err is the last one.
func drain[K, V any](seq iter.Seq2[state.KeyValue[K, V], error]) (kvs []state.KeyValue[K, V], errs int, err error) {
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
func collect[K, V any](t testing.TB, seq iter.Seq2[state.KeyValue[K, V], error]) []state.KeyValue[K, V] {
	t.Helper()
	kvs, errs, err := drain(seq)
	require.NoError(t, err)
	require.Zero(t, errs)
	return kvs
}

// strs renders byte entries as "key=value" for readable comparisons.
func strs(kvs []bkv) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key) + "=" + string(kv.Value)
	}
	return out
}

func b(s string) []byte { return []byte(s) }

func ptr[T any](v T) *T { return &v }
