package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
)

const (
	rawGroup       = "bench-raw"
	rawOutputTopic = "bench-raw-output"
)

// runRaw times the ceiling: one franz-go consumer-group client that reads
// the input, splits each line as the word-count topology does, produces one
// record per word (keyed by the word, so partitioned like our repartition
// topic) and, every commit interval, flushes its output and then commits
// what it polled. No serdes, no tasks, no store, no second hop: the least
// work a consume-transform-produce loop with at-least-once commits can do.
func runRaw(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (time.Duration, error) {
	start := time.Now()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Addrs()...),
		kgo.ClientID("bench-raw"),
		kgo.ConsumerGroup(rawGroup),
		kgo.ConsumeTopics(inputTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return 0, err
	}
	pctx, stop := context.WithCancel(ctx)
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- rawPipe(pctx, cl, o.commitInterval, o.maxPoll) }()
	caughtUp := make(chan error, 1)
	go func() { caughtUp <- c.WaitCaughtUp(ctx, rawGroup, inputTopic) }()

	var elapsed time.Duration
	select {
	case err := <-pipeErr:
		stop()
		cl.Close()
		return 0, errors.Join(errors.New("raw: the pipe stopped before processing everything"), err)
	case err := <-caughtUp:
		elapsed = time.Since(start)
		stop()
		perr := <-pipeErr
		cl.Close()
		if err := errors.Join(err, perr); err != nil {
			return 0, fmt.Errorf("raw: %w", err)
		}
	}

	recs, err := c.ReadAll(ctx, rawOutputTopic)
	if err != nil {
		return 0, err
	}
	if len(recs) != wl.words {
		return 0, fmt.Errorf("raw: %d records in %s, want one per word: %d", len(recs), rawOutputTopic, wl.words)
	}
	got := map[string]int64{}
	for _, r := range recs {
		got[string(r.Key)]++
	}
	if err := wl.check(got); err != nil {
		return 0, fmt.Errorf("raw: %s: %w", rawOutputTopic, err)
	}
	return elapsed, nil
}

// rawPipe is the raw pipe's loop; it returns nil when ctx is cancelled.
func rawPipe(ctx context.Context, cl *kgo.Client, commitInterval time.Duration, maxPoll int) error {
	var mu sync.Mutex
	var produceErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			produceErr = errors.Join(produceErr, err)
			mu.Unlock()
		}
	}
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
			r := it.Next()
			for _, w := range strings.Fields(strings.ToLower(string(r.Value))) {
				b := []byte(w)
				cl.Produce(ctx, &kgo.Record{Topic: rawOutputTopic, Key: b, Value: b}, promise)
			}
		}
		if time.Since(lastCommit) >= commitInterval {
			lastCommit = time.Now()
			if err := cl.Flush(ctx); err != nil {
				cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("flushing: %w", err)
			}
			mu.Lock()
			err := produceErr
			mu.Unlock()
			if err != nil {
				cl.AllowRebalance()
				return fmt.Errorf("producing: %w", err)
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				cl.AllowRebalance()
				return fmt.Errorf("committing: %w", err)
			}
		}
		cl.AllowRebalance()
	}
}
