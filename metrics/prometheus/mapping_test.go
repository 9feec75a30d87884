package prometheus

import (
	"math"
	"strings"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
)

// kafka is a metric of a snapshot: group, name, whether it is a -total,
// and tags as key/value pairs.
func kafka(group, name string, total bool, tags ...string) streams.Metric {
	m := streams.Metric{Name: streams.MetricName{Group: group, Name: name, Tags: map[string]string{}}, Total: total, Value: 1, Description: "what " + name + " measures"}
	for i := 0; i+1 < len(tags); i += 2 {
		m.Name.Tags[tags[i]] = tags[i+1]
	}
	return m
}

const (
	thread = "wc-thread-0"
	task   = "1_0"
)

// Every name the runtime records (see internal/runtime/sensors.go,
// internal/task/metrics.go, internal/metrics/store.go), and the sample
// each becomes.
var mappings = []struct {
	kafka  streams.Metric
	name   string
	typ    prom.ValueType
	labels string // name=value,… sorted
}{
	{kafka("stream-metrics", "alive-stream-threads", false, "client-id", "wc"), "kafka_streams_client_alive_stream_threads", prom.GaugeValue, "client_id=wc"},
	{kafka("stream-metrics", "failed-stream-threads", false, "client-id", "wc"), "kafka_streams_client_failed_stream_threads", prom.GaugeValue, "client_id=wc"},

	{kafka("stream-thread-metrics", "process-total", true, "thread-id", thread), "kafka_streams_thread_process_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "process-rate", false, "thread-id", thread), "kafka_streams_thread_process_rate", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "process-latency-avg", false, "thread-id", thread), "kafka_streams_thread_process_latency_avg_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "process-latency-max", false, "thread-id", thread), "kafka_streams_thread_process_latency_max_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-total", true, "thread-id", thread), "kafka_streams_thread_poll_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-rate", false, "thread-id", thread), "kafka_streams_thread_poll_rate", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-latency-avg", false, "thread-id", thread), "kafka_streams_thread_poll_latency_avg_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-latency-max", false, "thread-id", thread), "kafka_streams_thread_poll_latency_max_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-records-avg", false, "thread-id", thread), "kafka_streams_thread_poll_records_avg", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "poll-records-max", false, "thread-id", thread), "kafka_streams_thread_poll_records_max", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "commit-total", true, "thread-id", thread), "kafka_streams_thread_commit_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "commit-rate", false, "thread-id", thread), "kafka_streams_thread_commit_rate", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "commit-latency-avg", false, "thread-id", thread), "kafka_streams_thread_commit_latency_avg_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "commit-latency-max", false, "thread-id", thread), "kafka_streams_thread_commit_latency_max_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "punctuate-total", true, "thread-id", thread), "kafka_streams_thread_punctuate_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "punctuate-rate", false, "thread-id", thread), "kafka_streams_thread_punctuate_rate", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "punctuate-latency-avg", false, "thread-id", thread), "kafka_streams_thread_punctuate_latency_avg_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "punctuate-latency-max", false, "thread-id", thread), "kafka_streams_thread_punctuate_latency_max_seconds", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "task-created-total", true, "thread-id", thread), "kafka_streams_thread_task_created_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "task-created-rate", false, "thread-id", thread), "kafka_streams_thread_task_created_rate", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "task-closed-total", true, "thread-id", thread), "kafka_streams_thread_task_closed_total", prom.CounterValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "task-closed-rate", false, "thread-id", thread), "kafka_streams_thread_task_closed_rate", prom.GaugeValue, "thread_id=" + thread},

	{kafka("stream-task-metrics", "process-total", true, "thread-id", thread, "task-id", task), "kafka_streams_task_process_total", prom.CounterValue, "task_id=1_0,thread_id=" + thread},
	{kafka("stream-task-metrics", "process-rate", false, "thread-id", thread, "task-id", task), "kafka_streams_task_process_rate", prom.GaugeValue, "task_id=1_0,thread_id=" + thread},
	{kafka("stream-task-metrics", "dropped-records-total", true, "thread-id", thread, "task-id", task), "kafka_streams_task_dropped_records_total", prom.CounterValue, "task_id=1_0,thread_id=" + thread},
	{kafka("stream-task-metrics", "dropped-records-rate", false, "thread-id", thread, "task-id", task), "kafka_streams_task_dropped_records_rate", prom.GaugeValue, "task_id=1_0,thread_id=" + thread},

	{kafka("stream-processor-node-metrics", "record-e2e-latency-avg", false, "thread-id", thread, "task-id", task, "processor-node-id", "KSTREAM-SOURCE-0000000000"),
		"kafka_streams_processor_node_record_e2e_latency_avg_seconds", prom.GaugeValue, "processor_node_id=KSTREAM-SOURCE-0000000000,task_id=1_0,thread_id=" + thread},
	{kafka("stream-processor-node-metrics", "record-e2e-latency-min", false, "thread-id", thread, "task-id", task, "processor-node-id", "KSTREAM-SOURCE-0000000000"),
		"kafka_streams_processor_node_record_e2e_latency_min_seconds", prom.GaugeValue, "processor_node_id=KSTREAM-SOURCE-0000000000,task_id=1_0,thread_id=" + thread},
	{kafka("stream-processor-node-metrics", "record-e2e-latency-max", false, "thread-id", thread, "task-id", task, "processor-node-id", "KSTREAM-SINK-0000000005"),
		"kafka_streams_processor_node_record_e2e_latency_max_seconds", prom.GaugeValue, "processor_node_id=KSTREAM-SINK-0000000005,task_id=1_0,thread_id=" + thread},
	{kafka("stream-processor-node-metrics", "dropped-records-total", true, "thread-id", thread, "task-id", task, "processor-node-id", "agg"),
		"kafka_streams_processor_node_dropped_records_total", prom.CounterValue, "processor_node_id=agg,task_id=1_0,thread_id=" + thread},
	{kafka("stream-processor-node-metrics", "dropped-records-rate", false, "thread-id", thread, "task-id", task, "processor-node-id", "agg"),
		"kafka_streams_processor_node_dropped_records_rate", prom.GaugeValue, "processor_node_id=agg,task_id=1_0,thread_id=" + thread},

	{kafka("consumer-fetch-manager-metrics", "records-lag", false, "client-id", thread, "topic", "lines", "partition", "2"),
		"kafka_consumer_fetch_manager_records_lag", prom.GaugeValue, "client_id=" + thread + ",partition=2,topic=lines"},

	// A store's metrics have the same labels whatever its type.
	{kafka("stream-state-metrics", "put-total", true, "thread-id", thread, "task-id", task, "in-memory-state-id", "Counts"),
		"kafka_streams_state_put_total", prom.CounterValue, "store=Counts,store_type=in-memory,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "put-total", true, "thread-id", thread, "task-id", "1_1", "rocksdb-state-id", "Counts"),
		"kafka_streams_state_put_total", prom.CounterValue, "store=Counts,store_type=rocksdb,task_id=1_1,thread_id=" + thread},
	{kafka("stream-state-metrics", "put-rate", false, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_put_rate", prom.GaugeValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "get-latency-avg", false, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_get_latency_avg_seconds", prom.GaugeValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "range-latency-max", false, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_range_latency_max_seconds", prom.GaugeValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "delete-total", true, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_delete_total", prom.CounterValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "flush-rate", false, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_flush_rate", prom.GaugeValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},
	{kafka("stream-state-metrics", "restore-total", true, "thread-id", thread, "task-id", task, "rocksdb-state-id", "Counts"),
		"kafka_streams_state_restore_total", prom.CounterValue, "store=Counts,store_type=rocksdb,task_id=1_0,thread_id=" + thread},

	{kafka("stream-record-cache-metrics", "hit-ratio-avg", false, "thread-id", thread, "task-id", task, "record-cache-id", "Counts"),
		"kafka_streams_record_cache_hit_ratio_avg", prom.GaugeValue, "record_cache_id=Counts,task_id=1_0,thread_id=" + thread},
	{kafka("stream-record-cache-metrics", "hit-ratio-min", false, "thread-id", thread, "task-id", task, "record-cache-id", "Counts"),
		"kafka_streams_record_cache_hit_ratio_min", prom.GaugeValue, "record_cache_id=Counts,task_id=1_0,thread_id=" + thread},

	// Groups and names the table does not know, by rule.
	{kafka("stream-topic-metrics", "bytes-consumed-total", true, "thread-id", thread, "topic", "lines"),
		"kafka_streams_topic_bytes_consumed_total", prom.CounterValue, "thread_id=" + thread + ",topic=lines"},
	{kafka("producer-metrics", "request-latency-avg", false, "client-id", "p"), "kafka_producer_request_latency_avg_seconds", prom.GaugeValue, "client_id=p"},
	{kafka("stream-thread-metrics", "latency", false, "thread-id", thread), "kafka_streams_thread_latency", prom.GaugeValue, "thread_id=" + thread},
	{kafka("stream-thread-metrics", "odd.name", true, "thread-id", thread, "9lives", "x", "__meta", "y"), "kafka_streams_thread_odd_name_total", prom.CounterValue, "_9lives=x,_meta=y,thread_id=" + thread},
}

func TestMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range mappings {
		t.Run(tc.kafka.Name.Group+"/"+tc.kafka.Name.Name, func(t *testing.T) {
			s := mapMetric(tc.kafka)
			require.Equal(t, tc.name, s.name)
			require.Equal(t, tc.typ, s.typ)
			var labels []string
			for _, l := range s.labels {
				labels = append(labels, l.name+"="+l.value)
			}
			require.Equal(t, tc.labels, strings.Join(labels, ","))
			if strings.HasSuffix(s.name, "_seconds") {
				require.Equal(t, 1e-3, s.value, "milliseconds to seconds")
				require.Contains(t, s.help, "in seconds")
			} else {
				require.Equal(t, 1.0, s.value)
			}
			require.Equal(t, "what "+tc.kafka.Name.Name+" measures (Kafka Streams: "+tc.kafka.Name.Group+" "+tc.kafka.Name.Name+")"+"", strings.Replace(s.help, ", in seconds", "", 1))
		})
	}
}

