package streams

import (
	"fmt"
	"time"

	"github.com/gostreams/streams/internal/metrics"
)

// RecordingLevel is how much an app's metrics record, as Kafka Streams'
// metrics.recording.level (Config.MetricsRecordingLevel).
type RecordingLevel int8

const (
	// RecordInfo records the client, thread, task dropped-records,
	// end-to-end latency and consumer lag metrics (the default).
	RecordInfo RecordingLevel = iota
	// RecordDebug adds the per-task process counts and the state stores'
	// operation rates and latencies and cache hit ratios.
	RecordDebug
	// RecordTrace records everything.
	RecordTrace
)

func (l RecordingLevel) String() string { return metrics.Level(l).String() }

// MetricName names a metric as Kafka Streams does: a name
// ("process-rate"), a group ("stream-thread-metrics") and tags
// ({"thread-id": "wordcount-thread-0"}).
type MetricName struct {
	Name, Group string
	Tags        map[string]string
}

func (n MetricName) String() string { return fmt.Sprintf("%s:%s%v", n.Group, n.Name, n.Tags) }

// Metric is one metric's value in a snapshot (Metrics.Values).
//
// Rates are per second over the last 30 seconds; -avg, -min and -max are
// over the values recorded in the last 30 seconds (NaN when there were
// none); latencies are in milliseconds; -total counts since the sensor was
// made (a task's, since the task was created here).
type Metric struct {
	Name        MetricName
	Description string
	Level       RecordingLevel
	// Total says the value only grows (a -total), which exporters report
	// as a counter; other values are gauges.
	Total bool
	Value float64
}

// Find returns the metric named name in group whose tags include the
// key/value pairs of tags, the first in Values' order.
func (m Metrics) Find(group, name string, tags ...string) (Metric, bool) {
	for _, v := range m.Values {
		if v.Name.Group == group && v.Name.Name == name && hasTags(v.Name.Tags, tags) {
			return v, true
		}
	}
	return Metric{}, false
}

// Sum adds up the values of the metrics named name in group whose tags
// include tags (key/value pairs), such as a process-total over every
// thread.
func (m Metrics) Sum(group, name string, tags ...string) float64 {
	var sum float64
	for _, v := range m.Values {
		if v.Name.Group == group && v.Name.Name == name && hasTags(v.Name.Tags, tags) {
			sum += v.Value
		}
	}
	return sum
}

func hasTags(have map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if have[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}

// MetricPoint is a total at a time (App.MetricHistory).
type MetricPoint struct {
	Time  time.Time
	Total int64
}

// MetricHistory returns the values of a -total metric at each second of
// the last ten minutes the app ran, oldest first, for graphs; nil if there
// is no such metric.
func (a *App) MetricHistory(name MetricName) []MetricPoint {
	pts := a.registry.History(metricsName(name))
	if pts == nil {
		return nil
	}
	out := make([]MetricPoint, len(pts))
	for i, p := range pts {
		out[i] = MetricPoint{Time: p.Time, Total: p.Total}
	}
	return out
}

// metricsName is n in the registry's form.
func metricsName(n MetricName) metrics.Name {
	out := metrics.Name{Name: n.Name, Group: n.Group}
	for k, v := range n.Tags {
		out.Tags = append(out.Tags, metrics.Tag{Key: k, Value: v})
	}
	return out
}

func publicMetrics(vs []metrics.Value) []Metric {
	out := make([]Metric, len(vs))
	for i, v := range vs {
		tags := make(map[string]string, len(v.Name.Tags))
		for _, t := range v.Name.Tags {
			tags[t.Key] = t.Value
		}
		out[i] = Metric{
			Name:        MetricName{Name: v.Name.Name, Group: v.Name.Group, Tags: tags},
			Description: v.Description, Level: RecordingLevel(v.Level), Total: v.Kind == metrics.Total, Value: v.Value,
		}
	}
	return out
}
