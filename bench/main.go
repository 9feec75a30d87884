// Command bench is an end-to-end word-count benchmark on the embedded Kafka
// cluster (kfake): our streams App, with its counts in memory and in
// RocksDB, beside a raw franz-go consume→produce pipe (raw, the ceiling),
// the same word count written by hand on franz-go (raw2) and lovoo/goka,
// over the same input; and the restore of the word count's store from a
// changelog of 1,000,000 records beside a raw franz-go read of the same
// changelog. See README.md for what is measured and how.
//
//	go run .                                  # everything, 1,000,000 words
//	go run . -systems ours,raw -partitions 4  # a subset
//	go run . -systems restore,restore-rocksdb # the restores only
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
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
	cpuProfile     string
	// restoreRecords and restoreKeys shape the changelog of the restore
	// systems.
	restoreRecords int
	restoreKeys    int
	// memoryKeys is the distinct words of the memory systems' input.
	memoryKeys int
	// latencyRates are the input rates (records/s) of the latency
	// systems, each written for latencyDuration.
	latencyRates    []int
	latencyDuration time.Duration
	// beforeStart and caughtUp, when set, run just before the word count's
	// App is made and as soon as it has caught up, while it still runs:
	// the memory systems sample there.
	beforeStart, caughtUp func()
}

// logLevel is the level of our App's logger: errors only, unless -v.
func (o options) logLevel() slog.Level {
	if o.verbose {
		return slog.LevelInfo
	}
	return slog.LevelError
}

// system is one contender: run times one run on a fresh cluster whose input
// topic is already written, and checks its result.
type system struct {
	name string
	run  func(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error)
	// outputs are topics to create, like the input, before the timer starts.
	outputs []string
}

var allSystems = []system{
	{name: "raw", run: runRaw, outputs: []string{rawOutputTopic}},
	{name: "raw2", run: runRaw2, outputs: []string{raw2ShuffleTopic, raw2OutputTopic}},
	{name: "goka", run: runGoka},
	{name: "ours", run: runOurs, outputs: []string{oursOutputTopic}},
	{name: "ours-rocksdb", run: runOursRocksDB, outputs: []string{oursOutputTopic}},
	{name: "ours-rocksdb-cached", run: runOursRocksDBCached, outputs: []string{oursOutputTopic}},
	{name: "ours-cached", run: runOursCached, outputs: []string{oursOutputTopic}},
	{name: "ours-eos", run: runOursEOS, outputs: []string{oursOutputTopic}},
	{name: "ours-window", run: runOursWindow, outputs: []string{oursOutputTopic}},
	{name: "ours-join", run: runOursJoin, outputs: []string{joinTableTopic, joinOutputTopic}},
}

// backendSystem is our App with the Counts store on one backend: the
// restore and the memory systems.
type backendSystem struct{ name, backend string }

// anySelected reports whether -systems names one of systems.
func anySelected(o options, systems []backendSystem) bool {
	return slices.ContainsFunc(systems, func(s backendSystem) bool { return slices.Contains(o.systems, s.name) })
}

// restoreSystems are the restore measurements (restore.go), each our
// App's restore of the word count's store with one backend, beside a raw
// read of the same changelog.
var restoreSystems = []backendSystem{
	{"restore", memoryBackend},
	{"restore-rocksdb", rocksdbBackend},
}

