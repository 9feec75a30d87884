package rocksdb_test

import (
	"fmt"
	"os"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
)

// Build a RocksDB store the way the runtime does, write to it, read a range
// back, and find the data again after reopening the store on the same
// directory.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// The runtime passes <state.dir>/<application.id>/<task>.
	ctx := state.StoreContext{ApplicationID: "wordcount", TaskID: "0_0", Dir: dir}

	builder := state.NewKeyValueStoreBuilder(
		rocksdb.KeyValueStore("Counts", rocksdb.Options{}), serde.String(), serde.Int64(),
	)
	counts := builder.BuildStore()
	if err := counts.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range []string{"kafka", "streams", "go", "kafka", "state", "go", "kafka"} {
		n, _, err := counts.Get(w)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := counts.Put(w, n+1); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := counts.Flush(); err != nil { // the runtime flushes on every commit
		fmt.Println(err)
		return
	}
	if err := counts.Close(); err != nil {
		fmt.Println(err)
		return
	}

	// A restarted task opens a new store on the same directory.
	counts = builder.BuildStore()
	if err := counts.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer counts.Close()
	from, to := "go", "state" // inclusive
	for kv, err := range counts.Range(&from, &to) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// go 2
	// kafka 3
	// state 1
}

// Stores share one block cache, so that reading them costs at most its
// capacity in memory, and are tuned through Options.
func ExampleOptions() {
	cache, err := rocksdb.NewCache(256 << 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close() // stores already open keep their reference

	opts := rocksdb.Options{
		Cache:           cache,
		WriteBufferSize: 8 << 20,
		Compression:     rocksdb.CompressionZstd,
	}
	if err := opts.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	counts := state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("Counts", opts), serde.String(), serde.Int64())
	totals := state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore("Totals", opts), serde.String(), serde.Int64())
	fmt.Println(counts.Name(), totals.Name(), cache.Capacity()>>20, "MiB")

	bad := rocksdb.Options{MaxWriteBuffers: 1}
	fmt.Println(bad.Validate())
	// Output:
	// Counts Totals 256 MiB
	// rocksdb: Options.MaxWriteBuffers is 1; want 0 for the default (3) or at least 2
}
