package state_test

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// Merge a user's clicks into sessions that close after five minutes of
// inactivity, the way a session-window aggregation uses its store: find
// the sessions a new record touches, remove them, and put the merged one.
func ExampleNewSessionStoreBuilder() {
	const gap = 5 * time.Minute
	sessions := state.NewSessionStoreBuilder(
		state.InMemorySessionStore("Sessions", time.Hour), serde.String(), serde.Int64(),
	).WithLoggingDisabled().BuildStore()
	if err := sessions.Init(state.StoreContext{ApplicationID: "clicks", TaskID: "0_0"}); err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()

	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	click := func(user string, at time.Duration) error {
		ts := base.Add(at)
		merged := state.Windowed[string]{Key: user, Start: ts, End: ts}
		count := int64(1)
		var old []state.Windowed[string]
		for kv, err := range sessions.FindSessions(user, ts.Add(-gap), ts.Add(gap)) {
			if err != nil {
				return err
			}
			old = append(old, kv.Key)
			count += kv.Value
			merged.Start = minTime(merged.Start, kv.Key.Start)
			merged.End = maxTime(merged.End, kv.Key.End)
		}
		for _, s := range old {
			if err := sessions.Remove(s); err != nil {
				return err
			}
		}
		return sessions.Put(merged, count)
	}
	for _, c := range []struct {
		user string
		at   time.Duration
	}{
		{"alice", 0}, {"alice", 2 * time.Minute}, {"bob", 3 * time.Minute},
		{"alice", 20 * time.Minute}, {"alice", 11 * time.Minute}, // late: joins nothing yet
		{"alice", 16 * time.Minute}, // bridges 11 and 20
	} {
		if err := click(c.user, c.at); err != nil {
			fmt.Println(err)
			return
		}
	}
	for kv, err := range sessions.FetchRange(nil, nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(kv.Key.Key, kv.Key.Start.Format("15:04"), "-", kv.Key.End.Format("15:04"), kv.Value, "clicks")
	}
	// Output:
	// alice 12:00 - 12:02 2 clicks
	// alice 12:11 - 12:20 3 clicks
	// bob 12:03 - 12:03 1 clicks
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
