package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// An app that upper-cases every record, run on an in-process Kafka until
// it has processed its input.
func Example() {
	ctx := context.Background()
	cluster, _ := embedded.Start() // or brokers of a real cluster
	defer cluster.Close()
	_ = cluster.CreateTopic(ctx, "words", 1)
	_ = cluster.CreateTopic(ctx, "shouts", 1)
	_ = cluster.Produce(ctx, &kgo.Record{Topic: "words", Value: []byte("hello")}, &kgo.Record{Topic: "words", Value: []byte("streams")})

	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", topology.Source[string, string]{Topics: []string{"words"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	up := topology.AddProcessor(b, "upper", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue(strings.ToUpper(rec.Value)))
	}), in)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "shouts", KeySerde: serde.String(), ValueSerde: serde.String()}, up)
	topo, _ := b.Build()

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID:  "shouter",
		Brokers:        cluster.Addrs(),
		StateDir:       dir,
		CommitInterval: 100 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	_ = cluster.WaitCaughtUp(ctx, "shouter", "words")
	_ = app.Close()
	fmt.Println("run:", <-done)

	recs, _ := cluster.ReadAll(ctx, "shouts")
	for _, r := range recs {
		fmt.Println(string(r.Value))
	}
	// Output:
	// run: <nil>
	// HELLO
	// STREAMS
}
