package rocksdb

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/state"
)

// The store against a plain map: random puts, deletes, batches of puts and
// deletions, gets and scans with random bounds (open, inclusive, inverted),
// flushes, and now and then a close and reopen on the same directory, which
// must find everything. A small write buffer makes RocksDB write memtables
// out to files and compact them during the test, so reads cross memtables,
// files and tombstones. Each seed has its own write batch (batch.go): the
// default, one small enough to be applied every few writes, and none.
func TestStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed))
			dir := t.TempDir()
			batch := map[uint64]int64{1: 0, 2: 4 << 10, 3: -1}[seed]
			sup := KeyValueStore("model", Options{WriteBufferSize: 64 << 10, Compression: CompressionSnappy, WriteBatchSize: batch})
			open := func() state.KeyValueBytesStore {
				s := sup.Get()
				require.NoError(t, s.Init(state.StoreContext{Dir: dir}))
				return s
			}
			s := open()
			t.Cleanup(func() { _ = s.Close() })
			model := map[string]string{}
			key := func() []byte {
				if rng.IntN(50) == 0 {
					return []byte{} // the empty key
				}
				return fmt.Appendf(nil, "k%04d", rng.IntN(2000))
			}
			value := func(op int) []byte {
				switch rng.IntN(20) {
				case 0:
					return []byte{}
				case 1:
					return bytes.Repeat(fmt.Appendf(nil, "%d.", op), 500) // a few KiB
				}
				return fmt.Appendf(nil, "v%d", op)
			}
			scans, reopens := 0, 0
			for op := range 20000 {
				switch r := rng.IntN(1000); {
				case r < 450:
					k, v := key(), value(op)
					require.NoError(t, s.Put(k, v))
					model[string(k)] = string(v)
				case r < 600:
					k := key()
					old, ok, err := s.Delete(k)
					require.NoError(t, err)
					want, wantOK := model[string(k)]
					require.Equal(t, wantOK, ok, "delete %q", k)
					require.Equal(t, want, string(old), "delete %q", k)
					delete(model, string(k))
				case r < 700:
					var batch []bkv
					deletes := rng.IntN(2) == 0 // PutAll or Write
					for range 1 + rng.IntN(20) {
						k := key()
						if deletes && rng.IntN(3) == 0 {
							batch = append(batch, bkv{Key: k})
							delete(model, string(k))
							continue
						}
						v := value(op)
						batch = append(batch, bkv{Key: k, Value: v})
						model[string(k)] = string(v)
					}
					if deletes {
						require.NoError(t, s.Write(batch))
					} else {
						require.NoError(t, s.PutAll(batch))
					}
				case r < 950:
					k := key()
					v, ok, err := s.Get(k)
					require.NoError(t, err)
					want, wantOK := model[string(k)]
					require.Equal(t, wantOK, ok, "get %q", k)
					require.Equal(t, want, string(v), "get %q", k)
					if ok {
						require.NotNil(t, v)
					}
				case r < 990:
					scans++
					var kr state.KeyRange
					if rng.IntN(4) != 0 {
						kr.Lower, kr.HasLower = key(), true
					}
					if rng.IntN(4) != 0 {
						kr.Upper, kr.HasUpper = key(), true
					}
					reverse := rng.IntN(2) == 0
					var want []string
					for _, k := range slices.Sorted(maps.Keys(model)) {
						if (!kr.HasLower || k >= string(kr.Lower)) && (!kr.HasUpper || k <= string(kr.Upper)) {
							want = append(want, k+"="+model[k])
						}
					}
					if reverse {
						slices.Reverse(want)
					}
					got := strs(collect(t, s.Scan(kr, reverse)))
					require.Equal(t, nilIfEmpty(want), nilIfEmpty(got), "scan %+v reverse=%v at op %d", kr, reverse, op)
				case r < 998:
					require.NoError(t, s.Flush())
				default:
					reopens++
					require.NoError(t, s.Close())
					s = open()
				}
			}
			require.Positive(t, scans)
			require.Positive(t, reopens)
			got := strs(collect(t, s.Scan(state.KeyRange{}, false)))
			var want []string
			for _, k := range slices.Sorted(maps.Keys(model)) {
				want = append(want, k+"="+model[k])
			}
			require.Equal(t, want, got)
			files := len(s.(*store).db.GetLiveFilesMetaData())
			t.Logf("%d scans, %d reopens, %d entries, %d files", scans, reopens, len(model), files)
			require.Positive(t, files, "the data never left the memtable: the test read no file")
		})
	}
}