func TestLatencyHelpSaysSeconds(t *testing.T) {
	t.Parallel()
	m := kafka("stream-thread-metrics", "process-latency-avg", false, "thread-id", thread)
	m.Description, m.Value = "the average of the time to process a record, in milliseconds", 2.5
	s := mapMetric(m)
	require.Equal(t, "the average of the time to process a record, in seconds (Kafka Streams: stream-thread-metrics process-latency-avg)", s.help)
	require.Equal(t, 0.0025, s.value)
}

// Every name the runtime records, collected: Prometheus' linter finds
// nothing, a pedantic registry gathers them without error, and no two
// Kafka metrics share a sample.
func TestCollectLintsClean(t *testing.T) {
	t.Parallel()
	var snap []streams.Metric
	for _, tc := range mappings {
		snap = append(snap, tc.kafka)
	}
	c := newCollector(func() []streams.Metric { return snap })
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, len(snap), testutil.CollectAndCount(c), "one sample per Kafka metric")
}

// The collector's text: NaN left out, application_id from the client
// metrics, constant labels (their names made valid), a counter's TYPE.
func TestCollectText(t *testing.T) {
	t.Parallel()
	alive := kafka("stream-metrics", "alive-stream-threads", false, "client-id", "wc")
	alive.Value = 2
	processed := kafka("stream-thread-metrics", "process-total", true, "thread-id", thread)
	processed.Value = 1200
	idle := kafka("stream-thread-metrics", "punctuate-latency-avg", false, "thread-id", thread)
	idle.Value = math.NaN()
	snap := []streams.Metric{alive, processed, idle}
	c := newCollector(func() []streams.Metric { return snap }, ConstLabels(prom.Labels{"pod-name": "wc-7", LabelApplicationID: "ignored"}))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP kafka_streams_client_alive_stream_threads what alive-stream-threads measures (Kafka Streams: stream-metrics alive-stream-threads)
# TYPE kafka_streams_client_alive_stream_threads gauge
kafka_streams_client_alive_stream_threads{application_id="wc",client_id="wc",pod_name="wc-7"} 2
# HELP kafka_streams_thread_process_total what process-total measures (Kafka Streams: stream-thread-metrics process-total)
# TYPE kafka_streams_thread_process_total counter
kafka_streams_thread_process_total{application_id="wc",pod_name="wc-7",thread_id="wc-thread-0"} 1200
`)))
}

// What Prometheus would reject in one scrape cannot come out of the
// collector: a name with two types, two samples with the same labels,
// samples of a name with different label names.
func TestCollectKeepsAScrapeConsistent(t *testing.T) {
	t.Parallel()
	first := kafka("stream-thread-metrics", "x-total", true, "thread-id", thread)
	asGauge := kafka("stream-thread-metrics", "x-total", false, "thread-id", "wc-thread-1")
	again := kafka("stream-thread-metrics", "x_total", true, "thread-id", thread)
	again.Value = 7
	moreTags := kafka("stream-thread-metrics", "x-total", true, "thread-id", "wc-thread-2", "extra", "e")
	snap := []streams.Metric{first, asGauge, again, moreTags}
	c := newCollector(func() []streams.Metric { return snap })
	reg := prom.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kafka_streams_thread_x_total what x-total measures (Kafka Streams: stream-thread-metrics x-total)
# TYPE kafka_streams_thread_x_total counter
kafka_streams_thread_x_total{application_id="",extra="",thread_id="wc-thread-0"} 1
kafka_streams_thread_x_total{application_id="",extra="e",thread_id="wc-thread-2"} 1
`)))
}
