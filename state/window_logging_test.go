package state

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// rawLog records the changelog records a store sends, as the runtime's
// task would produce them.
type rawLog struct {
	store string
	recs  []KeyValue[[]byte, []byte]
}

func (l *rawLog) LogChange(store string, key, value []byte) error {
	l.store = store
	l.recs = append(l.recs, KeyValue[[]byte, []byte]{Key: bytes.Clone(key), Value: bytes.Clone(value)})
	return nil
}

func openLoggedWindow(t *testing.T, sup WindowBytesStoreSupplier, log ChangelogWriter) WindowStore[string, string] {
	t.Helper()
	st := NewWindowStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openLoggedSession(t *testing.T, sup SessionBytesStoreSupplier, log ChangelogWriter) SessionStore[string, string] {
	t.Helper()
	st := NewSessionStoreBuilder(sup, serde.String(), serde.String()).BuildStore()
	require.NoError(t, st.Init(StoreContext{TaskID: "0_0", Changelog: log}))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func rec(key []byte, value string) KeyValue[[]byte, []byte] {
	return KeyValue[[]byte, []byte]{Key: key, Value: []byte(value)}
}

func tombstone(key []byte) KeyValue[[]byte, []byte] { return KeyValue[[]byte, []byte]{Key: key} }

func TestWindowLoggingSendsEncodedKeys(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	st := openLoggedWindow(t, InMemoryWindowStore("w", 10*time.Minute, time.Minute, false), log)
	require.NoError(t, st.Put("k", "1", at(0)))
	require.NoError(t, st.Put("k", "", at(60*sec)))
	require.NoError(t, st.Delete("k", at(0)))
	require.NoError(t, st.Delete("k", at(0)))           // nothing left: no tombstone
	require.NoError(t, st.Put("k", "2", at(20*60*sec))) // expires the first two
	require.NoError(t, st.Put("late", "x", at(60*sec))) // dropped: not logged
	require.NoError(t, st.Delete("k", at(60*sec)))      // expired: not logged
	require.Equal(t, "w", log.store)
	require.Equal(t, []KeyValue[[]byte, []byte]{
		rec(encodeWindowKey(nil, []byte("k"), 0, 0), "1"),
		rec(encodeWindowKey(nil, []byte("k"), 60*sec, 0), ""),
		tombstone(encodeWindowKey(nil, []byte("k"), 0, 0)),
		rec(encodeWindowKey(nil, []byte("k"), 20*60*sec, 0), "2"),
	}, log.recs)
	require.NotNil(t, log.recs[1].Value, "an empty value is not a tombstone")
}

func TestWindowLoggingWithDuplicates(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	st := openLoggedWindow(t, InMemoryWindowStore("w", 10*time.Minute, time.Minute, true), log)
	require.NoError(t, st.Put("k", "a", at(0)))
	require.NoError(t, st.Put("k", "b", at(0)))
	require.NoError(t, st.Delete("k", at(0)))
	require.Equal(t, []KeyValue[[]byte, []byte]{
		rec(encodeWindowKey(nil, []byte("k"), 0, 1), "a"),
		rec(encodeWindowKey(nil, []byte("k"), 0, 2), "b"),
		tombstone(encodeWindowKey(nil, []byte("k"), 0, 1)),
		tombstone(encodeWindowKey(nil, []byte("k"), 0, 2)),
	}, log.recs)
}

func TestSessionLoggingSendsEncodedKeys(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	st := openLoggedSession(t, InMemorySessionStore("s", time.Hour), log)
	require.NoError(t, st.Put(session("k", 1, 2), "v"))
	require.NoError(t, st.Remove(session("k", 1, 2)))
	require.NoError(t, st.Remove(session("k", 1, 2)))
	require.Equal(t, []KeyValue[[]byte, []byte]{
		rec(encodeSessionKey(nil, []byte("k"), 2*sec, sec), "v"),
		tombstone(encodeSessionKey(nil, []byte("k"), 2*sec, sec)),
	}, log.recs)
}

func TestWindowLoggingDisabledLogsNothing(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	st := NewWindowStoreBuilder(InMemoryWindowStore("w", time.Hour, time.Minute, false), serde.String(), serde.String()).WithLoggingDisabled().BuildStore()
	require.NoError(t, st.Init(StoreContext{Changelog: log}))
	defer st.Close()
	require.NoError(t, st.Put("k", "v", at(0)))
	require.NoError(t, st.Delete("k", at(0)))
	require.Empty(t, log.recs)
}

// Replaying a store's changelog into a fresh store, below its logging
// layer, logs nothing and rebuilds the same contents, retention included.
func TestWindowRestoreReproducesContents(t *testing.T) {
	t.Parallel()
	for _, dups := range []bool{false, true} {
		t.Run(fmt.Sprintf("dups=%v", dups), func(t *testing.T) {
			t.Parallel()
			log := &rawLog{}
			sup := InMemoryWindowStore("w", 5*time.Minute, time.Minute, dups)
			src := openLoggedWindow(t, sup, log)
			for i := range int64(40) {
				k := []string{"a", "b", "ab", ""}[i%4]
				require.NoError(t, src.Put(k, string(rune('a'+i%26)), at(i*20*sec)))
				if i%7 == 0 {
					require.NoError(t, src.Delete(k, at((i-4)*20*sec)))
				}
			}
			want := windows(collect(t, src.All()))
			require.NotEmpty(t, want)

			relog := &rawLog{}
			dst := openLoggedWindow(t, sup, relog)
			r := dst.(restorer)
			// Two batches, as the runtime restores in polls.
			half := len(log.recs) / 2
			require.NoError(t, r.Restore(log.recs[:half]))
			require.NoError(t, r.Restore(log.recs[half:]))
			require.Empty(t, relog.recs, "restoring does not write the changelog")
			require.Equal(t, want, windows(collect(t, dst.All())))
			require.Zero(t, dst.(DroppedRecordsCounter).DroppedRecords())

			// The restored store carries on as the original: same stream
			// time, and (with duplicates) sequence numbers after the restored.
			require.NoError(t, src.Put("a", "next", at(40*20*sec)))
			require.NoError(t, dst.Put("a", "next", at(40*20*sec)))
			require.Equal(t, windows(collect(t, src.All())), windows(collect(t, dst.All())))
			require.Equal(t, log.recs[len(log.recs)-1], relog.recs[0])

			require.NoError(t, r.Wipe())
			require.Empty(t, collect(t, dst.All()))
			require.NoError(t, dst.Put("a", "old again", at(0)), "wiping forgets the stream time")
			require.Len(t, collect(t, dst.All()), 1)
		})
	}
}

func TestSessionRestoreReproducesContents(t *testing.T) {
	t.Parallel()
	log := &rawLog{}
	sup := InMemorySessionStore("s", 3*time.Minute)
	src := openLoggedSession(t, sup, log)
	for i := range int64(50) {
		k := []string{"x", "y", "xy"}[i%3]
		require.NoError(t, src.Put(session(k, i*10, i*10+5), "v"))
		if i%4 == 0 {
			require.NoError(t, src.Remove(session(k, (i-3)*10, (i-3)*10+5)))
		}
	}
	want := windows(collect(t, src.FetchRange(nil, nil)))
	require.NotEmpty(t, want)
	dst := openLoggedSession(t, sup, nil)
	require.NoError(t, dst.(restorer).Restore(log.recs))
	require.Equal(t, want, windows(collect(t, dst.FetchRange(nil, nil))))
}

// A changelog record whose key is not a window key fails the restore with
// ErrMalformedKey, naming the store; nothing of the batch is written.
func TestWindowRestoreRejectsMalformedKeys(t *testing.T) {
	t.Parallel()
	st := openLoggedWindow(t, InMemoryWindowStore("w", time.Hour, time.Minute, false), nil)
	err := st.(restorer).Restore([]KeyValue[[]byte, []byte]{
		rec(encodeWindowKey(nil, []byte("k"), 0, 0), "v"),
		rec([]byte("not a window key"[:3]), "v"),
	})
	require.ErrorIs(t, err, ErrMalformedKey)
	require.ErrorContains(t, err, `window store "w": restore`)
	require.Empty(t, collect(t, st.All()))

	ss := openLoggedSession(t, InMemorySessionStore("s", time.Hour), nil)
	err = ss.(restorer).Restore([]KeyValue[[]byte, []byte]{rec(encodeSessionKey(nil, []byte("k"), 1, 2), "v")})
	require.ErrorIs(t, err, ErrMalformedKey)
}
