package state_test

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Build an in-memory store the way the runtime does, write to it and read a
// range back.
func Example() {
	builder := state.NewKeyValueStoreBuilder(
		state.InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64(),
	).WithLoggingDisabled()

	counts := builder.Build().(state.KeyValueStore[string, int64])
	if err := counts.Init(state.StoreContext{ApplicationID: "wordcount", TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer counts.Close()

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

func ExampleReadOnlyKeyValueStore_PrefixScan() {
	store := state.NewKeyValueStoreBuilder(
		state.InMemoryKeyValueStore("Customers"), serde.String(), serde.String(),
	).Build().(state.KeyValueStore[string, string])
	if err := store.Init(state.StoreContext{TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	err := store.PutAll([]state.KeyValue[string, string]{
		{Key: "eu/alice", Value: "Paris"},
		{Key: "us/carol", Value: "Boston"},
		{Key: "eu/bob", Value: "Berlin"},
		{Key: "eux", Value: "not in eu/"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	for kv, err := range store.PrefixScan("eu/") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// eu/alice Paris
	// eu/bob Berlin
}

func ExampleNewTimestampedKeyValueStoreBuilder() {
	builder := state.NewTimestampedKeyValueStoreBuilder(
		state.InMemoryKeyValueStore("LastSeen"), serde.String(), serde.String(),
	).WithLoggingEnabled(map[string]string{"min.compaction.lag.ms": "60000"})
	fmt.Println(builder.Name(), builder.LoggingEnabled(), builder.LogConfig(), builder.CachingEnabled())

	store := builder.Build().(state.TimestampedKeyValueStore[string, string])
	if err := store.Init(state.StoreContext{TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	// Timestamps are kept in milliseconds: the microseconds are dropped.
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	if err := store.Put("sensor-1", state.ValueAndTimestamp[string]{Value: "online", Timestamp: at}); err != nil {
		fmt.Println(err)
		return
	}
	v, ok, err := store.Get("sensor-1")
	fmt.Println(v.Value, v.Timestamp.Format(time.RFC3339Nano), ok, err)
	// Output:
	// LastSeen true map[min.compaction.lag.ms:60000] false
	// online 2024-05-01T12:00:00.123Z true <nil>
}
