package prometheus

import (
	"cmp"
	"slices"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"

	streams "github.com/gostreams/streams"
)

// groupPrefixes are the name prefixes of Kafka Streams' metric groups (and
// of the consumer's, for records-lag). Other groups get one by rule
// (prefix).
var groupPrefixes = map[string]string{
	"stream-metrics":                 "kafka_streams_client",
	"stream-thread-metrics":          "kafka_streams_thread",
	"stream-task-metrics":            "kafka_streams_task",
	"stream-processor-node-metrics":  "kafka_streams_processor_node",
	"stream-state-metrics":           "kafka_streams_state",
	"stream-record-cache-metrics":    "kafka_streams_record_cache",
	"consumer-fetch-manager-metrics": "kafka_consumer_fetch_manager",
}

// LabelApplicationID is the label every exported metric carries: the
// application id, the client-id of the app's stream-metrics.
const LabelApplicationID = "application_id"

// Labels the store tags become: a store's metrics are tagged
// "<type>-state-id" (in-memory-state-id, rocksdb-state-id), which would
// give one metric different label names by store type.
const (
	LabelStore     = "store"
	LabelStoreType = "store_type"
)

// label is one label of a sample.
type label struct{ name, value string }

// sample is a Kafka metric as Prometheus sees it.
type sample struct {
	name   string
	help   string
	typ    prom.ValueType
	value  float64
	labels []label // sorted by name
}

// mapMetric maps m to Prometheus' names and units (see the package doc).
func mapMetric(m streams.Metric) sample {
	s := sample{
		name:  prefix(m.Name.Group) + "_" + snake(m.Name.Name),
		help:  m.Description,
		typ:   prom.GaugeValue,
		value: m.Value,
	}
	if s.help == "" {
		s.help = m.Name.Name
	}
	if isLatency(m.Name.Name) {
		s.name += "_seconds"
		s.value /= 1e3
		if h, ok := strings.CutSuffix(s.help, ", in milliseconds"); ok {
			s.help = h + ", in seconds"
		} else {
			s.help += ", in seconds"
		}
	}
	if m.Total {
		s.typ = prom.CounterValue
		if !strings.HasSuffix(s.name, "_total") {
			s.name += "_total"
		}
	}
	s.help += " (Kafka Streams: " + m.Name.Group + " " + m.Name.Name + ")"
	for k, v := range m.Name.Tags {
		if typ, ok := strings.CutSuffix(k, "-state-id"); ok && typ != "" {
			s.labels = append(s.labels, label{LabelStore, v}, label{LabelStoreType, typ})
			continue
		}
		s.labels = append(s.labels, label{labelName(k), v})
	}
	// Two tags of one label name ("store" and a "rocksdb-state-id") keep
	// the smaller value, so that the choice does not depend on map order.
	slices.SortFunc(s.labels, func(a, b label) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})
	s.labels = slices.CompactFunc(s.labels, func(a, b label) bool { return a.name == b.name })
	return s
}

// prefix is group's name prefix: its entry in groupPrefixes, or by rule
// "kafka_streams_" and the rest of a "stream-…-metrics" group, "kafka_"
// and the rest of any other "…-metrics".
func prefix(group string) string {
	if p, ok := groupPrefixes[group]; ok {
		return p
	}
	g := strings.TrimSuffix(group, "-metrics")
	if rest, ok := strings.CutPrefix(g, "stream-"); ok {
		return "kafka_streams_" + snake(rest)
	}
	return "kafka_" + snake(g)
}

// isLatency reports whether a Kafka name is a statistic of a latency
// (process-latency-avg, record-e2e-latency-max), which the snapshot has in
// milliseconds.
func isLatency(name string) bool {
	rest, ok := strings.CutSuffix(name, "-avg")
	if !ok {
		if rest, ok = strings.CutSuffix(name, "-max"); !ok {
			rest, ok = strings.CutSuffix(name, "-min")
		}
	}
	return ok && (rest == "latency" || strings.HasSuffix(rest, "-latency"))
}

// snake turns a Kafka name into one Prometheus accepts: every character
// but ASCII letters, digits and '_' becomes '_' ("process-rate" →
// "process_rate").
func snake(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// labelName is a tag's label name: snake, and not starting with a digit
// or "__" (reserved to Prometheus).
func labelName(tag string) string {
	n := snake(tag)
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	for strings.HasPrefix(n, "__") {
		n = n[1:]
	}
	return n
}
