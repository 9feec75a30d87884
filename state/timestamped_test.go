package state

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The stored layout of a ValueAndTimestamp is what other tools (and a
// future changelog reader) depend on, so it is pinned by a golden file.
func TestTimestampedSerdeGolden(t *testing.T) {
	t.Parallel()
	s := newTimestampedSerde(serde.String())
	cases := []struct {
		name string
		v    ValueAndTimestamp[string]
	}{
		{"epoch empty value", ValueAndTimestamp[string]{Timestamp: time.UnixMilli(0)}},
		{"2024-05-01T12:00:00.123Z hello", ValueAndTimestamp[string]{Value: "hello", Timestamp: time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)}},
		{"1969-12-31T23:59:59.999Z before epoch", ValueAndTimestamp[string]{Value: "x", Timestamp: time.UnixMilli(-1)}},
	}
	var out strings.Builder
	for _, c := range cases {
		b, err := s.Serialize(c.v)
		require.NoError(t, err)
		fmt.Fprintf(&out, "%s: %s\n", c.name, hex.EncodeToString(b))
	}
	golden := filepath.Join("testdata", "timestamped_serde.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestTimestampedSerdeGolden -update to create it")
	require.Equal(t, string(want), out.String())
}

func TestTimestampedSerdeRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTimestampedSerde(serde.Int64())
	require.Equal(t, "timestamped[int64]", s.Name())
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero time stays zero", time.Time{}, time.Time{}},
		{"epoch", time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{"milliseconds kept", time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)},
		{"sub-millisecond truncated", time.Date(2024, 1, 2, 3, 4, 5, 678_999_999, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)},
		{"before epoch floors", time.Unix(-1, 500_500_000), time.UnixMilli(-500).UTC()},
		{"other zone comes back in UTC", time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC)},
		{"monotonic reading dropped", time.UnixMilli(1700000000000).Add(0), time.UnixMilli(1700000000000).UTC()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := s.Serialize(ValueAndTimestamp[int64]{Value: -42, Timestamp: tc.in})
			require.NoError(t, err)
			require.Len(t, b, 16)
			got, err := s.Deserialize(b)
			require.NoError(t, err)
			require.Equal(t, int64(-42), got.Value)
			require.True(t, tc.want.Equal(got.Timestamp), "got %v want %v", got.Timestamp, tc.want)
			require.Equal(t, tc.want, got.Timestamp, "== comparable: same location, no monotonic reading")
		})
	}

	t.Run("now", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		b, err := s.Serialize(ValueAndTimestamp[int64]{Value: 1, Timestamp: now})
		require.NoError(t, err)
		got, err := s.Deserialize(b)
		require.NoError(t, err)
		require.Equal(t, now.UnixMilli(), got.Timestamp.UnixMilli())
		require.Equal(t, now.Truncate(time.Millisecond).UTC().Round(0), got.Timestamp)
	})
}

func TestTimestampedSerdeMalformed(t *testing.T) {
	t.Parallel()
	s := newTimestampedSerde(serde.Int64())
	for n := range 8 {
		_, err := s.Deserialize(make([]byte, n))
		require.ErrorIs(t, err, serde.ErrMalformed, "%d bytes", n)
		var se *serde.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "timestamped[int64]", se.Serde)
		require.Equal(t, "deserialize", se.Op)
		require.ErrorContains(t, err, fmt.Sprintf("want at least 8 bytes (the timestamp) before the value, got %d", n))
	}

	// A bad value after a good timestamp is the inner serde's error.
	_, err := s.Deserialize(make([]byte, 8+3))
	require.ErrorIs(t, err, serde.ErrMalformed)
	var se *serde.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, "int64", se.Serde)

	// So is a failure to serialize.
	f := newTimestampedSerde[string](&faultySerde{failOn: "bad"})
	_, err = f.Serialize(ValueAndTimestamp[string]{Value: "bad"})
	require.ErrorIs(t, err, errFault)
}

// Decoding arbitrary bytes never panics, and what decodes re-encodes to the
// same bytes.
func FuzzTimestampedSerdeDeserialize(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(make([]byte, 8))
	f.Add([]byte("\x00\x00\x01\x8f\x33\x6f\x5a\x7bhello"))
	f.Add(bytes.Repeat([]byte{0xff}, 12))
	s := newTimestampedSerde(serde.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := s.Deserialize(data)
		if err != nil {
			require.Less(t, len(data), 8)
			require.ErrorIs(t, err, serde.ErrMalformed)
			return
		}
		b, err := s.Serialize(v)
		require.NoError(t, err)
		require.Equal(t, data, b)
	})
}

func TestTimestampedStore(t *testing.T) {
	t.Parallel()
	b := NewTimestampedKeyValueStoreBuilder(InMemoryKeyValueStore("LastSeen"), serde.String(), serde.Int64())
	st, ok := b.Build().(TimestampedKeyValueStore[string, int64])
	require.True(t, ok)
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0"}))
	t.Cleanup(func() { _ = st.Close() })

	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, k := range []string{"b", "a", "c"} {
		require.NoError(t, st.Put(k, ValueAndTimestamp[int64]{Value: int64(i), Timestamp: t0.Add(time.Duration(i) * time.Second)}))
	}
	v, ok, err := st.Get("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ValueAndTimestamp[int64]{Value: 1, Timestamp: t0.Add(time.Second)}, v)

	kvs := collect(t, st.Range(ptr("a"), ptr("b")))
	require.Equal(t, []KeyValue[string, ValueAndTimestamp[int64]]{
		{Key: "a", Value: ValueAndTimestamp[int64]{Value: 1, Timestamp: t0.Add(time.Second)}},
		{Key: "b", Value: ValueAndTimestamp[int64]{Value: 0, Timestamp: t0}},
	}, kvs)

	// Bytes written without a timestamp are a clear error.
	inner := st.(*keyValueStore[string, ValueAndTimestamp[int64]]).inner
	require.NoError(t, inner.Put([]byte("old"), []byte{1}))
	_, _, err = st.Get("old")
	require.ErrorIs(t, err, serde.ErrMalformed)
	require.ErrorContains(t, err, `state: store "LastSeen": get: deserialize value: serde timestamped[int64]: deserialize`)
}
