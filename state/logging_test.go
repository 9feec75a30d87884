package state

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// changes records what a logged store sends to its changelog.
type changes struct{ got []string }

func (c *changes) LogChange(store string, key, value []byte) error {
	if value == nil {
		c.got = append(c.got, store+":"+string(key)+"=<tombstone>")
	} else {
		c.got = append(c.got, store+":"+string(key)+"="+string(value))
	}
	return nil
}

func openLogged(t *testing.T, b StoreBuilder, log ChangelogWriter) Store {
	t.Helper()
	st := b.Build()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestLoggingSendsEveryChange(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openLogged(t, NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String()), log).(KeyValueStore[string, string])
	require.NoError(t, st.Put("a", "1"))
	require.NoError(t, st.Put("e", "")) // empty, not a tombstone
	_, existed, err := st.PutIfAbsent("a", "ignored")
	require.NoError(t, err)
	require.True(t, existed)
	_, _, err = st.PutIfAbsent("b", "2")
	require.NoError(t, err)
	require.NoError(t, st.PutAll([]KeyValue[string, string]{{Key: "c", Value: "3"}, {Key: "a", Value: "4"}}))
	_, _, err = st.Delete("b")
	require.NoError(t, err)
	_, _, err = st.Delete("never-there") // nothing to log
	require.NoError(t, err)
	require.Equal(t, []string{"s:a=1", "s:e=", "s:b=2", "s:c=3", "s:a=4", "s:b=<tombstone>"}, log.got)
}

// Restoring writes below the logging layer: replaying a changelog must not
// write it again.
func TestRestoreDoesNotLogAndWipeEmpties(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openLogged(t, NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String()), log)
	r, ok := st.(restorer)
	require.True(t, ok, "built stores are Restorers")
	require.NoError(t, r.Restore([]KeyValue[[]byte, []byte]{
		{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a")}, // a deleted again
	}))
	require.Empty(t, log.got)
	kv := st.(KeyValueStore[string, string])
	require.Equal(t, []KeyValue[string, string]{{Key: "b", Value: "2"}}, collect(t, kv.All()))
	require.NoError(t, r.Wipe())
	require.Empty(t, collect(t, kv.All()))
	n, err := kv.ApproximateNumEntries()
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, log.got)
}

func TestLoggingDisabledLogsNothing(t *testing.T) {
	t.Parallel()
	log := &changes{}
	st := openLogged(t, NewKeyValueStoreBuilder(InMemoryKeyValueStore("s"), serde.String(), serde.String()).WithLoggingDisabled(), log).(KeyValueStore[string, string])
	require.NoError(t, st.Put("a", "1"))
	require.Empty(t, log.got)
}

// Bug: the memory store returned nil for a stored empty value, which Write
// (and a changelog) reads as a deletion: reading a value and writing it
// back deleted it.
func TestEmptyValueReadsBackNonNil(t *testing.T) {
	t.Parallel()
	s := openBytesStore(t)
	require.NoError(t, s.Put([]byte("k"), []byte{}))
	v, ok, err := s.Get([]byte("k"))
	require.NoError(t, err)
	require.True(t, ok)
	require.NotNil(t, v)
	require.NoError(t, s.Write([]KeyValue[[]byte, []byte]{{Key: []byte("k"), Value: v}}))
	_, ok, err = s.Get([]byte("k"))
	require.NoError(t, err)
	require.True(t, ok, "writing back what was read keeps the key")
	for kv, err := range s.Scan(KeyRange{}, false) {
		require.NoError(t, err)
		require.NotNil(t, kv.Value)
	}
}
