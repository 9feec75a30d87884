package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/monitor"
	"github.com/gostreams/streams/serde"
)

// A word count with its monitor mounted at /monitor/ of the app's own
// server, on an in-process Kafka. Open /monitor/ in a browser to see the
// page; here a client reads the state the page polls.
func Example() {
	ctx := context.Background()
	cluster, _ := embedded.Start() // or brokers of a real cluster
	defer cluster.Close()
	_ = cluster.CreateTopic(ctx, "lines", 1)
	_ = cluster.Produce(ctx, &kgo.Record{Topic: "lines", Value: []byte("hello kafka hello streams")})

	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{"lines"}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	kstream.GroupBy(kstream.FlatMapValues(lines, strings.Fields), func(_, w string) string { return w }).
		Count(kstream.Materialized[string, int64]{Name: "Counts"})
	topo, _ := sb.Build()

	srv := httptest.NewUnstartedServer(nil) // its address is the app's ApplicationServer
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	restores := &monitor.Restores{}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "monitor-example", Brokers: cluster.Addrs(), StateDir: dir,
		ApplicationServer: srv.Listener.Addr().String(), RestoreListener: restores, Logger: quiet,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { _ = app.Close(); <-done }()

	q, _ := iq.New(app, iq.Config{Prefix: "/iq/", Logger: quiet})
	_ = iq.KeyValue[string, int64](q, "Counts", iq.StringKeys(), serde.String())
	m, err := monitor.New(app, topo, monitor.Config{Title: "word count", IQ: q, Restores: restores})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/monitor/", http.StripPrefix("/monitor", m))
	mux.Handle("/iq/", q)
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	// The page polls /monitor/api/state; wait for the count of "hello".
	var st monitor.Status
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var hello iq.KeyResult[string, int64]
		if get(srv.URL+"/monitor/iq/stores/Counts/keys/hello", &hello) && hello.Value == 2 &&
			get(srv.URL+"/monitor/api/state", &st) && st.State == "Running" {
			break
		}
	}
	fmt.Println(st.Title+":", st.State)
	for _, th := range st.Threads {
		fmt.Println(th.Name+":", th.State)
		for _, tk := range th.Active {
			fmt.Println("  task", tk.ID, tk.State, tk.Partitions)
		}
	}
	for _, s := range st.Stores {
		fmt.Printf("store %s, partition %d: %s, lag %d\n", s.Store, s.Partition, s.Kind, s.Lag)
	}
	// Output:
	// word count: Running
	// monitor-example-thread-0: Running
	//   task 0_0 Running [monitor-example-Counts-repartition-0]
	//   task 1_0 Running [lines-0]
	// store Counts, partition 0: active, lag 0
}

// get decodes the JSON at url into v and reports whether it answered 200.
func get(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
}
