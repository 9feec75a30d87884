package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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
			model := kvModel{}
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
					model.requireAnswer(t, "delete", k, old, ok)
					delete(model, string(k))
				case r < 75:
					batch := model.randomBatch(rng, key, 5, op)
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
					model.requireAnswer(t, "get", k, v, ok)
				case r < 99:
					n, err := s.ApproximateNumEntries()
					require.NoError(t, err)
					require.Equal(t, int64(len(model)), n)
				default:
					lo, hi := key(), key()
					if bytes.Compare(lo, hi) > 0 {
						lo, hi = hi, lo
					}
					kr := KeyRange{Lower: lo, Upper: hi, HasLower: true, HasUpper: true}
					reverse := rng.IntN(2) == 0
					require.Equal(t, model.scan(kr, reverse), kvStrings(collect(t, s.Scan(kr, reverse))), "scan [%s, %s] reverse=%v at op %d", lo, hi, reverse, op)
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
