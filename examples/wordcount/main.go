// Command wordcount counts the words of its input with the word-count
// topology (see Topology) running on Kafka, and prints one "word count"
// line per word, sorted by word.
//
// With no -brokers flag it starts an in-process Kafka (kfake) on 127.0.0.1,
// so it runs on a fresh machine with nothing else installed:
//
//	go run ./examples/wordcount                 # built-in sample text
//	go run ./examples/wordcount -input FILE     # the lines of FILE
//	go run ./examples/wordcount -brokers host:9092
//
// It writes the lines to the input topic, runs the app until every record
// (and every repartitioned word) is processed and committed, then reads the
// output topic and prints the latest count of each word. Words are the
// lower-cased line split on white space. Progress goes to stderr.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
)

const sampleText = `all streams lead to kafka
hello kafka streams
join kafka summit
`

type options struct {
	input      string
	brokers    string
	appID      string
	partitions int
	timeout    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.input, "input", "", "read lines from `FILE` instead of the built-in sample text")
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated `host:port` list of an existing cluster; default: start one in-process")
	flag.StringVar(&o.appID, "app-id", "wordcount", "the application id (consumer group, internal topic prefix)")
	flag.IntVar(&o.partitions, "partitions", 4, "partitions of the input topic, if it is created")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up if processing takes longer")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func readLines(path string) ([]string, error) {
	var in io.Reader = strings.NewReader(sampleText)
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	var lines []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return lines, nil
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	lines, err := readLines(o.input)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var cluster *embedded.Cluster
	if o.brokers == "" {
		fmt.Fprintln(stderr, "wordcount: starting an in-process Kafka on 127.0.0.1")
		cluster, err = embedded.Start()
	} else {
		cluster, err = embedded.Connect(strings.Split(o.brokers, ","))
	}
	if err != nil {
		return err
	}
	defer cluster.Close()
	if err := cluster.CreateTopic(ctx, InputTopic, int32(o.partitions)); err != nil {
		return err
	}
	if err := cluster.CreateTopic(ctx, OutputTopic, int32(o.partitions)); err != nil {
		return err
	}
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: InputTopic, Value: []byte(l)}
	}
	if err := cluster.Produce(ctx, recs...); err != nil {
		return fmt.Errorf("producing the input: %w", err)
	}
	fmt.Fprintf(stderr, "wordcount: wrote %d lines to %s\n", len(lines), InputTopic)

	topo, err := Topology()
	if err != nil {
		return err
	}
	stateDir, err := os.MkdirTemp("", "wordcount-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID:  o.appID,
		Brokers:        cluster.Addrs(),
		StateDir:       stateDir,
		CommitInterval: 100 * time.Millisecond,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	if err := cluster.RunUntilCaughtUp(ctx, app, o.appID, InputTopic, streams.RepartitionTopic(o.appID, RepartitionName)); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "wordcount: every record processed; reading", OutputTopic)

	out, err := cluster.ReadAll(ctx, OutputTopic)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for _, r := range out {
		n, err := CountSerde.Deserialize(r.Value)
		if err != nil {
			return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		counts[string(r.Key)] = n // records of a word are in order in its partition
	}
	fmt.Fprintf(stderr, "wordcount: %d lines, %d distinct words\n", len(lines), len(counts))
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(stdout, "%s %d\n", w, counts[w])
	}
	return nil
}
