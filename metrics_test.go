package streams_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/window"
)

// A running word count's metrics, named as Kafka Streams names them: the
// threads process, poll and commit, the partitions report their lag, the
// source and sink nodes their end-to-end latency, and at debug level the
// store its operations and its cache its hit ratio.
func TestMetricsOfARunningWordCount(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t)
	require.NoError(t, c.CreateTopic(ctx, "lines", 3))
	require.NoError(t, c.CreateTopic(ctx, "counts", 3))

	sb := kstream.NewStreamsBuilder()
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	words := kstream.FlatMapValues(kstream.Stream(sb, []string{"lines"}, strs), strings.Fields)
	kstream.GroupBy(words, func(_, w string) string { return w }).
		Count(kstream.Materialized[string, int64]{Name: "Counts", Caching: true}).ToStream().To("counts")
	topo, err := sb.Build()
	require.NoError(t, err)

	cfg := config(t, c, "metrics-wc")
	cfg.NumStreamThreads = 2
	cfg.MetricsRecordingLevel = streams.RecordDebug
	r := start(t, topo, cfg)
	// Both threads run tasks before the input comes, so that both process.
	require.Eventually(t, func() bool {
		threads := r.app.LocalThreadsMetadata()
		running := 0
		for _, th := range threads {
			if th.State == "Running" && len(th.ActiveTasks) > 0 {
				running++
			}
		}
		return running == 2
	}, 30*time.Second, 20*time.Millisecond, "both threads run tasks")

	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("w%d w%d w%d", i%10, i%7, i%3))
	}
	produceValues(t, c, "lines", true, lines...)
	require.NoError(t, c.WaitCaughtUp(ctx, "metrics-wc", "lines", streams.RepartitionTopic("metrics-wc", "Counts")))

	var m streams.Metrics
	require.Eventually(t, func() bool {
		m = r.app.Metrics()
		return m.Sum("stream-thread-metrics", "process-total") >= 300+900
	}, 10*time.Second, 20*time.Millisecond)

	for _, thread := range []string{"metrics-wc-thread-0", "metrics-wc-thread-1"} {
		for _, name := range []string{"process-total", "poll-total", "commit-total", "task-created-total"} {
			v, ok := m.Find("stream-thread-metrics", name, "thread-id", thread)
			require.True(t, ok, "%s of %s", name, thread)
			require.Positive(t, v.Value, "%s of %s", name, thread)
			require.True(t, v.Total)
		}
		for _, name := range []string{"process-rate", "process-latency-avg", "process-latency-max", "commit-latency-avg", "poll-latency-max"} {
			v, ok := m.Find("stream-thread-metrics", name, "thread-id", thread)
			require.True(t, ok, "%s of %s", name, thread)
			require.Positive(t, v.Value, "%s of %s", name, thread)
		}
	}
	require.EqualValues(t, 1200, m.Sum("stream-thread-metrics", "process-total"), "300 lines and their 900 words")

	// Every input partition's lag, caught up.
	for p := range 3 {
		v, ok := m.Find("consumer-fetch-manager-metrics", "records-lag", "topic", "lines", "partition", fmt.Sprint(p))
		require.True(t, ok, "records-lag of lines-%d", p)
		require.Zero(t, v.Value)
	}
	alive, ok := m.Find("stream-metrics", "alive-stream-threads")
	require.True(t, ok)
	require.EqualValues(t, 2, alive.Value)
	failed, ok := m.Find("stream-metrics", "failed-stream-threads")
	require.True(t, ok)
	require.Zero(t, failed.Value)

	// The source node's end-to-end latency: records are seconds old at most.
	e2e, ok := m.Find("stream-processor-node-metrics", "record-e2e-latency-max", "processor-node-id", "KSTREAM-SOURCE-0000000000")
	require.True(t, ok)
	require.Positive(t, e2e.Value)
	require.Less(t, e2e.Value, float64(time.Minute/time.Millisecond))
	sinkLatency := false
	for _, v := range m.Values {
		sinkLatency = sinkLatency || (v.Name.Name == "record-e2e-latency-avg" && strings.HasPrefix(v.Name.Tags["processor-node-id"], "KSTREAM-SINK-"))
	}
	require.True(t, sinkLatency, "the sinks' latency too")

	// Debug: the store's operations and its cache.
	require.EqualValues(t, 900, m.Sum("stream-state-metrics", "put-total", "in-memory-state-id", "Counts"), "a put per word")
	getLatency, ok := m.Find("stream-state-metrics", "get-latency-avg", "in-memory-state-id", "Counts")
	require.True(t, ok)
	require.Positive(t, getLatency.Value)
	hits, ok := m.Find("stream-record-cache-metrics", "hit-ratio-avg", "record-cache-id", "Counts")
	require.True(t, ok)
	require.False(t, math.IsNaN(hits.Value))
	require.Greater(t, hits.Value, 0.5, "10 distinct words, 900 reads: most hit the cache")
	require.EqualValues(t, 0, m.Sum("stream-task-metrics", "dropped-records-total"))
	require.Positive(t, m.Sum("stream-task-metrics", "process-total"), "per task, at debug")

	// The threads and their tasks.
	threads := r.app.LocalThreadsMetadata()
	require.Len(t, threads, 2)
	tasks := 0
	for _, th := range threads {
		require.Equal(t, "Running", th.State, th.Name)
		for _, tk := range th.ActiveTasks {
			require.Equal(t, "Running", tk.State)
			require.Len(t, tk.Partitions, 1)
			tasks++
		}
	}
	require.Equal(t, 6, tasks, "3 partitions of lines, 3 of the repartition topic")

	// A history of the totals, for graphs: a point a second, the last one
	// the thread's total.
	last, ok := r.app.Metrics().Find("stream-thread-metrics", "process-total", "thread-id", "metrics-wc-thread-0")
	require.True(t, ok)
	var h []streams.MetricPoint
	require.Eventually(t, func() bool {
		h = r.app.MetricHistory(streams.MetricName{Group: "stream-thread-metrics", Name: "process-total", Tags: map[string]string{"thread-id": "metrics-wc-thread-0"}})
		return len(h) >= 2 && float64(h[len(h)-1].Total) == last.Value
	}, 10*time.Second, 50*time.Millisecond, "a history of thread 0's process-total that reaches its total %v", last.Value)
	require.True(t, h[0].Time.Before(h[len(h)-1].Time))
	require.LessOrEqual(t, h[0].Total, h[len(h)-1].Total)

	require.NoError(t, r.stop(t))
	_, ok = r.app.Metrics().Find("stream-thread-metrics", "process-total")
	require.False(t, ok, "a stopped thread's metrics are gone")

	// Started again, the in-memory store restores its changelog: the
	// restore's records, batches and latency.
	r = start(t, topo, cfg)
	require.Eventually(t, func() bool {
		m = r.app.Metrics()
		return m.Sum("stream-state-metrics", "restore-records-total", "in-memory-state-id", "Counts") > 0
	}, 20*time.Second, 20*time.Millisecond, "the store's restore is counted")
	require.Positive(t, m.Sum("stream-state-metrics", "restore-total", "in-memory-state-id", "Counts"))
	restoreLatency, ok := m.Find("stream-state-metrics", "restore-latency-max", "in-memory-state-id", "Counts")
	require.True(t, ok)
	require.Positive(t, restoreLatency.Value)
	require.NoError(t, r.stop(t))
}

