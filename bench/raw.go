package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
)

const (
	rawGroup         = "bench-raw"
	rawOutputTopic   = "bench-raw-output"
	raw2Group        = "bench-raw2"
	raw2ShuffleTopic = "bench-raw2-shuffle"
	raw2OutputTopic  = "bench-raw2-output"
)

// runRaw times the ceiling: one franz-go consumer-group client that reads
// the input, splits each line as the word-count topology does, produces one
// record per word (keyed by the word, so partitioned like our repartition
// topic) and, every commit interval, flushes its output and then commits
// what it polled. No serdes, no tasks, no store, no second hop: the least
// work a consume-transform-produce loop with at-least-once commits can do.
func runRaw(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	split := func(r *kgo.Record, produce func(*kgo.Record)) {
		for _, w := range strings.Fields(strings.ToLower(string(r.Value))) {
			b := []byte(w)
			produce(&kgo.Record{Topic: rawOutputTopic, Key: b, Value: b})
		}
	}
	m, err := timePipe(ctx, o, c, rawGroup, []string{inputTopic}, split)
	if err != nil {
		return m, fmt.Errorf("raw: %w", err)
	}
	recs, err := c.ReadAll(ctx, rawOutputTopic)
	if err != nil {
		return measurement{}, err
	}
	if len(recs) != wl.words {
		return measurement{}, fmt.Errorf("raw: %d records in %s, want one per word: %d", len(recs), rawOutputTopic, wl.words)
	}
	got := map[string]int64{}
	for _, r := range recs {
		got[string(r.Key)]++
	}
	if err := wl.check(got); err != nil {
		return measurement{}, fmt.Errorf("raw: %s: %w", rawOutputTopic, err)
	}
	return m, nil
}

// runRaw2 is word count written by hand on franz-go, the same dataflow as
// ours without the library: the loop of runRaw, consuming both the input
// and a shuffle topic. An input line becomes one record per word on the
// shuffle topic, keyed by the word; a shuffle record adds one to the
// word's count in a Go map and produces the new count (decimal text, as
// ours) to the output topic. The map is safe without tasks because the
// benchmark has one member, which owns every partition.
func runRaw2(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	m, err := timePipe(ctx, o, c, raw2Group, raw2Topics, raw2Count())
	if err != nil {
		return m, fmt.Errorf("raw2: %w", err)
	}
	got, n, err := lastValues(ctx, c, raw2OutputTopic, func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) })
	if err != nil {
		return measurement{}, err
	}
	if n != wl.words {
		return measurement{}, fmt.Errorf("raw2: %d records in %s, want one per word: %d", n, raw2OutputTopic, wl.words)
	}
	if err := wl.check(got); err != nil {
		return measurement{}, fmt.Errorf("raw2: %s: %w", raw2OutputTopic, err)
	}
	return m, nil
}

// raw2Topics are the topics raw2 consumes, in the order records flow.
var raw2Topics = []string{inputTopic, raw2ShuffleTopic}

// raw2Count returns raw2's record handler, with its map of counts. Each
// record it produces carries the timestamp and headers of the record it
// came from, as ours does (the latency systems read them).
func raw2Count() func(*kgo.Record, func(*kgo.Record)) {
	counts := map[string]int64{}
	return func(r *kgo.Record, produce func(*kgo.Record)) {
		if r.Topic == raw2ShuffleTopic {
			n := counts[string(r.Key)] + 1
			counts[string(r.Key)] = n
			produce(&kgo.Record{Topic: raw2OutputTopic, Key: r.Key, Value: strconv.AppendInt(nil, n, 10),
				Timestamp: r.Timestamp, Headers: r.Headers})
			return
		}
		for _, w := range strings.Fields(strings.ToLower(string(r.Value))) {
			b := []byte(w)
			produce(&kgo.Record{Topic: raw2ShuffleTopic, Key: b, Value: b, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	}
}

// timePipe runs a consume-transform-produce loop in group over topics,
// timed from making its client until the group has committed the end
// offset of every partition of topics, given in the order records flow.
func timePipe(ctx context.Context, o options, c *embedded.Cluster, group string, topics []string, handle func(*kgo.Record, func(*kgo.Record))) (measurement, error) {
	sw := startStopwatch()
	p, err := startPipe(ctx, o, c, group, topics, handle)
	if err != nil {
		return measurement{}, err
	}
	caughtUp := make(chan error, 1)
	go func() { caughtUp <- c.WaitCaughtUp(ctx, group, topics...) }()

	select {
	case <-p.done:
		return measurement{}, errors.Join(errors.New("the pipe stopped before processing everything"), p.stop())
	case err := <-caughtUp:
		m := sw.stop()
		return m, errors.Join(err, p.stop())
	}
}

// runningPipe is a pipe running on a goroutine of its own: done is closed
// when it stops, by itself or by stop, which stops it and returns its
// error.
type runningPipe struct {
	done <-chan struct{}
	stop func() error
}

// startPipe starts a consume-transform-produce loop (pipe) in group over
// topics, on a goroutine of its own.
func startPipe(ctx context.Context, o options, c *embedded.Cluster, group string, topics []string, handle func(*kgo.Record, func(*kgo.Record))) (runningPipe, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Addrs()...),
		kgo.ClientID(group),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return runningPipe{}, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var pipeErr error
	go func() { defer close(done); pipeErr = pipe(pctx, cl, o.commitInterval, o.maxPoll, handle) }()
	stop := sync.OnceValue(func() error {
		cancel()
		<-done
		cl.Close()
		return pipeErr
	})
	return runningPipe{done: done, stop: stop}, nil
}

// pipe is the loop of timePipe; it returns nil when ctx is cancelled.
// Every commit interval it waits for everything produced to be
// acknowledged and then commits what it polled: at least once.
func pipe(ctx context.Context, cl *kgo.Client, commitInterval time.Duration, maxPoll int, handle func(*kgo.Record, func(*kgo.Record))) error {
	var failed produceErrors
	produce := func(r *kgo.Record) { cl.Produce(ctx, r, failed.promise) }
	lastCommit := time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait := max(time.Until(lastCommit.Add(commitInterval)), time.Millisecond)
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := cl.PollRecords(pctx, maxPoll)
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("fetching %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for it := fetches.RecordIter(); !it.Done(); {
			handle(it.Next(), produce)
		}
		if time.Since(lastCommit) < commitInterval {
			continue
		}
		lastCommit = time.Now()
		if err := cl.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("flushing: %w", err)
		}
		if err := failed.err(); err != nil {
			return fmt.Errorf("producing: %w", err)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("committing: %w", err)
		}
	}
}

// produceErrors gathers what asynchronous produces failed with: promise is
// their callback, err what they failed with so far.
type produceErrors struct {
	mu   sync.Mutex
	errs error
}

func (p *produceErrors) promise(_ *kgo.Record, err error) {
	if err != nil {
		p.mu.Lock()
		p.errs = errors.Join(p.errs, err)
		p.mu.Unlock()
	}
}

func (p *produceErrors) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}
