package iq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// A word-count app whose counts are served over HTTP, on an in-process
// Kafka. Each instance listens first, so that it can advertise its
// address as its ApplicationServer, then runs the app and mounts the
// handler in its own mux. With more instances, a GET to any of them
// answers every word, forwarded to the instance that counts it.
func Example() {
	ctx := context.Background()
	cluster, _ := embedded.Start() // or brokers of a real cluster
	defer cluster.Close()
	_ = cluster.CreateTopic(ctx, "words", 2)

	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"words"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "count", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, string]) error {
		counts, err := processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
		if err != nil {
			return err
		}
		n, _, err := counts.Get(rec.Key)
		if err != nil {
			return err
		}
		return counts.Put(rec.Key, n+1)
	}), in)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topo, _ := b.Build()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	server := ln.Addr().String()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := streams.New(topo, streams.Config{
		ApplicationID:     "word-counts",
		Brokers:           cluster.Addrs(),
		StateDir:          dir,
		CommitInterval:    100 * time.Millisecond,
		ApplicationServer: server,
		Logger:            quiet,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { _ = app.Close(); <-done }()

	h, err := iq.New(app, iq.Config{Server: server, Prefix: "/iq/", Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := iq.KeyValue[string, int64](h, "counts", iq.StringKeys(), serde.String()); err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/iq/", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	for _, w := range []string{"hello", "streams", "hello"} {
		_ = cluster.Produce(ctx, &kgo.Record{Topic: "words", Key: []byte(w), Value: []byte(w)})
	}
	_ = cluster.WaitCaughtUp(ctx, "word-counts", "words")

	for _, path := range []string{"/iq/stores/counts/keys/hello", "/iq/stores/counts/keys/kafka"} {
		resp, err := http.Get("http://" + server + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		var got iq.KeyResult[string, int64]
		var e iq.Error
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &got) == nil {
			fmt.Printf("%s: %d (stale: %v, from this instance: %v)\n", got.Key, got.Value, got.Stale, got.Host == server)
		} else if json.Unmarshal(body, &e) == nil {
			fmt.Println(resp.StatusCode, e.Code)
		}
	}
	// Output:
	// hello: 2 (stale: false, from this instance: true)
	// 404 key_not_found
}
