package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
)

// restoreRun is one run of a restore system, on one cluster and its one
// changelog: the raw read of the changelog, then our App's restore of it.
type restoreRun struct {
	raw, ours measurement
	// restoring is the longest restore of one store, from its start to its
	// end (RestoreEvent.Elapsed): ours without the App's start-up.
	restoring time.Duration
}

type restoreResult struct {
	system     string
	partitions int
	// raw, ours and restoring are the medians of the runs, each on its own.
	raw, ours measurement
	restoring time.Duration
}

func (r restoreResult) key() (string, int) { return r.system, r.partitions }

// runRestores times, for each partition count and restore system, a fresh
// App restoring the word count's store from a changelog of o.restoreRecords
// records, beside a raw read of the same changelog, and prints the table.
func runRestores(ctx context.Context, o options, stdout, stderr io.Writer) ([]restoreResult, error) {
	// The changelog of a count store that counted restoreRecords words
	// drawn uniformly from restoreKeys: the words, one to a line, in the
	// order they were counted, and each one's final count.
	wl := newWorkload(o.restoreRecords, o.restoreKeys, 1, o.seed)
	fmt.Fprintf(stderr, "bench: restore: a changelog of %d records over %d distinct keys, 8-byte values (serde.Int64)\n",
		wl.words, len(wl.expected))
	var results []restoreResult
	for _, p := range o.partitions {
		for _, s := range restoreSystems {
			if !slices.Contains(o.systems, s.name) {
				continue
			}
			var runs []restoreRun
			for i := range o.runs {
				r, err := restoreOnce(ctx, o, s.backend, p, wl)
				if err != nil {
					return nil, fmt.Errorf("%s, %d partitions, run %d: %w", s.name, p, i+1, err)
				}
				fmt.Fprintf(stderr, "bench: %-15s %d partitions, run %d: ours %.2fs (restoring %.2fs), %s records/s; raw %.2fs, %s records/s; store checked\n",
					s.name, p, i+1, r.ours.wall.Seconds(), r.restoring.Seconds(), perSecond(wl.words, r.ours.wall),
					r.raw.wall.Seconds(), perSecond(wl.words, r.raw.wall))
				runs = append(runs, r)
			}
			median := func(by func(restoreRun) time.Duration) restoreRun {
				sorted := slices.Clone(runs)
				slices.SortFunc(sorted, func(a, b restoreRun) int { return cmp.Compare(by(a), by(b)) })
				return sorted[len(sorted)/2]
			}
			results = append(results, restoreResult{
				system: s.name, partitions: p,
				raw:       median(func(r restoreRun) time.Duration { return r.raw.wall }).raw,
				ours:      median(func(r restoreRun) time.Duration { return r.ours.wall }).ours,
				restoring: median(func(r restoreRun) time.Duration { return r.restoring }).restoring,
			})
		}
	}
	printRestoreTable(stdout, wl.words, results)
	return results, nil
}

// printRestoreTable prints one row per restore system and partition count.
// ours/raw is of throughput (records/s): 0.70 means our restore moves 70 %
// as many records a second as the raw read of the same changelog.
func printRestoreTable(w io.Writer, records int, results []restoreResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tpartitions\trecords\tours s\tours records/s\tours CPU-s\trestoring s\traw s\traw records/s\traw CPU-s\tours/raw\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%s\t%.2f\t%.2f\t%.2f\t%s\t%.2f\t%.2f\t\n",
			r.system, r.partitions, groupDigits(int64(records)),
			r.ours.wall.Seconds(), perSecond(records, r.ours.wall), r.ours.cpu.Seconds(), r.restoring.Seconds(),
			r.raw.wall.Seconds(), perSecond(records, r.raw.wall), r.raw.cpu.Seconds(),
			r.raw.wall.Seconds()/r.ours.wall.Seconds())
	}
	tw.Flush()
}