// systemNames lists every -systems value, for the flag's help and errors.
func systemNames() string {
	var names []string
	for _, s := range allSystems {
		names = append(names, s.name)
	}
	for _, s := range restoreSystems {
		names = append(names, s.name)
	}
	for _, s := range memorySystems {
		names = append(names, s.name)
	}
	for _, s := range latencySystems {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func main() {
	var o options
	var partitions, systems string
	flag.IntVar(&o.words, "words", 1_000_000, "number of words in the input")
	flag.IntVar(&o.vocab, "vocab", 1000, "number of distinct words")
	flag.IntVar(&o.wordsPerLine, "words-per-line", 10, "words in each input record")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the pseudo-random input")
	flag.StringVar(&partitions, "partitions", "1,4", "comma-separated partition counts of the input topic")
	flag.StringVar(&systems, "systems", "raw,raw2,goka,ours,ours-cached,ours-eos,ours-window,ours-join,ours-rocksdb,ours-rocksdb-cached,restore,restore-rocksdb,mem-ours,mem-ours-rocksdb,latency-kafka,latency-raw2,latency-ours,latency-ours-eos", "comma-separated systems to run: "+systemNames())
	flag.IntVar(&o.runs, "runs", 3, "runs of each system and partition count; the table shows the median")
	flag.DurationVar(&o.commitInterval, "commit-interval", 100*time.Millisecond, "commit interval of every system")
	flag.IntVar(&o.maxPoll, "max-poll", 1000, "records per poll: ours (Config.MaxPollRecords), raw and raw2")
	flag.IntVar(&o.threads, "threads", 1, "ours: Config.NumStreamThreads")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a run that takes longer")
	flag.BoolVar(&o.verbose, "v", false, "show the systems' logs")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole program to `FILE`")
	flag.IntVar(&o.restoreRecords, "restore-records", 1_000_000, "restore systems: records in the changelog")
	flag.IntVar(&o.restoreKeys, "restore-keys", 100_000, "restore systems: distinct keys in the changelog")
	flag.IntVar(&o.memoryKeys, "memory-keys", 1_000_000, "memory systems: distinct words, each once, in their input")
	rates := flag.String("latency-rates", "20000,100000", "latency systems: comma-separated input rates, records/s")
	flag.DurationVar(&o.latencyDuration, "latency-duration", 5*time.Second, "latency systems: how long the input is written at each rate")
	serve := flag.Bool("serve-broker", false, "run only the broker, for the memory systems' parent process (internal)")
	flag.Parse()
	if *serve {
		if err := serveBroker(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -serve-broker:", err)
			os.Exit(1)
		}
		return
	}

	if err := parseOptions(&o, partitions, systems, *rates); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseOptions(o *options, partitions, systems, rates string) error {
	for f := range strings.SplitSeq(partitions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-partitions: %q is not a positive count", f)
		}
		o.partitions = append(o.partitions, n)
	}
	for f := range strings.SplitSeq(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10_000_000 {
			return fmt.Errorf("-latency-rates: %q is not a rate in 1..10000000 records/s", f)
		}
		o.latencyRates = append(o.latencyRates, n)
	}
	for f := range strings.SplitSeq(systems, ",") {
		f = strings.TrimSpace(f)
		if !slices.ContainsFunc(allSystems, func(s system) bool { return s.name == f }) &&
			!slices.ContainsFunc(latencySystems, func(s latencySystem) bool { return s.name == f }) &&
			!slices.ContainsFunc(slices.Concat(restoreSystems, memorySystems), func(s backendSystem) bool { return s.name == f }) {
			return fmt.Errorf("-systems: %q is not one of %s", f, systemNames())
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
	case o.restoreRecords < 1:
		return fmt.Errorf("-restore-records: %d is not positive", o.restoreRecords)
	case o.restoreKeys < 1 || o.restoreKeys > 1_000_000:
		return fmt.Errorf("-restore-keys: %d is not in 1..1000000", o.restoreKeys)
	case o.memoryKeys < 1 || o.memoryKeys > 10_000_000:
		return fmt.Errorf("-memory-keys: %d is not in 1..10000000", o.memoryKeys)
	case o.latencyDuration <= 0:
		return fmt.Errorf("-latency-duration: %v is not positive", o.latencyDuration)
	}
	for _, r := range o.latencyRates {
		if n := float64(r) * o.latencyDuration.Seconds(); n < 1 || n > 100_000_000 {
			return fmt.Errorf("-latency-rates %d for -latency-duration %v: %.0f records, not in 1..100000000", r, o.latencyDuration, n)
		}
	}
	return nil
}

// measurement is one timed run: wall-clock time, and the CPU time the
// whole process (system under test and in-process broker) used meanwhile.
type measurement struct{ wall, cpu time.Duration }

type stopwatch struct {
	wall time.Time
	cpu  time.Duration
}

func startStopwatch() stopwatch { return stopwatch{time.Now(), cpuTime()} }

func (s stopwatch) stop() measurement {
	return measurement{time.Since(s.wall), cpuTime() - s.cpu}
}

type result struct {
	system      string
	partitions  int
	measurement // the run with the median wall-clock time
}

// run runs the word-count systems and prints their table, then the restore
// systems and theirs, then the aims (aims.go) with what this run measured.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	var counts []result
	var restores []restoreResult
	var err error
	if slices.ContainsFunc(allSystems, func(s system) bool { return slices.Contains(o.systems, s.name) }) {
		if counts, err = runWordCounts(ctx, o, stdout, stderr); err != nil {
			return err
		}
	}
	if anySelected(o, restoreSystems) {
		if restores, err = runRestores(ctx, o, stdout, stderr); err != nil {
			return err
		}
	}
	if anySelected(o, memorySystems) {
		fmt.Fprintln(stdout)
		if _, err := runMemories(ctx, o, stdout, stderr); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(latencySystems, func(s latencySystem) bool { return slices.Contains(o.systems, s.name) }) {
		fmt.Fprintln(stdout)
		if _, err := runLatencies(ctx, o, stdout, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	printAims(stdout, o.partitions, counts, restores)
	return nil
}

func runWordCounts(ctx context.Context, o options, stdout, stderr io.Writer) ([]result, error) {
	wl := newWorkload(o.words, o.vocab, o.wordsPerLine, o.seed)
	fmt.Fprintf(stderr, "bench: %d words in %d lines, %d distinct; %s, %d CPUs; commit interval %v\n",
		o.words, len(wl.lines), len(wl.expected), runtime.Version(), runtime.NumCPU(), o.commitInterval)
	var results []result
	for _, p := range o.partitions {
		for _, s := range allSystems {
			if !slices.Contains(o.systems, s.name) {
				continue
			}
			var runs []measurement
			for i := range o.runs {
				m, err := runOnce(ctx, o, s, p, wl)
				if err != nil {
					return nil, fmt.Errorf("%s, %d partitions, run %d: %w", s.name, p, i+1, err)
				}
				fmt.Fprintf(stderr, "bench: %-12s %d partitions, run %d: %.2fs, %s words/s, %.2f CPU-s; output checked\n",
					s.name, p, i+1, m.wall.Seconds(), perSecond(o.words, m.wall), m.cpu.Seconds())
				if o.verbose {
					fmt.Fprintf(stderr, "bench: %d goroutines left after the run\n", runtime.NumGoroutine())
				}
				runs = append(runs, m)
			}
			slices.SortFunc(runs, func(a, b measurement) int { return cmp.Compare(a.wall, b.wall) })
			results = append(results, result{s.name, p, runs[len(runs)/2]})
		}
	}
	printTable(stdout, o, results)
	return results, nil
}

// runOnce starts a cluster, writes the input and hands over to the system,
// which times itself from its start until its group has committed
// everything.
func runOnce(ctx context.Context, o options, s system, partitions int, wl *workload) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := embedded.Start()
	if err != nil {
		return measurement{}, err
	}
	defer c.Close()
	for _, t := range append([]string{inputTopic}, s.outputs...) {
		if err := c.CreateTopic(ctx, t, int32(partitions)); err != nil {
			return measurement{}, err
		}
	}
	if err := wl.produce(ctx, c, partitions); err != nil {
		return measurement{}, err
	}
	runtime.GC() // the input's garbage is not the system's
	return s.run(ctx, o, c, wl)
}

// find returns the result of system at partitions, or false where the run
// has none.
func find[R interface{ key() (string, int) }](results []R, system string, partitions int) (R, bool) {
	i := slices.IndexFunc(results, func(r R) bool { s, p := r.key(); return s == system && p == partitions })
	if i < 0 {
		var zero R
		return zero, false
	}
	return results[i], true
}

func (r result) key() (string, int) { return r.system, r.partitions }

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

// printTable prints one row per system and partition count. The ratios
// are of throughput (words/s) at the same partition count, with the row's
// system on top: ours/raw on the row of ours-rocksdb is ours-rocksdb
// divided by raw. 0.50 means the row's system does half as many words a
// second. rocksdb/memory is ours-rocksdb (or ours-rocksdb-cached) divided
// by ours; eos/alos is ours-eos (ExactlyOnce) divided by ours (AtLeastOnce,
// the same commit interval), and on the ours-eos row eos/cached is ours-eos
// divided by ours-cached (AtLeastOnce with the store's write cache, which
// like ExactlyOnce logs one change per key per commit); window/plain is
// ours-window (a count per word and 1-minute tumbling window) divided by
// ours.
func printTable(w io.Writer, o options, results []result) {
	others := []string{"raw", "raw2", "goka"}
	at := func(name string, partitions int) (result, bool) { return find(results, name, partitions) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "system\tpartitions\tseconds\twords/s\tCPU-s\t")
	for _, name := range others {
		fmt.Fprintf(tw, "ours/%s\t", name)
	}
	fmt.Fprintln(tw, "rocksdb/memory\teos/alos\teos/cached\twindow/plain\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%.2f\t", r.system, r.partitions, r.wall.Seconds(),
			perSecond(o.words, r.wall), r.cpu.Seconds())
		ours := strings.HasPrefix(r.system, "ours")
		for _, name := range others {
			if x, ok := at(name, r.partitions); ours && ok {
				fmt.Fprintf(tw, "%.2f\t", x.wall.Seconds()/r.wall.Seconds())
			} else {
				fmt.Fprint(tw, "\t")
			}
		}
		for _, col := range []struct{ prefix, base string }{{"ours-rocksdb", "ours"}, {"ours-eos", "ours"}, {"ours-eos", "ours-cached"}, {"ours-window", "ours"}} {
			if x, ok := at(col.base, r.partitions); strings.HasPrefix(r.system, col.prefix) && ok {
				fmt.Fprintf(tw, "%.2f\t", x.wall.Seconds()/r.wall.Seconds())
			} else {
				fmt.Fprint(tw, "\t")
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
