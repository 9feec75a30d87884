package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
)

// inputTopic is the topic every system reads. Each run has a cluster of its
// own, so the name never clashes.
const inputTopic = "bench-input"

// workload is the input of one run: lines of words drawn from a fixed
// vocabulary, and the count of each word that a correct word count ends
// with.
type workload struct {
	lines    []string
	words    int
	expected map[string]int64
}

// newWorkloadOfEach is a workload of n distinct made-up words, each once,
// wordsPerLine to a line: a word count over it ends with n keys.
func newWorkloadOfEach(n, wordsPerLine int) *workload {
	return buildWorkload(n, wordsPerLine, func(i int) string { return fmt.Sprintf("w%07d", i) })
}

// buildWorkload makes a workload of words words, wordsPerLine to a line,
// the i-th word being word(i).
func buildWorkload(words, wordsPerLine int, word func(i int) string) *workload {
	wl := &workload{words: words, expected: map[string]int64{}}
	var sb strings.Builder
	for n := 0; n < words; {
		sb.Reset()
		for i := 0; i < wordsPerLine && n < words; i, n = i+1, n+1 {
			w := word(n)
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(w)
			wl.expected[w]++
		}
		wl.lines = append(wl.lines, sb.String())
	}
	return wl
}

// newWorkload draws words from a vocabulary of vocabSize made-up
// lower-case words, uniformly, wordsPerLine to a line, with a fixed seed:
// every run and every system sees the same bytes.
func newWorkload(words, vocabSize, wordsPerLine int, seed uint64) *workload {
	rng := newRand(seed)
	vocab := vocabulary(rng, vocabSize)
	// word is called in order, so the draws are the same on every run.
	return buildWorkload(words, wordsPerLine, func(int) string { return vocab[rng.IntN(len(vocab))] })
}

// newRand is the benchmark's pseudo-random generator with seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// vocabulary draws size distinct made-up lower-case words of 3 to 10
// letters from rng.
func vocabulary(rng *rand.Rand, size int) []string {
	vocab := make([]string, 0, size)
	seen := map[string]bool{}
	for len(vocab) < size {
		b := make([]byte, 3+rng.IntN(8))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	return vocab
}

// produce writes the lines to inputTopic, spread round-robin over its
// partitions so that each partition holds the same number of lines. The
// records have no key, as in examples/wordcount.
func (wl *workload) produce(ctx context.Context, c *embedded.Cluster, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(wl.lines))
	for i, l := range wl.lines {
		recs[i] = &kgo.Record{Topic: inputTopic, Partition: int32(i % partitions), Value: []byte(l)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing the input: %w", err)
	}
	return nil
}

// check compares final counts with the expected ones and describes the
// first few differences.
func (wl *workload) check(got map[string]int64) error {
	var bad []string
	var total int64
	for _, w := range slices.Sorted(maps.Keys(wl.expected)) {
		if got[w] != wl.expected[w] {
			bad = append(bad, fmt.Sprintf("%q: got %d, want %d", w, got[w], wl.expected[w]))
		}
	}
	for w, n := range got {
		total += n
		if _, ok := wl.expected[w]; !ok {
			bad = append(bad, fmt.Sprintf("%q: got %d, want none", w, n))
		}
	}
	if len(bad) == 0 && total == int64(wl.words) {
		return nil
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("... and %d more", len(bad)-5))
	}
	return fmt.Errorf("wrong counts: total %d, want %d; %d distinct words, want %d; %s",
		total, wl.words, len(got), len(wl.expected), strings.Join(bad, "; "))
}

// lastValues reads topic and keeps the last value of each key, decoded by
// decode: the final count of each word in a count's output or table topic.
// It also returns how many records the topic holds.
func lastValues(ctx context.Context, c *embedded.Cluster, topic string, decode func([]byte) (int64, error)) (map[string]int64, int, error) {
	recs, err := c.ReadAll(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	last := map[string]int64{}
	for _, r := range recs {
		n, err := decode(r.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		last[string(r.Key)] = n // a key's records are in order in its partition
	}
	return last, len(recs), nil
}