// restoreOnce starts a cluster, writes the changelog of the word count's
// store, times a raw read of it and then our App's restore of it, and
// checks both.
func restoreOnce(ctx context.Context, o options, backend string, partitions int, wl *workload) (restoreRun, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := embedded.Start()
	if err != nil {
		return restoreRun{}, err
	}
	defer c.Close()
	for _, t := range []string{inputTopic, oursOutputTopic} {
		if err := c.CreateTopic(ctx, t, int32(partitions)); err != nil {
			return restoreRun{}, err
		}
	}
	changelog := streams.ChangelogTopic(oursAppID, countsStore)
	if err := writeChangelog(ctx, c, changelog, partitions, wl); err != nil {
		return restoreRun{}, err
	}

	var r restoreRun
	runtime.GC() // the changelog's garbage is not the reader's
	var n int64
	if r.raw, n, err = readChangelog(ctx, c, changelog, partitions); err != nil {
		return restoreRun{}, fmt.Errorf("raw read: %w", err)
	}
	if n != int64(wl.words) {
		return restoreRun{}, fmt.Errorf("raw read: %d records read from %s, want %d", n, changelog, wl.words)
	}
	runtime.GC()
	if r.ours, r.restoring, err = restoreOurs(ctx, o, c, backend, partitions, wl); err != nil {
		return restoreRun{}, fmt.Errorf("ours: %w", err)
	}
	return r, nil
}

// writeChangelog creates topic as the App would create the changelog
// (partitions partitions, cleanup.policy=compact, which the App checks
// before it accepts an existing changelog) and writes what the count store
// "Counts" writes to it while counting wl's words: for each word in order,
// the word and its count so far (serde.Int64), in the partition of the
// task that counts the word, which is the partition of the word in the
// repartition topic (murmur2 of the key, as our sinks partition). The
// changelog is not compacted: kfake compacts once an hour by default.
func writeChangelog(ctx context.Context, c *embedded.Cluster, topic string, partitions int, wl *workload) error {
	resp, err := c.Admin().CreateTopic(ctx, int32(partitions), -1, map[string]*string{"cleanup.policy": new("compact")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("creating the changelog %q: %w", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	counts := make(map[string]int64, len(wl.expected))
	int64Serde := serde.Int64()
	const chunk = 100_000 // records in flight, to bound the memory used
	recs := make([]*kgo.Record, 0, chunk)
	for i, w := range wl.lines {
		counts[w]++
		v, err := int64Serde.Serialize(counts[w])
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(w), Value: v})
		if len(recs) == chunk || i == len(wl.lines)-1 {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return fmt.Errorf("producing the changelog: %w", err)
			}
			recs = recs[:0]
		}
	}
	// Every record must be in the changelog, none twice.
	starts, err := c.Admin().ListStartOffsets(ctx, topic)
	if err != nil {
		return err
	}
	ends, err := c.Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var n int64
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(e.Topic, e.Partition)
		n += e.Offset - s.Offset
	})
	if n != int64(wl.words) {
		return fmt.Errorf("the changelog %q holds %d records, want %d", topic, n, wl.words)
	}
	return nil
}

// readChangelog times the baseline of a restore: a franz-go consumer, in no
// group, that reads every partition of topic from its start to the end
// offset it lists after it starts, as our restore consumer does, and
// counts the records. It decodes and keeps nothing.
func readChangelog(ctx context.Context, c *embedded.Cluster, topic string, partitions int) (measurement, int64, error) {
	sw := startStopwatch()
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return measurement{}, 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return measurement{}, 0, fmt.Errorf("end offsets of %q: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			want[e.Partition] = e.Offset
		}
	})
	var n int64
	for len(want) > 0 {
		fs := cl.PollRecords(ctx, 10_000) // as our restore polls
		if err := ctx.Err(); err != nil {
			return measurement{}, 0, err
		}
		for _, fe := range fs.Errors() {
			return measurement{}, 0, fmt.Errorf("reading %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset < end {
				n++
				if r.Offset == end-1 {
					delete(want, r.Partition)
				}
			}
		})
	}
	return sw.stop(), n, nil
}

