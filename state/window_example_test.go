package state_test

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Count page views per user in tumbling windows of a minute, kept for ten
// minutes, then read one user's windows and all windows of a time range.
func ExampleNewWindowStoreBuilder() {
	builder := state.NewWindowStoreBuilder(
		state.InMemoryWindowStore("Views", 10*time.Minute, time.Minute, false),
		serde.String(), serde.Int64(),
	)
	// The runtime creates the changelog topic from these.
	fmt.Println(builder.Retention(), builder.LogConfig())

	views := builder.BuildStore()
	if err := views.Init(state.StoreContext{ApplicationID: "pageviews", TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer views.Close()

	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []struct {
		user string
		at   time.Duration
	}{
		{"alice", 5 * time.Second}, {"bob", 20 * time.Second}, {"alice", 50 * time.Second},
		{"alice", 70 * time.Second}, {"bob", 3 * time.Minute},
	} {
		ts := base.Add(v.at)
		start := ts.Truncate(time.Minute) // the tumbling window of ts
		n, _, err := views.FetchOne(v.user, start)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := views.Put(v.user, n+1, start); err != nil {
			fmt.Println(err)
			return
		}
	}

	fmt.Println("alice:")
	for kv, err := range views.Fetch("alice", base, base.Add(time.Hour)) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(" ", kv.Key.Format("15:04"), kv.Value)
	}
	fmt.Println("windows starting 12:00 to 12:01:")
	for kv, err := range views.FetchAll(base, base.Add(time.Minute)) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(" ", kv.Key.Key, kv.Key.Start.Format("15:04"), "-", kv.Key.End.Format("15:04"), kv.Value)
	}

	// Twenty minutes later the old windows have expired: reads skip them
	// and a late Put for one is dropped.
	if err := views.Put("carol", 1, base.Add(20*time.Minute)); err != nil {
		fmt.Println(err)
		return
	}
	if err := views.Put("alice", 1, base); err != nil {
		fmt.Println(err)
		return
	}
	_, ok, err := views.FetchOne("alice", base)
	fmt.Println("alice at 12:00 after expiry:", ok, err)
	fmt.Println("dropped:", views.(state.DroppedRecordsCounter).DroppedRecords())
	// Output:
	// 10m0s map[cleanup.policy:compact,delete retention.ms:87000000]
	// alice:
	//   12:00 2
	//   12:01 1
	// windows starting 12:00 to 12:01:
	//   alice 12:00 - 12:01 2
	//   alice 12:01 - 12:02 1
	//   bob 12:00 - 12:01 1
	// alice at 12:00 after expiry: false <nil>
	// dropped: 1
}

// A store that retains duplicates keeps every value put for a key and
// window, in order, as a stream-stream join needs.
func ExampleInMemoryWindowStore_retainDuplicates() {
	store := state.NewWindowStoreBuilder(
		state.InMemoryWindowStore("Clicks", time.Hour, 5*time.Minute, true),
		serde.String(), serde.String(),
	).WithLoggingDisabled().BuildStore()
	if err := store.Init(state.StoreContext{TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	w := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, page := range []string{"/home", "/cart", "/home"} {
		if err := store.Put("alice", page, w); err != nil {
			fmt.Println(err)
			return
		}
	}
	for kv, err := range store.Fetch("alice", w, w) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key.Format("15:04"), kv.Value)
	}
	// Output:
	// 12:00 /home
	// 12:00 /cart
	// 12:00 /home
}
