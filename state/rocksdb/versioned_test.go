package rocksdb

import (
	"fmt"
	"testing"

	"github.com/gostreams/streams/internal/statetest"
)

// The versioned store on RocksDB answers as the model does, across
// memtables, files and restores.
func TestVersionedStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			statetest.VersionedModel(t, KeyValueStore("versions", Options{WriteBufferSize: 64 << 10}), t.TempDir(), seed)
		})
	}
}