// restoreOurs times a fresh App of the word count, with an empty state
// directory and its store on backend, from Run until each of its
// partitions stores has reported OnRestoreEnd. It checks that the
// restores together wrote every record of the changelog, and then that
// the stores hold the right counts: it gives the App each word once more
// and reads back the counts it forwards, each one more than the word's
// count in the changelog. The check is not timed.
func restoreOurs(ctx context.Context, o options, c *embedded.Cluster, backend string, partitions int, wl *workload) (m measurement, restoring time.Duration, err error) {
	topo, err := wordCountTopology(backend)
	if err != nil {
		return measurement{}, 0, err
	}
	stateDir, err := os.MkdirTemp("", "bench-streams-restore-")
	if err != nil {
		return measurement{}, 0, err
	}
	defer os.RemoveAll(stateDir)
	restores := newRestoreWaiter(partitions)
	app, err := streams.New(topo, streams.Config{
		ApplicationID:    oursAppID,
		Brokers:          c.Addrs(),
		StateDir:         stateDir,
		NumStreamThreads: o.threads,
		CommitInterval:   o.commitInterval,
		MaxPollRecords:   o.maxPoll,
		RestoreListener:  restores,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel()})),
	})
	if err != nil {
		return measurement{}, 0, err
	}

	sw := startStopwatch()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	select {
	case err := <-runErr:
		return measurement{}, 0, errors.Join(errors.New("the app stopped before its stores were restored"), err)
	case <-ctx.Done():
		app.Close()
		return measurement{}, 0, errors.Join(fmt.Errorf("waiting for the restores: %w", ctx.Err()), <-runErr)
	case <-restores.done:
		m = sw.stop()
	}
	// From here on, stop the app on the way out, whatever happens.
	defer func() {
		app.Close()
		if rerr := <-runErr; rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()

	records, restoring := restores.totals()
	if records != int64(wl.words) {
		return measurement{}, 0, fmt.Errorf("the restores wrote %d records in all, want every record of the changelog: %d", records, wl.words)
	}

	// One more of each word, one word to a line.
	words := slices.Sorted(maps.Keys(wl.expected))
	more := &workload{lines: words, words: len(words)}
	if err := more.produce(ctx, c, partitions); err != nil {
		return measurement{}, 0, err
	}
	if err := c.WaitCaughtUp(ctx, oursAppID, inputTopic, streams.RepartitionTopic(oursAppID, repartitionName)); err != nil {
		return measurement{}, 0, err
	}
	got, n, err := lastValues(ctx, c, oursOutputTopic, countSerde.Deserialize)
	if err != nil {
		return measurement{}, 0, err
	}
	if n != len(words) {
		return measurement{}, 0, fmt.Errorf("%d records in %s after one more of each of the %d words, want one per word", n, oursOutputTopic, len(words))
	}
	var bad []string
	for _, w := range words {
		if want := wl.expected[w] + 1; got[w] != want {
			bad = append(bad, fmt.Sprintf("%q: got %d, want %d", w, got[w], want))
		}
	}
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("... and %d more", len(bad)-5))
		}
		return measurement{}, 0, fmt.Errorf("the restored store counts wrong: %d of %d words: %s", len(bad), len(words), strings.Join(bad, "; "))
	}
	return m, restoring, nil
}

// restoreWaiter is the RestoreListener of restoreOurs: it closes done when
// want changelog partitions have reported OnRestoreEnd.
type restoreWaiter struct {
	want int
	done chan struct{}
	mu   struct {
		sync.Mutex
		ended map[string]streams.RestoreEvent // by changelog partition
	}
}

func newRestoreWaiter(want int) *restoreWaiter {
	w := &restoreWaiter{want: want, done: make(chan struct{})}
	w.mu.ended = map[string]streams.RestoreEvent{}
	return w
}

func (w *restoreWaiter) OnRestoreStart(streams.RestoreEvent)  {}
func (w *restoreWaiter) OnBatchRestored(streams.RestoreEvent) {}

func (w *restoreWaiter) OnRestoreEnd(e streams.RestoreEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := len(w.mu.ended)
	w.mu.ended[fmt.Sprintf("%s-%d", e.Topic, e.Partition)] = e
	if before < w.want && len(w.mu.ended) == w.want {
		close(w.done)
	}
}

// totals returns the records the restores wrote, summed over the
// changelog partitions, and the longest restore.
func (w *restoreWaiter) totals() (records int64, longest time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.mu.ended {
		records += e.Records
		longest = max(longest, e.Elapsed)
	}
	return records, longest
}
