package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// sessionCounter counts each key's records per session (gap 30 s) in the
// session store "visits": a record merges every session within the gap of
// it into one.
type sessionCounter struct {
	st state.SessionStore[string, int64]
}

const visitGap = 30 * time.Second

func (p *sessionCounter) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.SessionStore[string, int64]](ctx, "visits")
	return err
}

func (p *sessionCounter) Process(rec processor.Record[string, string]) error {
	merged := state.Windowed[string]{Key: rec.Key, Start: rec.Timestamp, End: rec.Timestamp}
	n := int64(1)
	var old []state.Windowed[string]
	for kv, err := range p.st.FindSessions(rec.Key, rec.Timestamp.Add(-visitGap), rec.Timestamp.Add(visitGap)) {
		if err != nil {
			return err
		}
		old = append(old, kv.Key)
		n += kv.Value
		if kv.Key.Start.Before(merged.Start) {
			merged.Start = kv.Key.Start
		}
		if kv.Key.End.After(merged.End) {
			merged.End = kv.Key.End
		}
	}
	for _, s := range old {
		if err := p.st.Remove(s); err != nil {
			return err
		}
	}
	return p.st.Put(merged, n)
}

func (p *sessionCounter) Close() error { return nil }

// Interactive queries of a session store across two tasks, and a
// subscription to its changes keyed by session.
func TestQuerySessionAndSubscribe(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	topo := storeTopology(t, "sessions", func() processor.Processor[string, string, string, string] { return &sessionCounter{} },
		state.NewSessionStoreBuilder(state.InMemorySessionStore("visits", 24*time.Hour), serde.String(), serde.Int64()))
	cfg := config(t, c, "sessions")
	cfg.CommitInterval = 20 * time.Millisecond
	r := start(t, topo, cfg)

	// Subscribed before any task runs: tasks attach as they start.
	sub, err := streams.Subscribe[state.Windowed[string], int64](r.app, "visits", 1000)
	require.NoError(t, err)
	defer sub.Close()

	// Each of 4 users visits twice, 10 minutes apart, 3 clicks 10 s apart
	// each time: two sessions of 3 per user.
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for visit := range 2 {
		for click := range 3 {
			for u := range 4 {
				at := base.Add(time.Duration(visit)*10*time.Minute + time.Duration(click)*10*time.Second)
				recs = append(recs, &kgo.Record{Topic: "in", Key: []byte(fmt.Sprintf("user-%d", u)), Value: []byte("click"), Timestamp: at})
			}
		}
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "sessions", "in"))

	q, err := streams.QuerySession[string, int64](r.app, "visits")
	require.NoError(t, err)
	var got []string
	for kv, err := range q.Fetch("user-2") {
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%s-%s=%d", kv.Key.Start.Sub(base), kv.Key.End.Sub(base), kv.Value))
	}
	require.Equal(t, []string{"0s-20s=3", "10m0s-10m20s=3"}, got)
	n, ok, err := q.FetchSession("user-1", base.Add(10*time.Minute), base.Add(10*time.Minute+20*time.Second))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(3), n)
	sessions := 0
	for kv, err := range q.FetchRange(nil, nil) {
		require.NoError(t, err)
		require.Equal(t, int64(3), kv.Value)
		sessions++
	}
	require.Equal(t, 8, sessions, "two sessions per user, across both tasks")

	// The subscription saw every change: for each session, puts of counts
	// 1, 2, 3, each merge removing the session it replaced.
	final := map[string]int64{}
	changes := 0
	for changes < 4*2*(3+2) {
		select {
		case ch, ok := <-sub.Changes():
			require.True(t, ok, "subscription ended: %v", sub.Err())
			changes++
			k := fmt.Sprintf("%s@%s", ch.Key.Key, ch.Key.Start.Sub(base))
			if ch.Deleted {
				require.True(t, ch.HadOld)
				continue
			}
			require.Greater(t, ch.New, final[k], "counts only grow")
			final[k] = ch.New
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d changes", changes)
		}
	}
	require.Len(t, final, 8)
	for k, n := range final {
		require.Equal(t, int64(3), n, k)
	}
	require.NoError(t, r.stop(t))
}
