package state

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The in-memory store keeps a hash index that is always current and an
// ordered tree that catches up lazily (on a scan, or when pendingLimit keys
// wait). This test drives random puts, deletes, re-puts, gets, counts and
// scans, long enough to cross the pending limit many times, and checks every
// answer against a plain map. Scans come only in every other phase of
// phaseLen operations, so that in the quiet phases the writer itself crosses
// the pending limit.
func TestMemoryStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed))
			s := openBytesStore(t)
			model := map[string]string{}
			key := func() []byte { return fmt.Appendf(nil, "k%05d", rng.IntN(2*pendingLimit)) }
			const phaseLen = 3 * pendingLimit
			syncsByWriter := 0
			for op := range 4 * phaseLen {
				scans := (op/phaseLen)%2 == 1
				r := rng.IntN(100)
				if r == 99 && !scans {
					r = 98
				}
				switch {
				case r < 50:
					k, v := key(), fmt.Appendf(nil, "v%d", op)
					before := pendingLen(s)
					require.NoError(t, s.Put(k, v))
					if pendingLen(s) < before {
						syncsByWriter++
					}
					model[string(k)] = string(v)
				case r < 70:
					k := key()
					old, ok, err := s.Delete(k)
					require.NoError(t, err)
					want, wantOK := model[string(k)]
					require.Equal(t, wantOK, ok, "delete %s", k)
					if ok {
						require.Equal(t, want, string(old))
					}
					delete(model, string(k))
				case r < 75:
					// A batch of puts and deletions (nil values), as a restore
					// writes.
					var batch []KeyValue[[]byte, []byte]
					for j := range 1 + rng.IntN(5) {
						k := key()
						if rng.IntN(3) == 0 {
							batch = append(batch, KeyValue[[]byte, []byte]{Key: k})
							delete(model, string(k))
						} else {
							v := fmt.Appendf(nil, "w%d.%d", op, j)
							batch = append(batch, KeyValue[[]byte, []byte]{Key: k, Value: v})
							model[string(k)] = string(v)
						}
					}
					if rng.IntN(2) == 0 {
						require.NoError(t, s.Write(batch))
					} else {
						// The restore path: index only, tree rebuilt later.
						require.NoError(t, s.(*memoryStore).restoreWrite(batch))
					}
				case r < 95:
					k := key()
					v, ok, err := s.Get(k)
					require.NoError(t, err)
					want, wantOK := model[string(k)]
					require.Equal(t, wantOK, ok, "get %s", k)
					if ok {
						require.Equal(t, want, string(v))
					}
				case r < 99:
					n, err := s.ApproximateNumEntries()
					require.NoError(t, err)
					require.Equal(t, int64(len(model)), n)
				default:
					lo, hi := key(), key()
					if bytes.Compare(lo, hi) > 0 {
						lo, hi = hi, lo
					}
					var got []string
					for kv, err := range s.Scan(KeyRange{Lower: lo, Upper: hi, HasLower: true, HasUpper: true}, rng.IntN(2) == 0) {
						require.NoError(t, err)
						got = append(got, string(kv.Key)+"="+string(kv.Value))
					}
					var want []string
					for _, k := range slices.Sorted(maps.Keys(model)) {
						if k >= string(lo) && k <= string(hi) {
							want = append(want, k+"="+model[k])
						}
					}
					slices.Sort(got)
					require.Equal(t, want, got, "scan [%s, %s] at op %d", lo, hi, op)
				}
			}
			require.Positive(t, syncsByWriter, "the writer never reached the pending limit")
		})
	}
}

func pendingLen(s KeyValueBytesStore) int {
	m := s.(*memoryStore)
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.mu.pending)
}
