package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
)

// The latency systems (issue 12, item 4): input written at a fixed rate
// for a fixed time, one word to a record, and each record's end-to-end
// latency from when the generator produced it to when a consumer tailing
// the system's output received the record it became.
//
// kfake keeps a batch's timestamps as the producer sent them (it sets
// LogAppendTime only when the client asks), so the broker's append time
// cannot be read back. Instead each input record carries a header with a
// sequence number and the wall-clock time, in nanoseconds, at which the
// generator handed it to its producer (with no linger); the systems copy
// headers from a record to the records it becomes (ours does for every
// record, raw2 by hand), and the tail consumer takes the time each fetch
// arrives. latency-kafka is the floor of that measurement: the tail reads
// the input itself, so its figures are the generator's producer, the
// broker and the tail's fetch, with no system in between.
var latencySystems = []latencySystem{
	{name: "latency-kafka", start: startLatencyKafka},
	{name: "latency-raw2", start: startLatencyRaw2, outputs: []string{raw2ShuffleTopic, raw2OutputTopic}},
	{name: "latency-ours", start: startLatencyOurs(eos.AtLeastOnce), outputs: []string{oursOutputTopic}},
	{name: "latency-ours-eos", start: startLatencyOurs(eos.ExactlyOnce), outputs: []string{oursOutputTopic}},
}

// latencySystem is one contender of the latency runs: start starts it on
// a cluster whose topics exist and returns the topic whose records the tail
// times, whether the tail reads it read_committed, and how to stop it.
type latencySystem struct {
	name    string
	start   func(ctx context.Context, o options, c *embedded.Cluster) (started, error)
	outputs []string
}

type started struct {
	output        string
	readCommitted bool
	// done is closed when the system stops, by itself or by stop, which
	// stops it and returns its error.
	done <-chan struct{}
	stop func() error
}

// latencyHeader is the header of every generated record: its sequence
// number and the time it was produced (Unix nanoseconds), 8 bytes each,
// big-endian.
const latencyHeader = "bench-sent"

// warmupWord is the word of the records written, one to each input
// partition, before the timed input: the measurement starts once the tail
// has received every one's output, so that joining the group and creating
// topics are not counted as latency.
const warmupWord = "warmup"

func startLatencyKafka(context.Context, options, *embedded.Cluster) (started, error) {
	return started{output: inputTopic, done: make(chan struct{}), stop: func() error { return nil }}, nil
}

func startLatencyRaw2(ctx context.Context, o options, c *embedded.Cluster) (started, error) {
	p, err := startPipe(ctx, o, c, raw2Group, raw2Topics, raw2Count())
	if err != nil {
		return started{}, err
	}
	return started{output: raw2OutputTopic, done: p.done, stop: p.stop}, nil
}

func startLatencyOurs(g eos.Guarantee) func(context.Context, options, *embedded.Cluster) (started, error) {
	return func(ctx context.Context, o options, c *embedded.Cluster) (started, error) {
		topo, err := wordCountTopology(memoryBackend)
		if err != nil {
			return started{}, err
		}
		stateDir, err := os.MkdirTemp("", "bench-streams-state-")
		if err != nil {
			return started{}, err
		}
		app, err := streams.New(topo, oursConfig(o, c, stateDir, g))
		if err != nil {
			os.RemoveAll(stateDir)
			return started{}, err
		}
		done := make(chan struct{})
		var runErr error
		go func() { defer close(done); runErr = app.Run(ctx) }()
		stop := sync.OnceValue(func() error {
			app.Close()
			<-done
			os.RemoveAll(stateDir)
			return runErr
		})
		return started{output: oursOutputTopic, readCommitted: g == eos.ExactlyOnce, done: done, stop: stop}, nil
	}
}

// latencyResult is one latency run: the records timed, the rate the
// generator reached, and the latencies' percentiles.
type latencyResult struct {
	system         string
	partitions     int
	rate           int
	records        int
	achieved       float64 // records/s the generator wrote
	p50, p99, pmax time.Duration
}

