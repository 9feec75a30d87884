package streams_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// logCapture keeps the log records whose message is msg.
type logCapture struct {
	msg  string
	mu   sync.Mutex
	recs []map[string]any
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	if r.Message != l.msg {
		return nil
	}
	m := map[string]any{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	l.mu.Lock()
	l.recs = append(l.recs, m)
	l.mu.Unlock()
	return nil
}

// A long restore logs its progress (store, task, records so far, offset and
// end) while it runs, not only when it ends. The interval is shortened so
// that a restore of a few batches is "long".
func TestLongRestoreLogsProgress(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	const n = 200_000
	fillCounts(t, c, "progress", n)

	topo := storeTopology(t, "count", func() processor.Processor[string, string, string, int64] { return &countStore{} },
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()))
	logs := &logCapture{msg: "store restore progress"}
	l := &listener{}
	cfg := config(t, c, "progress")
	cfg.Logger = slog.New(logs)
	cfg.RestoreListener = l
	streams.SetRestoreProgressEvery(&cfg, time.Nanosecond)
	app := mustApp(t, topo, cfg)
	r := run(t, app)
	require.Eventually(t, func() bool { return l.restoredRecords() == n }, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, r.stop(t))

	batches := l.batchesRestored()
	require.Greater(t, batches, 1, "the restore must take several batches for this test to mean anything")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	require.NotEmpty(t, logs.recs, "no progress logged during a restore of %d batches", batches)
	for _, m := range logs.recs {
		require.Equal(t, "counts", m["store"])
		require.Equal(t, "0_0", m["task"])
		require.Equal(t, int64(n), m["end"])
		restored, offset := m["restored"].(int64), m["offset"].(int64)
		require.Positive(t, restored)
		require.Less(t, restored, int64(n), "progress is logged before the end")
		require.Equal(t, restored, offset, "from offset 0, the next offset is the count restored")
		require.Contains(t, m, "elapsed")
	}
}
