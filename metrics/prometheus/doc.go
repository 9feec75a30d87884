// Package prometheus exports a streams.App's metrics to Prometheus, on
// github.com/prometheus/client_golang, with Prometheus' names for Kafka
// Streams' ones. It is a package of its own so that the core does not
// depend on client_golang.
//
// The core types:
//
//   - NewCollector: a prometheus.Collector over an app's metrics
//     (App.Metrics().Values), for a registry of your own.
//   - Handler: an http.Handler that serves them, from a registry that holds
//     only them, for /metrics.
//   - Option: ConstLabels, labels every metric carries.
//
// A minimal setup:
//
//	http.Handle("/metrics", prometheus.Handler(app))
//
// # Names
//
// A Kafka metric, a name in a group with tags, becomes one Prometheus
// sample:
//
//   - Its name is the group's prefix (below), '_', and the Kafka name with
//     every '-' (any character but letters, digits and '_') made '_'.
//   - A -total (Metric.Total: it only grows) is a counter, named with one
//     "_total" at the end. Everything else (-rate, -avg, -min, -max, and
//     gauges such as records-lag) is a gauge. Rates are per second over
//     the last 30 seconds, as Kafka Streams computes them; in PromQL,
//     rate() of the counter over a range of your choice is usually better.
//   - Latencies (a -latency-avg, -latency-min or -latency-max, which the
//     snapshot has in milliseconds, as Kafka's) are converted to seconds,
//     Prometheus' base unit, and named with "_seconds" at the end.
//   - The help text is the Kafka metric's description (its unit changed to
//     seconds for latencies), followed by its Kafka group and name.
//   - Tags are labels, '-' made '_' (thread-id → thread_id). A store's tag,
//     "<type>-state-id" (in-memory-state-id, rocksdb-state-id), becomes two
//     labels, store (the store's name) and store_type ("in-memory",
//     "rocksdb"), so that a store metric has the same label names whatever
//     the store's type: Prometheus wants one set of label names per name.
//   - Every sample carries application_id, the app's application id, and
//     the constant labels of ConstLabels.
//
// The groups' prefixes, their labels besides application_id, and an
// example of each (a group not listed gets "kafka_streams_" and the rest
// of a "stream-…-metrics" group, or "kafka_" and the rest of another
// "…-metrics"):
//
//	group                           prefix                        labels
//	stream-metrics                  kafka_streams_client          client_id
//	stream-thread-metrics           kafka_streams_thread          thread_id
//	stream-task-metrics             kafka_streams_task            thread_id, task_id
//	stream-processor-node-metrics   kafka_streams_processor_node  thread_id, task_id, processor_node_id
//	consumer-fetch-manager-metrics  kafka_consumer_fetch_manager  client_id, topic, partition
//	stream-state-metrics            kafka_streams_state           thread_id, task_id, store, store_type
//	stream-record-cache-metrics     kafka_streams_record_cache    thread_id, task_id, record_cache_id
//
//	Kafka Streams (group: name)                                 Prometheus                                                   type
//	stream-metrics: alive-stream-threads                        kafka_streams_client_alive_stream_threads                    gauge
//	stream-thread-metrics: process-total                        kafka_streams_thread_process_total                           counter
//	stream-thread-metrics: process-rate                         kafka_streams_thread_process_rate                            gauge
//	stream-thread-metrics: process-latency-avg (ms)             kafka_streams_thread_process_latency_avg_seconds             gauge
//	stream-thread-metrics: poll-records-max                     kafka_streams_thread_poll_records_max                        gauge
//	stream-thread-metrics: task-created-total                   kafka_streams_thread_task_created_total                      counter
//	stream-task-metrics: dropped-records-total                  kafka_streams_task_dropped_records_total                     counter
//	stream-processor-node-metrics: record-e2e-latency-max (ms)  kafka_streams_processor_node_record_e2e_latency_max_seconds  gauge
//	consumer-fetch-manager-metrics: records-lag                 kafka_consumer_fetch_manager_records_lag                     gauge
//	stream-state-metrics: put-total                             kafka_streams_state_put_total                                counter
//	stream-state-metrics: get-latency-avg (ms)                  kafka_streams_state_get_latency_avg_seconds                  gauge
//	stream-record-cache-metrics: hit-ratio-avg                  kafka_streams_record_cache_hit_ratio_avg                     gauge
//
// The records-lag's client_id is the stream thread's client id, the
// thread_id of its thread's metrics; stream-metrics' client_id is the
// application id.
//
// # Values with none
//
// A -avg, -min or -max is NaN when nothing was recorded in the last 30
// seconds (an idle thread's latencies, a punctuation that never ran).
// Such a sample is left out of the scrape, not exported as NaN: "no
// value" is what an absent sample means to Prometheus, while a NaN would
// make every sum or average over threads or tasks NaN too.
//
// # Metrics that come and go
//
// A task's metrics go with the task when it moves to another thread or
// instance, a thread's with the thread, a partition's lag with the
// partition: they leave the scrape, and a task that comes back starts its
// counters from zero, which Prometheus' rate() reads as a counter reset.
// So the collector is unchecked: it describes nothing in advance, and
// each scrape exports what the app has then.
package prometheus