// runLatencies runs each latency system at each rate and partition count
// once, and prints the table.
func runLatencies(ctx context.Context, o options, stdout, stderr io.Writer) ([]latencyResult, error) {
	vocab := vocabulary(newRand(o.seed), o.vocab)
	fmt.Fprintf(stderr, "bench: latency: one word a record (%d distinct), for %v at each rate; commit interval %v\n",
		len(vocab), o.latencyDuration, o.commitInterval)
	var results []latencyResult
	for _, p := range o.partitions {
		for _, rate := range o.latencyRates {
			for _, s := range latencySystems {
				if !slices.Contains(o.systems, s.name) {
					continue
				}
				r, err := runLatencyOnce(ctx, o, s, p, rate, vocab)
				if err != nil {
					return nil, fmt.Errorf("%s, %d partitions, %d records/s: %w", s.name, p, rate, err)
				}
				fmt.Fprintf(stderr, "bench: %-16s %d partitions, %d records/s (%.0f written/s): p50 %s, p99 %s, max %s; every record's output received once\n",
					s.name, p, rate, r.achieved, ms(r.p50), ms(r.p99), ms(r.pmax))
				results = append(results, r)
			}
		}
	}
	printLatencyTable(stdout, o, results)
	return results, nil
}

func runLatencyOnce(ctx context.Context, o options, s latencySystem, partitions, rate int, vocab []string) (latencyResult, error) {
	n := int(float64(rate) * o.latencyDuration.Seconds())
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := embedded.Start()
	if err != nil {
		return latencyResult{}, err
	}
	defer c.Close()
	for _, t := range append([]string{inputTopic}, s.outputs...) {
		if err := c.CreateTopic(ctx, t, int32(partitions)); err != nil {
			return latencyResult{}, err
		}
	}
	sys, err := s.start(ctx, o, c)
	if err != nil {
		return latencyResult{}, err
	}
	defer sys.stop()

	gen, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		return latencyResult{}, err
	}
	defer gen.Close()
	t, err := startTail(ctx, c, sys.output, sys.readCommitted, n, partitions)
	if err != nil {
		return latencyResult{}, err
	}
	defer t.close()

	// Warm up: one record to each partition, then wait for their outputs.
	for p := range partitions {
		gen.Produce(ctx, latencyRecord(int32(p), warmupWord, -1), nil)
	}
	if err := t.wait(ctx, sys.done, t.warm); err != nil {
		return latencyResult{}, errors.Join(fmt.Errorf("warming up: %w", err), sys.stop())
	}
	achieved, err := generate(ctx, gen, n, rate, partitions, vocab)
	if err != nil {
		return latencyResult{}, err
	}
	if err := t.wait(ctx, sys.done, t.all); err != nil {
		return latencyResult{}, errors.Join(err, sys.stop())
	}
	if err := sys.stop(); err != nil {
		return latencyResult{}, fmt.Errorf("%s: %w", s.name, err)
	}
	lat := t.result()
	slices.Sort(lat)
	return latencyResult{
		system: s.name, partitions: partitions, rate: rate, records: n, achieved: achieved,
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], pmax: lat[len(lat)-1],
	}, nil
}

// latencyRecord is a record of the latency input: one word, no key, in
// partition p, with the header of sequence number seq (-1 for a warm-up
// record) and the time now.
func latencyRecord(p int32, word string, seq int) *kgo.Record {
	h := make([]byte, 16)
	binary.BigEndian.PutUint64(h, uint64(seq))
	binary.BigEndian.PutUint64(h[8:], uint64(time.Now().UnixNano()))
	return &kgo.Record{Topic: inputTopic, Partition: p, Value: []byte(word),
		Headers: []kgo.RecordHeader{{Key: latencyHeader, Value: h}}}
}

// generate writes n records at rate records a second, round-robin over
// the partitions, each a word drawn from vocab, and returns the rate it
// reached: lower than rate when producing blocked (the producer's buffer
// full because the broker did not keep up).
func generate(ctx context.Context, gen *kgo.Client, n, rate, partitions int, vocab []string) (float64, error) {
	rng := rand.New(rand.NewPCG(uint64(rate), uint64(n)))
	var failed produceErrors
	start := time.Now()
	for i := 0; i < n; {
		due := min(n, int(time.Since(start).Seconds()*float64(rate)))
		for ; i < due; i++ {
			gen.Produce(ctx, latencyRecord(int32(i%partitions), vocab[rng.IntN(len(vocab))], i), failed.promise)
		}
		if i < n {
			time.Sleep(200 * time.Microsecond)
		}
	}
	elapsed := time.Since(start)
	if err := gen.Flush(ctx); err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), failed.err()
}

