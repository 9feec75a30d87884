package rocksdb

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

type sikv = state.KeyValue[string, int64]

// The typed layer of package state works on RocksDB as it does in memory.
func TestTypedStringInt64(t *testing.T) {
	t.Parallel()
	builder := state.NewKeyValueStoreBuilder(KeyValueStore("s", Options{}), serde.String(), serde.Int64())
	require.Equal(t, "s", builder.Name())
	s := builder.Build().(state.KeyValueStore[string, int64])
	require.True(t, s.Persistent())
	require.NoError(t, s.Init(state.StoreContext{Dir: t.TempDir()}))
	t.Cleanup(func() { _ = s.Close() })

	for _, w := range []string{"kafka", "streams", "go", "kafka", "state", "go", "kafka"} {
		n, _, err := s.Get(w)
		require.NoError(t, err)
		require.NoError(t, s.Put(w, n+1))
	}
	v, ok, err := s.Get("kafka")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, v)

	old, ok, err := s.PutIfAbsent("go", 100)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 2, old)
	_, ok, err = s.PutIfAbsent("rocks", 7)
	require.NoError(t, err)
	require.False(t, ok)

	require.Equal(t, []sikv{{Key: "go", Value: 2}, {Key: "kafka", Value: 3}, {Key: "rocks", Value: 7}, {Key: "state", Value: 1}},
		collect(t, s.Range(ptr("go"), ptr("state"))))
	require.Equal(t, []sikv{{Key: "streams", Value: 1}, {Key: "state", Value: 1}, {Key: "rocks", Value: 7}},
		collect(t, s.ReverseRange(ptr("r"), nil)))
	require.Equal(t, []sikv{{Key: "state", Value: 1}, {Key: "streams", Value: 1}},
		collect(t, s.PrefixScan("st")))

	old, ok, err = s.Delete("kafka")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, old)
	require.Len(t, collect(t, s.All()), 4)
	require.NoError(t, s.Flush())

	require.NoError(t, s.Close())
	_, _, err = s.Get("go")
	require.ErrorIs(t, err, state.ErrStoreClosed)
	require.ErrorContains(t, err, `state: store "s": get: state: store closed`)
}

// Int64 keys, negatives included, come back in numeric order.
func TestTypedInt64KeysInNumericOrder(t *testing.T) {
	t.Parallel()
	s := openTyped(t, "numbers", serde.Int64(), serde.String())
	keys := []int64{5, -1, 0, math.MinInt64, 1 << 40, -300, math.MaxInt64, 42, -(1 << 40)}
	var entries []state.KeyValue[int64, string]
	for _, k := range keys {
		entries = append(entries, state.KeyValue[int64, string]{Key: k, Value: "v"})
	}
	require.NoError(t, s.PutAll(entries))

	var got []int64
	for kv, err := range s.All() {
		require.NoError(t, err)
		got = append(got, kv.Key)
	}
	require.Equal(t, []int64{math.MinInt64, -(1 << 40), -300, -1, 0, 5, 42, 1 << 40, math.MaxInt64}, got)

	got = got[:0]
	for kv, err := range s.Range(ptr[int64](-300), ptr[int64](42)) {
		require.NoError(t, err)
		got = append(got, kv.Key)
	}
	require.Equal(t, []int64{-300, -1, 0, 5, 42}, got)

	got = got[:0]
	for kv, err := range s.ReverseRange(nil, ptr[int64](0)) {
		require.NoError(t, err)
		got = append(got, kv.Key)
	}
	require.Equal(t, []int64{0, -1, -300, -(1 << 40), math.MinInt64}, got)

	require.Empty(t, collect(t, s.Range(ptr[int64](10), ptr[int64](-10))), "from > to yields nothing")
}

// Timestamped stores keep their timestamps in milliseconds on RocksDB too,
// and survive a reopen.
func TestTypedTimestampedReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	builder := state.NewTimestampedKeyValueStoreBuilder(KeyValueStore("seen", Options{}), serde.String(), serde.String())
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)

	s := builder.BuildStore()
	require.NoError(t, s.Init(state.StoreContext{Dir: dir}))
	require.NoError(t, s.Put("sensor-1", state.ValueAndTimestamp[string]{Value: "online", Timestamp: at}))
	require.NoError(t, s.Close())

	s = builder.BuildStore()
	require.NoError(t, s.Init(state.StoreContext{Dir: dir}))
	t.Cleanup(func() { _ = s.Close() })
	v, ok, err := s.Get("sensor-1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "online", v.Value)
	require.Equal(t, at.Truncate(time.Millisecond), v.Timestamp)
}

// A value that fails to deserialize is reported by the iterator, once.
func TestTypedDeserializeErrorFromScan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	raw := openBytes(t, dir, "mixed", Options{})
	k, _ := serde.Int64().Serialize(1)
	require.NoError(t, raw.Put(k, []byte("not 8 bytes")))
	typed := state.NewKeyValueStoreBuilder(constSupplier{raw}, serde.Int64(), serde.Int64()).BuildStore()
	kvs, errs, err := drain(typed.All())
	require.Empty(t, kvs)
	require.Equal(t, 1, errs)
	var se *serde.Error
	require.True(t, errors.As(err, &se), "%v", err)
}
