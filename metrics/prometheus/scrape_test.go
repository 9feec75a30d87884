package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/metrics/prometheus"
	"github.com/gostreams/streams/serde"
)

// A word count on the embedded cluster, scraped over HTTP as Prometheus
// would and parsed with Prometheus' own text parser: each thread's process
// rate and total, each input partition's lag, latencies in seconds, the
// store's operations with their store labels; and Prometheus' linter finds
// nothing to fix.
func TestScrapeARunningWordCount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := embedded.Start()
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.CreateTopic(ctx, "lines", 3))
	require.NoError(t, c.CreateTopic(ctx, "counts", 3))

	sb := kstream.NewStreamsBuilder()
	strs := kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	words := kstream.FlatMapValues(kstream.Stream(sb, []string{"lines"}, strs), strings.Fields)
	kstream.GroupBy(words, func(_, w string) string { return w }).
		Count(kstream.Materialized[string, int64]{Name: "Counts", Caching: true}).ToStream().To("counts")
	topo, err := sb.Build()
	require.NoError(t, err)

	const appID = "prom-wc"
	app, err := streams.New(topo, streams.Config{
		ApplicationID: appID, Brokers: c.Addrs(), StateDir: t.TempDir(),
		NumStreamThreads: 2, MetricsRecordingLevel: streams.RecordDebug,
		CommitInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	})
	require.NoError(t, err)
	defer app.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()

	// The lines go in once both threads run their tasks, so that each
	// thread processes some: a thread that joined after the others had
	// processed everything would have nothing to count.
	require.Eventually(t, func() bool {
		threads, tasks := app.LocalThreadsMetadata(), 0
		for _, th := range threads {
			if th.State != "Running" || len(th.ActiveTasks) == 0 {
				return false
			}
			for _, tk := range th.ActiveTasks {
				if tk.State != "Running" {
					return false
				}
				tasks++
			}
		}
		return len(threads) == 2 && tasks == 6
	}, 30*time.Second, 20*time.Millisecond, "3 tasks of lines, 3 of the repartition topic, on 2 threads")
	var recs []*kgo.Record
	for i := range 300 {
		line := fmt.Sprintf("w%d w%d w%d", i%10, i%7, i%3)
		recs = append(recs, &kgo.Record{Topic: "lines", Key: []byte(line), Value: []byte(line)})
	}
	require.NoError(t, c.Produce(ctx, recs...))
	require.NoError(t, c.WaitCaughtUp(ctx, appID, "lines", streams.RepartitionTopic(appID, "Counts")))
	require.Eventually(t, func() bool {
		return app.Metrics().Sum("stream-thread-metrics", "process-total") >= 1200
	}, 10*time.Second, 20*time.Millisecond, "300 lines and their 900 words processed")

	srv := httptest.NewServer(prometheus.Handler(app))
	defer srv.Close()
	fams := scrape(t, ctx, srv.URL)

	// Each thread processed, and did so in the last 30 seconds: the rate
	// is over that window.
	threads := []string{appID + "-thread-0", appID + "-thread-1"}
	processed := 0.0
	for _, th := range threads {
		rate := find(t, fams, "kafka_streams_thread_process_rate", dto.MetricType_GAUGE, "thread_id", th)
		require.Positive(t, rate.GetGauge().GetValue(), th)
		total := find(t, fams, "kafka_streams_thread_process_total", dto.MetricType_COUNTER, "thread_id", th)
		require.Positive(t, total.GetCounter().GetValue(), th)
		processed += total.GetCounter().GetValue()
		// Latencies in seconds: a record takes well under one.
		lat := find(t, fams, "kafka_streams_thread_process_latency_avg_seconds", dto.MetricType_GAUGE, "thread_id", th)
		require.Positive(t, lat.GetGauge().GetValue(), th)
		require.Less(t, lat.GetGauge().GetValue(), 1.0, th)
		require.Equal(t, appID, labelOf(lat, "application_id"))
	}
	require.EqualValues(t, 1200, processed)

	// Every input partition's lag, caught up, with the thread that reads
	// it as client_id.
	for p := range 3 {
		lag := find(t, fams, "kafka_consumer_fetch_manager_records_lag", dto.MetricType_GAUGE, "topic", "lines", "partition", fmt.Sprint(p))
		require.Zero(t, lag.GetGauge().GetValue())
		require.Contains(t, threads, labelOf(lag, "client_id"))
	}

	// End-to-end latency at the source: records are seconds old at most.
	e2e := find(t, fams, "kafka_streams_processor_node_record_e2e_latency_max_seconds", dto.MetricType_GAUGE, "processor_node_id", "KSTREAM-SOURCE-0000000000")
	require.Positive(t, e2e.GetGauge().GetValue())
	require.Less(t, e2e.GetGauge().GetValue(), 60.0)

	// The store, at debug: a put per word, labeled by store and type.
	puts := 0.0
	for _, m := range fams["kafka_streams_state_put_total"].GetMetric() {
		require.Equal(t, "Counts", labelOf(m, "store"))
		require.Equal(t, "in-memory", labelOf(m, "store_type"))
		puts += m.GetCounter().GetValue()
	}
	require.EqualValues(t, 900, puts)
	alive := find(t, fams, "kafka_streams_client_alive_stream_threads", dto.MetricType_GAUGE, "client_id", appID)
	require.EqualValues(t, 2, alive.GetGauge().GetValue())

	// No NaN: a value with no samples is left out.
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			require.False(t, math.IsNaN(m.GetGauge().GetValue()), name)
		}
	}

	problems, err := testutil.CollectAndLint(prometheus.NewCollector(app))
	require.NoError(t, err, "a pedantic registry gathers it")
	require.Empty(t, problems)

	stop()
	require.NoError(t, <-runErr)
}

// scrape GETs url as Prometheus does and parses the text format.
func scrape(t *testing.T, ctx context.Context, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, expfmt.TypeTextPlain, expfmt.ResponseFormat(resp.Header).FormatType())
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// find returns the sample of the family name, of type typ, whose labels
// include the name/value pairs labels.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no %s in the scrape", name)
	require.Equal(t, typ, f.GetType(), name)
	for _, m := range f.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && labelOf(m, labels[i]) == labels[i+1]
		}
		if match {
			return m
		}
	}
	require.Failf(t, "no sample", "%s%v", name, labels)
	return nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
