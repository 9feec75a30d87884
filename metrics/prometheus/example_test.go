package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/metrics/prometheus"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// upper is a topology that writes each record of "in" to "out" in upper
// case.
func upper() *topology.Topology {
	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	up := topology.AddProcessor(b, "upper", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue(strings.ToUpper(rec.Value)))
	}), in)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, up)
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}
	return topo
}

// An app's metrics at /metrics, for Prometheus to scrape.
func ExampleHandler() {
	app, err := streams.New(upper(), streams.Config{ApplicationID: "upper", Brokers: []string{"localhost:9092"}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = app.Run(context.Background()) }()
	http.Handle("/metrics", prometheus.Handler(app))
	log.Fatal(http.ListenAndServe(":2112", nil))
}

// The collector in a registry of your own, with the Go runtime's metrics
// and a label for the instance.
func ExampleNewCollector() {
	app, err := streams.New(upper(), streams.Config{ApplicationID: "upper", Brokers: []string{"localhost:9092"}})
	if err != nil {
		log.Fatal(err)
	}
	reg := prom.NewRegistry()
	host, _ := os.Hostname()
	reg.MustRegister(
		prometheus.NewCollector(app, prometheus.ConstLabels(prom.Labels{"host": host})),
		collectors.NewGoCollector(),
	)
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() { _ = app.Run(context.Background()) }()
	log.Fatal(http.ListenAndServe(":2112", nil))
}

// A scrape of an app on an in-process Kafka, after it processed three
// records: a few of its lines.
func Example() {
	ctx := context.Background()
	cluster, _ := embedded.Start() // or brokers of a real cluster
	defer cluster.Close()
	_ = cluster.CreateTopic(ctx, "in", 1)
	_ = cluster.CreateTopic(ctx, "out", 1)
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	app, err := streams.New(upper(), streams.Config{
		ApplicationID: "upper", Brokers: cluster.Addrs(), StateDir: dir,
		CommitInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	defer func() { stop(); <-done }()

	mux := http.NewServeMux()
	mux.Handle("/metrics", prometheus.Handler(app))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, v := range []string{"a", "b", "c"} {
		_ = cluster.Produce(ctx, &kgo.Record{Topic: "in", Value: []byte(v)})
	}
	_ = cluster.WaitCaughtUp(ctx, "upper", "in")

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		for _, name := range []string{"kafka_streams_client_alive_stream_threads{", "kafka_streams_thread_process_total{", "kafka_consumer_fetch_manager_records_lag{"} {
			if strings.HasPrefix(lines.Text(), name) {
				fmt.Println(lines.Text())
			}
		}
	}
	// Output:
	// kafka_consumer_fetch_manager_records_lag{application_id="upper",client_id="upper-thread-0",partition="0",topic="in"} 0
	// kafka_streams_client_alive_stream_threads{application_id="upper",client_id="upper"} 1
	// kafka_streams_thread_process_total{application_id="upper",thread_id="upper-thread-0"} 3
}
