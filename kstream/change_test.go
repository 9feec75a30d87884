package kstream

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

func TestChangeSerdeRoundTrip(t *testing.T) {
	cs := changeSerde[string]{serde.String()}
	for _, c := range []Change[string]{
		{}, {Old: "a", HasOld: true}, {New: "b", HasNew: true}, {Old: "", HasOld: true, New: "", HasNew: true},
		{Old: "old value", HasOld: true, New: "new", HasNew: true},
	} {
		b, err := cs.Serialize(c)
		require.NoError(t, err)
		got, err := cs.Deserialize(b)
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	for _, bad := range [][]byte{nil, {4}, {1}, {1, 5, 'a'}, {0, 'x'}} {
		_, err := cs.Deserialize(bad)
		require.True(t, errors.Is(err, serde.ErrMalformed), "%v: %v", bad, err)
		require.ErrorContains(t, err, "change[string]")
	}
}

func FuzzChangeSerde(f *testing.F) {
	cs := changeSerde[string]{serde.String()}
	f.Add([]byte{3, 1, 'a', 'b'})
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := cs.Deserialize(b)
		if err != nil {
			return
		}
		again, err := cs.Serialize(c)
		require.NoError(t, err)
		c2, err := cs.Deserialize(again)
		require.NoError(t, err)
		require.Equal(t, c, c2)
	})
}

func TestMaterializedConfiguresTheBuilder(t *testing.T) {
	m := Materialized[string, int64]{Caching: true, LogConfig: map[string]string{"min.insync.replicas": "2"}}
	b := m.keyValueStore("s", serde.String(), serde.Int64())
	require.True(t, b.CachingEnabled())
	require.True(t, b.LoggingEnabled())
	require.Equal(t, "2", b.LogConfig()["min.insync.replicas"])
	b = Materialized[string, int64]{LoggingDisabled: true}.keyValueStore("s", serde.String(), serde.Int64())
	require.False(t, b.CachingEnabled())
	require.False(t, b.LoggingEnabled())
}