// tail reads a system's output from its start, in no group, and keeps the
// latency of each generated record's output, by sequence number.
type tail struct {
	cl      *kgo.Client
	cancel  context.CancelFunc
	done    chan error
	warm    chan struct{} // closed when every warm-up record's output came
	all     chan struct{} // closed when every generated record's output came
	mu      sync.Mutex
	latency []time.Duration // by sequence number; 0: not yet received
}

func startTail(ctx context.Context, c *embedded.Cluster, topic string, readCommitted bool, n, partitions int) (*tail, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &tail{cl: cl, cancel: cancel, done: make(chan error, 1), warm: make(chan struct{}), all: make(chan struct{}),
		latency: make([]time.Duration, n)}
	go func() { t.done <- t.read(ctx, n, partitions) }()
	return t, nil
}

func (t *tail) read(ctx context.Context, n, partitions int) error {
	warm, received := 0, 0
	for {
		fs := t.cl.PollFetches(ctx)
		now := time.Now()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		if err := fs.Err(); err != nil {
			return fmt.Errorf("tailing the output: %w", err)
		}
		var bad error
		t.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if bad != nil {
				return
			}
			i := slices.IndexFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == latencyHeader })
			if i < 0 || len(r.Headers[i].Value) != 16 {
				bad = fmt.Errorf("%s-%d@%d has no %s header: the system dropped the input's headers", r.Topic, r.Partition, r.Offset, latencyHeader)
				return
			}
			h := r.Headers[i].Value
			seq := int64(binary.BigEndian.Uint64(h))
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(h[8:])))
			switch {
			case seq == -1:
				if warm++; warm == partitions {
					close(t.warm)
				}
			case seq < 0 || seq >= int64(n):
				bad = fmt.Errorf("%s-%d@%d: sequence number %d out of range", r.Topic, r.Partition, r.Offset, seq)
			case t.latency[seq] != 0:
				bad = fmt.Errorf("%s-%d@%d: record %d's output received twice", r.Topic, r.Partition, r.Offset, seq)
			default:
				t.latency[seq] = max(now.Sub(sent), 1) // 0 marks "not received"
				if received++; received == n {
					close(t.all)
				}
			}
		})
		t.mu.Unlock()
		if bad != nil {
			return bad
		}
	}
}

// wait waits for ch to close, or fails if the system or the tail stops or
// the context ends first.
func (t *tail) wait(ctx context.Context, system <-chan struct{}, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-system:
		return errors.New("the system stopped before every output was received")
	case err := <-t.done:
		t.done <- err // for close
		return errors.Join(errors.New("the tail stopped"), err)
	case <-ctx.Done():
		t.mu.Lock()
		missing := 0
		for _, l := range t.latency {
			if l == 0 {
				missing++
			}
		}
		t.mu.Unlock()
		return fmt.Errorf("%w with %d of %d records' outputs not received", ctx.Err(), missing, len(t.latency))
	}
}

// result is the latency of every record, once all were received.
func (t *tail) result() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.latency)
}

func (t *tail) close() {
	t.cancel()
	t.cl.Close()
	<-t.done
}

// ms formats d in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// printLatencyTable prints one row per system, partition count and rate:
// p50, p99 and max of the end-to-end latency, and p99/raw2, the row's p99
// over raw2's at the same partition count and rate (lower is better).
func printLatencyTable(w io.Writer, o options, results []latencyResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tpartitions\trecords/s\twritten/s\trecords\tp50 ms\tp99 ms\tmax ms\tp99/raw2\t")
	for _, r := range results {
		ratio := ""
		if i := slices.IndexFunc(results, func(b latencyResult) bool {
			return b.system == "latency-raw2" && b.partitions == r.partitions && b.rate == r.rate
		}); i >= 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.p99)/float64(results[i].p99))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t\n", r.system, r.partitions,
			groupDigits(int64(r.rate)), groupDigits(int64(r.achieved)), groupDigits(int64(r.records)),
			msf(r.p50), msf(r.p99), msf(r.pmax), ratio)
	}
	tw.Flush()
	if slices.Contains(o.systems, "latency-ours-eos") {
		fmt.Fprintf(w, "latency-ours-eos is read read_committed: a record waits for the commit of each of its two hops (input → repartition, repartition → output), every commit interval (%v): about half an interval for the first, a whole one for the second (its repartition record is read just after a commit), so its floor is about 1.5 intervals at p50 and 2 at p99.\n", o.commitInterval)
	}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
