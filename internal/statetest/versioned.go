// Package statetest holds checks that the state package's tests and its
// backends' tests (state/rocksdb) share: one model, run over every
// backend.
package statetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// version is one version in the model.
type version struct {
	ms      int64
	value   string
	deleted bool
}

// VersionedModel runs random puts (in and out of timestamp order, some
// older than the history), deletes, and reads (latest and as of random
// times, ValidTo included) against a versioned store on sup and against a
// plain model of every version ever written, and requires the same
// answers. Now and then it closes the store and opens a fresh one on the
// same dir and restores it from the changelog the first one wrote, which
// must answer the same, stream time included. dir is the state directory
// for a persistent sup (reopen then finds what it wrote) or "" for one in
// memory.
func VersionedModel(t *testing.T, sup state.KeyValueBytesStoreSupplier, dir string, seed uint64) {
	t.Helper()
	const history = 1000 // ms
	rng := rand.New(rand.NewPCG(seed, seed))
	b := state.NewVersionedKeyValueStoreBuilder(sup, history*time.Millisecond, serde.String(), serde.String())
	log := &Changelog{}
	open := func() state.VersionedKeyValueStore[string, string] {
		st := b.BuildStore()
		require.NoError(t, st.Init(state.StoreContext{TaskID: "0_0", Dir: dir, Changelog: log}))
		return st
	}
	st := open()
	t.Cleanup(func() { _ = st.Close() })

	model := map[string][]version{} // sorted by ms
	streamTime := int64(-1 << 62)
	now := int64(10_000)
	expired := func(ms int64) bool { return ms < streamTime-history }
	asOf := func(k string, ms int64) (version, int64, bool) {
		vs := model[k]
		i, _ := slices.BinarySearchFunc(vs, ms+1, func(v version, ms int64) int { return int(v.ms - ms) }) // first after ms
		if i == 0 {
			return version{}, 0, false
		}
		validTo := int64(0)
		if i < len(vs) {
			validTo = vs[i].ms
		}
		return vs[i-1], validTo, !vs[i-1].deleted
	}
	// next is the timestamp of k's first version after ms, 0 if none.
	next := func(k string, ms int64) int64 {
		vs := model[k]
		i, _ := slices.BinarySearchFunc(vs, ms+1, func(v version, ms int64) int { return int(v.ms - ms) })
		if i < len(vs) {
			return vs[i].ms
		}
		return 0
	}
	write := func(k string, ms int64, v version) {
		vs := model[k]
		i, found := slices.BinarySearchFunc(vs, ms, func(v version, ms int64) int { return int(v.ms - ms) })
		if found {
			vs[i] = v
		} else {
			vs = slices.Insert(vs, i, v)
		}
		model[k] = vs
		streamTime = max(streamTime, ms)
	}
	check := func(k string, ms int64, got state.VersionedRecord[string], ok bool, what string) {
		t.Helper()
		want, validTo, wantOK := asOf(k, ms)
		if expired(ms) {
			wantOK = false
		}
		require.Equal(t, wantOK, ok, "%s of %q as of %d", what, k, ms)
		if !ok {
			return
		}
		require.Equal(t, want.value, got.Value, "%s of %q as of %d", what, k, ms)
		require.Equal(t, want.ms, got.Timestamp.UnixMilli(), "%s of %q as of %d: timestamp", what, k, ms)
		if validTo == 0 {
			require.True(t, got.ValidTo.IsZero(), "%s of %q as of %d: the latest has no ValidTo, got %v", what, k, ms, got.ValidTo)
		} else {
			require.Equal(t, validTo, got.ValidTo.UnixMilli(), "%s of %q as of %d: ValidTo", what, k, ms)
		}
	}
	for i := range 4000 {
		k := fmt.Sprintf("k%d", rng.IntN(40))
		if rng.IntN(3) == 0 {
			now += int64(rng.IntN(100))
		}
		ms := now - int64(rng.IntN(1300)) // sometimes older than the history
		switch op := rng.IntN(10); {
		case op < 5:
			v := fmt.Sprintf("v%d", i)
			validTo, stored, err := st.Put(k, v, time.UnixMilli(ms))
			require.NoError(t, err)
			require.Equal(t, !expired(ms), stored, "put of %q at %d, stream time %d", k, ms, streamTime)
			if want := next(k, ms); !stored || want == 0 {
				require.True(t, validTo.IsZero(), "put of %q at %d is the latest (or not stored), got valid to %v", k, ms, validTo)
			} else {
				require.Equal(t, want, validTo.UnixMilli(), "put of %q at %d: valid until the next version", k, ms)
			}
			if stored {
				write(k, ms, version{ms: ms, value: v})
			}
		case op < 6:
			old, ok, err := st.Delete(k, time.UnixMilli(ms))
			require.NoError(t, err)
			if expired(ms) {
				require.False(t, ok)
				continue
			}
			want, _, wantOK := asOf(k, ms)
			require.Equal(t, wantOK, ok, "delete of %q at %d", k, ms)
			if ok {
				require.Equal(t, want.value, old.Value)
				require.Equal(t, ms, old.ValidTo.UnixMilli(), "the deleted version is valid until the deletion")
			}
			write(k, ms, version{ms: ms, deleted: true})
		case op < 9:
			at := now - int64(rng.IntN(1500))
			got, ok, err := st.GetAsOf(k, time.UnixMilli(at))
			require.NoError(t, err)
			check(k, at, got, ok, "GetAsOf")
		default:
			got, ok, err := st.Get(k)
			require.NoError(t, err)
			vs := model[k]
			wantOK := len(vs) > 0 && !vs[len(vs)-1].deleted
			require.Equal(t, wantOK, ok, "Get of %q", k)
			if ok {
				require.Equal(t, vs[len(vs)-1].value, got.Value)
				require.True(t, got.ValidTo.IsZero())
			}
		}
		if rng.IntN(50) == 0 {
			require.NoError(t, st.Flush())
		}
		if rng.IntN(800) == 0 {
			// A fresh store restored from the changelog answers the same.
			require.NoError(t, st.Flush())
			require.NoError(t, st.Close())
			st = open()
			r, ok := st.(interface {
				Restore([]state.KeyValue[[]byte, []byte]) error
				Wipe() error
			})
			require.True(t, ok, "the versioned store restores")
			require.NoError(t, r.Wipe())
			recs := log.Records()
			if rng.IntN(2) == 0 {
				// Without the stream time entry (a crash before the
				// commit wrote it), the versions tell it.
				recs = slices.DeleteFunc(recs, func(r state.KeyValue[[]byte, []byte]) bool { return len(r.Key) == 1 })
			}
			require.NoError(t, r.Restore(recs))
		}
	}
	// Everything, as of every time that is still in the history.
	for k := range model {
		for at := streamTime - history; at <= streamTime+1; at += 7 {
			got, ok, err := st.GetAsOf(k, time.UnixMilli(at))
			require.NoError(t, err)
			check(k, at, got, ok, "final GetAsOf")
		}
	}
}

// Changelog is a state.ChangelogWriter that keeps the latest record of
// each key, as a compacted changelog topic does.
type Changelog struct {
	keys []string
	last map[string][]byte
}

func (c *Changelog) LogChange(_ string, key, value []byte) error {
	if c.last == nil {
		c.last = map[string][]byte{}
	}
	if _, ok := c.last[string(key)]; !ok {
		c.keys = append(c.keys, string(key))
	}
	c.last[string(key)] = slices.Clone(value)
	return nil
}

// Records returns the changelog as a compacted topic holds it: one record
// per key, its latest, in the order keys first appeared.
func (c *Changelog) Records() []state.KeyValue[[]byte, []byte] {
	out := make([]state.KeyValue[[]byte, []byte], 0, len(c.keys))
	for _, k := range c.keys {
		out = append(out, state.KeyValue[[]byte, []byte]{Key: []byte(k), Value: c.last[k]})
	}
	return out
}
