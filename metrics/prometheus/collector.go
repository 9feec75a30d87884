package prometheus

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	streams "github.com/gostreams/streams"
)

// Option configures a collector (NewCollector, Handler).
type Option interface{ apply(*config) }

type config struct {
	constLabels prom.Labels
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// ConstLabels adds labels to every metric, such as the instance's pod, on
// top of application_id (which they cannot replace). Their names are made
// valid as tags' are ('-' made '_'), and a tag's label of the same name
// wins over a constant one. Default: none.
func ConstLabels(labels prom.Labels) Option {
	return optionFunc(func(c *config) {
		if c.constLabels == nil {
			c.constLabels = prom.Labels{}
		}
		for k, v := range labels {
			c.constLabels[k] = v
		}
	})
}

// collector exports a snapshot of an app's metrics.
type collector struct {
	snapshot func() []streams.Metric
	// labels are application_id and the constant labels, by name.
	labels []label
}

// NewCollector returns a collector of app's metrics (App.Metrics().Values),
// named as the package doc says, for a registry of your own:
//
//	reg := prom.NewRegistry()
//	reg.MustRegister(prometheus.NewCollector(app), collectors.NewGoCollector())
//
// It is unchecked: its Describe sends nothing, since the metrics come and
// go with the app's threads, tasks, partitions and stores. Each Collect
// takes a snapshot, safe from any goroutine and while the app runs.
func NewCollector(app *streams.App, opts ...Option) prom.Collector {
	return newCollector(func() []streams.Metric { return app.Metrics().Values }, opts...)
}

func newCollector(snapshot func() []streams.Metric, opts ...Option) *collector {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	// The client-level metrics, registered when the app is made, carry
	// the application id as their client-id.
	var appID string
	for _, m := range snapshot() {
		if m.Name.Group == "stream-metrics" && m.Name.Tags["client-id"] != "" {
			appID = m.Name.Tags["client-id"]
			break
		}
	}
	c := &collector{snapshot: snapshot, labels: []label{{LabelApplicationID, appID}}}
	for k, v := range cfg.constLabels {
		if k := labelName(k); k != LabelApplicationID {
			c.labels = append(c.labels, label{k, v})
		}
	}
	// Two names made one ("pod-name", "pod_name") keep the smaller value.
	slices.SortFunc(c.labels, func(a, b label) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})
	c.labels = slices.CompactFunc(c.labels, func(a, b label) bool { return a.name == b.name })
	return c
}

// Describe sends nothing: the collector is unchecked (NewCollector).
func (c *collector) Describe(chan<- *prom.Desc) {}

// family is the samples of one name in a scrape.
type family struct {
	help    string
	typ     prom.ValueType
	labels  []string // every sample's label names, sorted
	samples []sample
}

// Collect sends the app's metrics now, leaving out those with no value
// (NaN). Prometheus wants one help, one type and one set of label names
// per name, and no two samples of a name with the same labels: the first
// sample of a name in the snapshot sets its help and type, a sample of
// another type is left out, a sample that lacks a label of its name has
// it empty (which Prometheus reads as absent), and of two samples with
// the same labels the first is kept. The names the runtime records need
// none of this (see the tests); it keeps an odd metric from failing the
// scrape.
func (c *collector) Collect(ch chan<- prom.Metric) {
	fams := map[string]*family{}
	var order []string
	for _, m := range c.snapshot() {
		if math.IsNaN(m.Value) {
			continue
		}
		s := mapMetric(m)
		s.labels = c.withConstLabels(s.labels)
		f := fams[s.name]
		if f == nil {
			f = &family{help: s.help, typ: s.typ}
			fams[s.name] = f
			order = append(order, s.name)
		}
		if s.typ != f.typ {
			continue
		}
		f.samples = append(f.samples, s)
		for _, l := range s.labels {
			if !slices.Contains(f.labels, l.name) {
				f.labels = append(f.labels, l.name)
			}
		}
	}
	for _, name := range order {
		f := fams[name]
		slices.Sort(f.labels)
		desc := prom.NewDesc(name, f.help, f.labels, nil)
		seen := make(map[string]bool, len(f.samples))
		for _, s := range f.samples {
			values := make([]string, len(f.labels))
			for _, l := range s.labels {
				i, _ := slices.BinarySearch(f.labels, l.name)
				values[i] = l.value
			}
			key := strings.Join(values, "\xff")
			if seen[key] {
				continue
			}
			seen[key] = true
			m, err := prom.NewConstMetric(desc, f.typ, s.value, values...)
			if err != nil {
				m = prom.NewInvalidMetric(desc, err)
			}
			ch <- m
		}
	}
}

// withConstLabels adds the collector's labels to labels (sorted by name)
// where labels has none of that name.
func (c *collector) withConstLabels(labels []label) []label {
	for _, l := range c.labels {
		if !slices.ContainsFunc(labels, func(x label) bool { return x.name == l.name }) {
			labels = append(labels, l)
		}
	}
	slices.SortFunc(labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	return labels
}

// Handler serves app's metrics in Prometheus' formats (the text format,
// or what the scraper's Accept header negotiates), from a registry of
// their own: mount it at /metrics. It holds no Go runtime or process
// metrics; for those, register NewCollector in a registry with them and
// serve it with promhttp.HandlerFor. A metric that cannot be exported is
// left out of the scrape rather than failing it.
func Handler(app *streams.App, opts ...Option) http.Handler {
	reg := prom.NewRegistry()
	reg.MustRegister(NewCollector(app, opts...))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
