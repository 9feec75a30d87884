package rocksdb_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
)

// A RocksDB window store keeps each time segment in a directory of its own,
// deletes a segment's directory once all its windows have expired, and finds
// its windows again when reopened on the same task directory.
func ExampleWindowStore() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := state.StoreContext{ApplicationID: "pageviews", TaskID: "0_0", Dir: dir}

	// Windows of a minute, kept for two: segments of a minute.
	builder := state.NewWindowStoreBuilder(
		rocksdb.WindowStore("Views", rocksdb.Options{}, 2*time.Minute, time.Minute, false),
		serde.String(), serde.Int64(),
	)
	segments := func() {
		names, _ := filepath.Glob(filepath.Join(dir, "rocksdb", "Views.*"))
		for i, n := range names {
			names[i] = filepath.Base(n)
		}
		fmt.Println("segments:", names)
	}

	views := builder.BuildStore()
	if err := views.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	base := time.UnixMilli(0).UTC()
	for i, user := range []string{"alice", "bob", "alice", "carol"} {
		if err := views.Put(user, int64(i), base.Add(time.Duration(i)*time.Minute)); err != nil {
			fmt.Println(err)
			return
		}
		segments()
	}
	if err := views.Close(); err != nil {
		fmt.Println(err)
		return
	}

	views = builder.BuildStore()
	if err := views.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer views.Close()
	// Stream time is 00:03 and retention two minutes, so bob's window at
	// 00:01 has expired. Its segment, which covers 00:01 to 00:02, stays on
	// disk until all of that time has expired.
	for kv, err := range views.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key.Key, kv.Key.Start.Format("15:04"), kv.Value)
	}
	// Output:
	// segments: [Views.0]
	// segments: [Views.0 Views.60000]
	// segments: [Views.0 Views.120000 Views.60000]
	// segments: [Views.120000 Views.180000 Views.60000]
	// alice 00:02 2
	// carol 00:03 3
}

// A session store on RocksDB, used as state.InMemorySessionStore would be.
func ExampleSessionStore() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	sessions := state.NewSessionStoreBuilder(
		rocksdb.SessionStore("Sessions", rocksdb.Options{}, time.Hour), serde.String(), serde.Int64(),
	).BuildStore()
	if err := sessions.Init(state.StoreContext{TaskID: "0_0", Dir: dir}); err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()

	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []struct {
		user       string
		start, end time.Duration
		clicks     int64
	}{
		{"alice", 0, 2 * time.Minute, 2}, {"alice", 11 * time.Minute, 20 * time.Minute, 3}, {"bob", 3 * time.Minute, 3 * time.Minute, 1},
	} {
		if err := sessions.Put(state.Windowed[string]{Key: s.user, Start: base.Add(s.start), End: base.Add(s.end)}, s.clicks); err != nil {
			fmt.Println(err)
			return
		}
	}
	// The sessions of alice that overlap 12:05 to 12:12.
	for kv, err := range sessions.FindSessions("alice", base.Add(5*time.Minute), base.Add(12*time.Minute)) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key.Key, kv.Key.Start.Format("15:04"), "-", kv.Key.End.Format("15:04"), kv.Value)
	}
	// Output:
	// alice 12:11 - 12:20 3
}
