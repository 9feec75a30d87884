// Package wordcountrun is the main of the word-count examples,
// examples/wordcount (Processor API) and examples/wordcount-dsl (DSL): the
// same flags, input and output for both, so that the two print the same
// lines on any input.
package wordcountrun

import (
	"bufio"
	"cmp"
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
	"github.com/gostreams/streams/examples/internal/describeflag"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// Program is one word-count topology and its topics.
type Program struct {
	// Name prefixes the progress lines and errors ("wordcount").
	Name string
	// Topology builds the topology.
	Topology func() (*topology.Topology, error)
	// InputTopic and OutputTopic are the topics it reads and writes.
	InputTopic, OutputTopic string
	// Repartition is the name of its repartition topic (the <name> of
	// "<application.id>-<name>-repartition").
	Repartition string
	// CountSerde decodes the output's values.
	CountSerde serde.Serde[int64]
}

const sampleText = `all streams lead to kafka
hello kafka streams
join kafka summit
`

// Options are the flags of the examples.
type Options struct {
	Input      string
	Brokers    string
	AppID      string
	Partitions int
	Timeout    time.Duration
	// Describe, when set, says to print the topology in that format
	// instead of running it (see Describe).
	Describe describeflag.Format
}

// ParseFlags parses the examples' flags from args with fs
// (flag.CommandLine in Main). Arguments left after the flags are an error.
func ParseFlags(fs *flag.FlagSet, args []string, p Program) (Options, error) {
	var o Options
	fs.StringVar(&o.Input, "input", "", "read lines from `FILE` instead of the built-in sample text")
	fs.StringVar(&o.Brokers, "brokers", "", "comma-separated `host:port` list of an existing cluster; default: start one in-process")
	fs.StringVar(&o.AppID, "app-id", p.Name, "the application id (consumer group, internal topic prefix)")
	fs.IntVar(&o.Partitions, "partitions", 4, "partitions of the input topic, if it is created")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "give up if processing takes longer")
	describeflag.Var(fs, &o.Describe)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q; %s", fs.Args(), cmp.Or(describeflag.Misplaced(o.Describe, fs.Args()), "pass a file with -input"))
	}
	return o, nil
}

// Describe writes p's topology to w in format f, as -describe does.
func Describe(w io.Writer, p Program, f describeflag.Format) error {
	topo, err := p.Topology()
	if err != nil {
		return err
	}
	return describeflag.Write(w, topo, f)
}

// Main parses the flags and runs p (or describes it, with -describe),
// exiting with status 1 on an error, 2 on a bad argument.
func Main(p Program) {
	o, err := ParseFlags(flag.CommandLine, os.Args[1:], p)
	if err != nil {
		fmt.Fprintln(os.Stderr, p.Name+":", err)
		os.Exit(2)
	}
	if o.Describe != "" {
		if err := Describe(os.Stdout, p, o.Describe); err != nil {
			fmt.Fprintln(os.Stderr, p.Name+":", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Run(ctx, p, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, p.Name+":", err)
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

// Run writes the lines of o.Input (or the sample text) to p's input topic,
// runs p until every record and every repartitioned word is processed and
// committed, and prints the latest count of each word, "word count", sorted
// by word.
func Run(ctx context.Context, p Program, o Options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	lines, err := readLines(o.Input)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	cluster, err := embedded.Open(o.Brokers, stderr, p.Name)
	if err != nil {
		return err
	}
	defer cluster.Close()
	if err := cluster.CreateTopic(ctx, p.InputTopic, int32(o.Partitions)); err != nil {
		return err
	}
	if err := cluster.CreateTopic(ctx, p.OutputTopic, int32(o.Partitions)); err != nil {
		return err
	}
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: p.InputTopic, Value: []byte(l)}
	}
	if err := cluster.Produce(ctx, recs...); err != nil {
		return fmt.Errorf("producing the input: %w", err)
	}
	fmt.Fprintf(stderr, "%s: wrote %d lines to %s\n", p.Name, len(lines), p.InputTopic)

	topo, err := p.Topology()
	if err != nil {
		return err
	}
	stateDir, err := os.MkdirTemp("", p.Name+"-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := streams.New(topo, streams.Config{
		ApplicationID:  o.AppID,
		Brokers:        cluster.Addrs(),
		StateDir:       stateDir,
		CommitInterval: 100 * time.Millisecond,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	if err := cluster.RunUntilCaughtUp(ctx, app, o.AppID, p.InputTopic, streams.RepartitionTopic(o.AppID, p.Repartition)); err != nil {
		return err
	}
	fmt.Fprintln(stderr, p.Name+": every record processed; reading", p.OutputTopic)

	out, err := cluster.ReadAll(ctx, p.OutputTopic)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for _, r := range out {
		n, err := p.CountSerde.Deserialize(r.Value)
		if err != nil {
			return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		counts[string(r.Key)] = n // records of a word are in order in its partition
	}
	fmt.Fprintf(stderr, "%s: %d lines, %d distinct words\n", p.Name, len(lines), len(counts))
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(stdout, "%s %d\n", w, counts[w])
	}
	return nil
}
