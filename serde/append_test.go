package serde_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// appendsLikeSerialize checks that Append, with and without a non-empty
// prefix, produces exactly Serialize's bytes after the prefix.
func appendsLikeSerialize[T any](t *testing.T, s serde.Serde[T], implements bool, values ...T) {
	t.Helper()
	_, ok := s.(serde.Appender[T])
	require.Equal(t, implements, ok, "%s implements Appender", s.Name())
	for _, v := range values {
		want, err := s.Serialize(v)
		require.NoError(t, err)
		got, err := serde.Append(s, []byte("prefix"), v)
		require.NoError(t, err)
		require.Equal(t, append([]byte("prefix"), want...), got, "%s %v", s.Name(), v)
	}
}

func TestAppendMatchesSerialize(t *testing.T) {
	t.Parallel()
	appendsLikeSerialize(t, serde.String(), true, "", "a", "héllo")
	appendsLikeSerialize(t, serde.Bytes(), false, []byte{}, []byte{0, 255})
	appendsLikeSerialize(t, serde.Int64(), true, math.MinInt64, -1, 0, 1, math.MaxInt64)
	appendsLikeSerialize(t, serde.Int32(), true, math.MinInt32, -1, 0, math.MaxInt32)
	appendsLikeSerialize(t, serde.Float64(), true, math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 2.5, math.NaN())
	appendsLikeSerialize(t, serde.Bool(), true, false, true)
	type point struct{ X, Y int }
	appendsLikeSerialize(t, serde.JSON[point](), false, point{1, 2})
}

func TestAppendKeepsDstOnError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := serde.New("fails", func(int) ([]byte, error) { return nil, boom }, func([]byte) (int, error) { return 0, nil })
	got, err := serde.Append(s, []byte("keep"), 1)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []byte("keep"), got)
}