// At the default level, no store or per-task process metrics are
// recorded.
func TestInfoLevelLeavesOutDebugMetrics(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t)
	require.NoError(t, c.CreateTopic(ctx, "in", 1))
	produceValues(t, c, "in", true, "a", "b", "a")
	r := start(t, counting(t), config(t, c, "metrics-info"))
	require.NoError(t, c.WaitCaughtUp(ctx, "metrics-info", "in", streams.RepartitionTopic("metrics-info", "by-key")))
	m := r.app.Metrics()
	require.Positive(t, m.Sum("stream-thread-metrics", "process-total"))
	for _, v := range m.Values {
		require.NotEqual(t, "stream-state-metrics", v.Name.Group, v.Name.String())
		require.NotEqual(t, streams.RecordDebug, v.Level, v.Name.String())
	}
	require.NoError(t, r.stop(t))
}

// At debug level window and session stores record their operations too.
func TestDebugMetricsOfWindowAndSessionStores(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t)
	require.NoError(t, c.CreateTopic(ctx, "clicks", 1))
	sb := kstream.NewStreamsBuilder()
	clicks := kstream.Stream(sb, []string{"clicks"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	kstream.WindowedBy(clicks.GroupByKey(), window.Tumbling(time.Minute)).Count(kstream.Materialized[string, int64]{Name: "PerMinute"})
	kstream.WindowedBySession(clicks.GroupByKey(), window.Session(time.Minute)).Count(kstream.Materialized[string, int64]{Name: "Sessions"})
	topo, err := sb.Build()
	require.NoError(t, err)
	produceValues(t, c, "clicks", true, "a", "b", "a", "c", "a")
	cfg := config(t, c, "metrics-windows")
	cfg.MetricsRecordingLevel = streams.RecordDebug
	r := start(t, topo, cfg)
	require.NoError(t, c.WaitCaughtUp(ctx, "metrics-windows", "clicks"))
	m := r.app.Metrics()
	for _, store := range []string{"PerMinute", "Sessions"} {
		require.EqualValues(t, 5, m.Sum("stream-state-metrics", "put-total", "in-memory-state-id", store), "%s: a put per record", store)
		_, ok := m.Find("stream-state-metrics", "put-latency-max", "in-memory-state-id", store)
		require.True(t, ok, store)
	}
	require.Positive(t, m.Sum("stream-state-metrics", "range-total", "in-memory-state-id", "Sessions"), "a session aggregation finds the sessions it merges")
	require.NoError(t, r.stop(t))
}
