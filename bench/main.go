// Command bench is an end-to-end word-count benchmark on the embedded Kafka
// cluster (kfake): our streams App beside a raw franz-go consume→produce
// pipe (the ceiling) and beside lovoo/goka, over the same input. See
// README.md for what is measured and how.
//
//	go run .                                  # everything, 1,000,000 words
//	go run . -systems ours,raw -partitions 4  # a subset
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gostreams/streams/internal/embedded"
)

type options struct {
	words          int
	vocab          int
	wordsPerLine   int
	seed           uint64
	partitions     []int
	systems        []string
	runs           int
	commitInterval time.Duration
	maxPoll        int
	threads        int
	timeout        time.Duration
	verbose        bool
}

func (o options) logLevel() slog.Level {
	if o.verbose {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// system is one contender: run times one run on a fresh cluster whose input
// topic is already written, and checks its result.
type system struct {
	name string
	run  func(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (time.Duration, error)
	// outputs are topics to create, like the input, before the timer starts.
	outputs []string
}

var allSystems = []system{
	{name: "raw", run: runRaw, outputs: []string{rawOutputTopic}},
	{name: "goka", run: runGoka},
	{name: "ours", run: runOurs, outputs: []string{oursOutputTopic}},
}

func main() {
	var o options
	var partitions, systems string
	flag.IntVar(&o.words, "words", 1_000_000, "number of words in the input")
	flag.IntVar(&o.vocab, "vocab", 1000, "number of distinct words")
	flag.IntVar(&o.wordsPerLine, "words-per-line", 10, "words in each input record")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the pseudo-random input")
	flag.StringVar(&partitions, "partitions", "1,4", "comma-separated partition counts of the input topic")
	flag.StringVar(&systems, "systems", "raw,goka,ours", "comma-separated systems to run: raw, goka, ours")
	flag.IntVar(&o.runs, "runs", 1, "runs of each system and partition count; the table shows the median")
	flag.DurationVar(&o.commitInterval, "commit-interval", 100*time.Millisecond, "commit interval of every system")
	flag.IntVar(&o.maxPoll, "max-poll", 1000, "records per poll, ours (Config.MaxPollRecords) and raw")
	flag.IntVar(&o.threads, "threads", 1, "ours: Config.NumStreamThreads")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a run that takes longer")
	flag.BoolVar(&o.verbose, "v", false, "show the systems' logs")
	flag.Parse()

	if err := parseOptions(&o, partitions, systems); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseOptions(o *options, partitions, systems string) error {
	for f := range strings.SplitSeq(partitions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-partitions: %q is not a positive count", f)
		}
		o.partitions = append(o.partitions, n)
	}
	for f := range strings.SplitSeq(systems, ",") {
		f = strings.TrimSpace(f)
		if !slices.ContainsFunc(allSystems, func(s system) bool { return s.name == f }) {
			return fmt.Errorf("-systems: %q is not one of raw, goka, ours", f)
		}
		o.systems = append(o.systems, f)
	}
	switch {
	case o.words < 1:
		return fmt.Errorf("-words: %d is not positive", o.words)
	case o.vocab < 1 || o.vocab > 100_000:
		return fmt.Errorf("-vocab: %d is not in 1..100000", o.vocab)
	case o.wordsPerLine < 1:
		return fmt.Errorf("-words-per-line: %d is not positive", o.wordsPerLine)
	case o.runs < 1:
		return fmt.Errorf("-runs: %d is not positive", o.runs)
	case o.commitInterval <= 0:
		return fmt.Errorf("-commit-interval: %v is not positive", o.commitInterval)
	case o.maxPoll < 1:
		return fmt.Errorf("-max-poll: %d is not positive", o.maxPoll)
	case o.threads < 1:
		return fmt.Errorf("-threads: %d is not positive", o.threads)
	}
	return nil
}

type result struct {
	system     string
	partitions int
	elapsed    time.Duration // the median of the runs
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	wl := newWorkload(o.words, o.vocab, o.wordsPerLine, o.seed)
	fmt.Fprintf(stderr, "bench: %d words in %d lines, %d distinct; %s, %d CPUs; commit interval %v\n",
		o.words, len(wl.lines), len(wl.expected), runtime.Version(), runtime.NumCPU(), o.commitInterval)
	var results []result
	for _, p := range o.partitions {
		for _, s := range allSystems {
			if !slices.Contains(o.systems, s.name) {
				continue
			}
			var times []time.Duration
			for i := range o.runs {
				d, err := runOnce(ctx, o, s, p, wl)
				if err != nil {
					return fmt.Errorf("%s, %d partitions, run %d: %w", s.name, p, i+1, err)
				}
				fmt.Fprintf(stderr, "bench: %-4s %d partitions: %.2fs, %s words/s (checked)\n",
					s.name, p, d.Seconds(), perSecond(o.words, d))
				times = append(times, d)
			}
			slices.Sort(times)
			results = append(results, result{s.name, p, times[len(times)/2]})
		}
	}
	printTable(stdout, o, results)
	return nil
}

// runOnce starts a cluster, writes the input and hands over to the system,
// which times itself from its start until its group has committed
// everything.
func runOnce(ctx context.Context, o options, s system, partitions int, wl *workload) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := embedded.Start()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	for _, t := range append([]string{inputTopic}, s.outputs...) {
		if err := c.CreateTopic(ctx, t, int32(partitions)); err != nil {
			return 0, err
		}
	}
	if err := wl.produce(ctx, c, partitions); err != nil {
		return 0, err
	}
	runtime.GC() // the input's garbage is not the system's
	return s.run(ctx, o, c, wl)
}

func perSecond(n int, d time.Duration) string {
	return groupDigits(int64(float64(n) / d.Seconds()))
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func printTable(w io.Writer, o options, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tpartitions\tseconds\twords/s\tours/raw\tours/goka\t")
	find := func(name string, p int) (result, bool) {
		i := slices.IndexFunc(results, func(r result) bool { return r.system == name && r.partitions == p })
		if i < 0 {
			return result{}, false
		}
		return results[i], true
	}
	for _, r := range results {
		vsRaw, vsGoka := "", ""
		if r.system == "ours" {
			// Ratios of throughput (words/s): ours divided by theirs, so
			// 0.50 means ours does half as many words a second.
			if raw, ok := find("raw", r.partitions); ok {
				vsRaw = fmt.Sprintf("%.2f", raw.elapsed.Seconds()/r.elapsed.Seconds())
			}
			if g, ok := find("goka", r.partitions); ok {
				vsGoka = fmt.Sprintf("%.2f", g.elapsed.Seconds()/r.elapsed.Seconds())
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%s\t%s\t\n", r.system, r.partitions, r.elapsed.Seconds(),
			perSecond(o.words, r.elapsed), vsRaw, vsGoka)
	}
	tw.Flush()
}
