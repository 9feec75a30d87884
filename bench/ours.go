package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// Names of the word-count topology, as in examples/wordcount.
const (
	oursAppID       = "bench-wordcount"
	oursOutputTopic = "bench-wordcount-output"
	countsStore     = "Counts"
	repartitionName = "words"
)

// countSerde writes counts as decimal text, as examples/wordcount does (and
// as goka's codec.Int64 does).
var countSerde = serde.New("decimal-int64",
	func(n int64) ([]byte, error) { return strconv.AppendInt(nil, n, 10), nil },
	func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) })

// Backends of the "Counts" store: -systems ours and restore use the
// in-memory store, ours-rocksdb and restore-rocksdb RocksDB, and
// ours-rocksdb-cached RocksDB under the store's write cache
// (Builder.WithCaching).
const (
	memoryBackend        = "memory"
	memoryCachedBackend  = "cached"
	windowedBackend      = "window" // a 1-minute tumbling-window count (window.AddTimeAggregation)
	rocksdbBackend       = "rocksdb"
	rocksdbCachedBackend = "rocksdb-cached"
)

// countsSupplier returns the supplier of the bytes stores under "Counts":
// state.InMemoryKeyValueStore, or a RocksDB database with default options
// in each task's state directory, which runOurs and the restore runs put
// in a temporary directory.
func countsSupplier(backend string) state.KeyValueBytesStoreSupplier {
	if backend == rocksdbBackend || backend == rocksdbCachedBackend {
		return rocksdb.KeyValueStore(countsStore, rocksdb.Options{})
	}
	return state.InMemoryKeyValueStore(countsStore)
}

// wordCountTopology is examples/wordcount/topology.go with the topic names
// of the benchmark and the store backend as a parameter: split each line
// into lower-cased words keyed by word, repartition by word, count in the
// store "Counts" (in memory in the example) and forward each new count to
// the output topic. Keep the two in step.
func wordCountTopology(backend string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	counts := topology.AddProcessor(b, "Count", newCounter, wordsByWord(b))
	store := state.NewKeyValueStoreBuilder(countsSupplier(backend), serde.String(), serde.Int64())
	if backend == rocksdbCachedBackend || backend == memoryCachedBackend {
		store.WithCaching()
	}
	b.AddStateStore(store, "Count")
	topology.AddSink(b, "Output", topology.Sink[string, int64]{
		Topic:      oursOutputTopic,
		KeySerde:   serde.String(),
		ValueSerde: countSerde,
	}, counts)
	return b.Build()
}

// wordsByWord adds to b the part the word counts share: split each line
// into lower-cased words keyed by word, and repartition by word.
func wordsByWord(b *topology.Builder) topology.Node[string, string] {
	lines := topology.AddSource(b, "Lines", topology.Source[string, string]{
		Topics:     []string{inputTopic},
		KeySerde:   serde.String(),
		ValueSerde: serde.String(),
	})
	words := topology.AddProcessor(b, "Split", processor.Func(splitWords), lines)
	return topology.AddRepartition(b, repartitionName, topology.Repartition[string, string]{
		KeySerde:   serde.String(),
		ValueSerde: serde.String(),
	}, words)
}

func splitWords(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
	for _, w := range strings.Fields(strings.ToLower(rec.Value)) {
		if err := ctx.Forward(processor.Derive(rec, w, w)); err != nil {
			return err
		}
	}
	return nil
}

type counter struct {
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func newCounter() processor.Processor[string, string, string, int64] { return &counter{} }

func (c *counter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, countsStore)
	return err
}

func (c *counter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.counts.Put(rec.Key, n); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, n))
}

func (c *counter) Close() error { return nil }

// runOurs times the word-count App, its counts in memory, from streams.New
// until its group has committed the end offsets of the input and the
// repartition topic, then stops it and checks the output topic.
func runOurs(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, memoryBackend, eos.AtLeastOnce)
}

// runOursCached is runOurs with the Counts store built WithCaching: its
// changelog gets one record per word per commit, as under ExactlyOnce.
func runOursCached(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, memoryCachedBackend, eos.AtLeastOnce)
}

// runOursWindow is runOurs counting each word per 1-minute tumbling window
// (window.AddTimeAggregation, emit on update) instead of in a key-value
// store.
func runOursWindow(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, windowedBackend, eos.AtLeastOnce)
}

// windowedWordCountTopology is wordCountTopology with the Count processor
// replaced by a count per word and 1-minute tumbling window, emitting every
// update, keyed by window (window.TimeWindowedSerde).
func windowedWordCountTopology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	byWord := wordsByWord(b)
	w := window.Tumbling(time.Minute)
	initial, add := window.Count[string, string]()
	counts := window.AddTimeAggregation(b, "Count", window.TimeAggregation[string, string, int64]{
		Windows: w, Store: countsStore, KeySerde: serde.String(), AggSerde: serde.Int64(),
		Init: initial, Add: add, Emit: window.EmitOnUpdate,
	}, byWord)
	topology.AddSink(b, "Output", topology.Sink[state.Windowed[string], int64]{
		Topic: oursOutputTopic, KeySerde: window.TimeWindowedSerde(serde.String(), w.Size), ValueSerde: countSerde,
	}, counts)
	return b.Build()
}

// runOursEOS is runOurs under eos.ExactlyOnce: the output, the changelog
// records and the offsets of each commit in one transaction, at the same
// commit interval.
func runOursEOS(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, memoryBackend, eos.ExactlyOnce)
}

// runOursRocksDB is runOurs with the counts in RocksDB.
func runOursRocksDB(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, rocksdbBackend, eos.AtLeastOnce)
}

// runOursRocksDBCached is runOurs with the counts in RocksDB under the
// store's write cache.
func runOursRocksDBCached(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	return runWordCount(ctx, o, c, wl, rocksdbCachedBackend, eos.AtLeastOnce)
}

// oursConfig is the Config of every run of our word count.
func oursConfig(o options, c *embedded.Cluster, stateDir string, g eos.Guarantee) streams.Config {
	return streams.Config{
		ApplicationID:    oursAppID,
		Brokers:          c.Addrs(),
		StateDir:         stateDir,
		NumStreamThreads: o.threads,
		CommitInterval:   o.commitInterval,
		Guarantee:        g,
		MaxPollRecords:   o.maxPoll,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel()})),
	}
}

func runWordCount(ctx context.Context, o options, c *embedded.Cluster, wl *workload, backend string, g eos.Guarantee) (measurement, error) {
	name := "ours"
	if backend != memoryBackend {
		name += "-" + backend
	}
	if g == eos.ExactlyOnce {
		name += "-eos"
	}
	topo, err := wordCountTopology(backend)
	if backend == windowedBackend {
		topo, err = windowedWordCountTopology()
	}
	if err != nil {
		return measurement{}, err
	}
	stateDir, err := os.MkdirTemp("", "bench-streams-state-")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(stateDir)

	if o.beforeStart != nil {
		o.beforeStart()
	}
	sw := startStopwatch()
	app, err := streams.New(topo, oursConfig(o, c, stateDir, g))
	if err != nil {
		return measurement{}, err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	caughtUp := make(chan error, 1)
	go func() {
		caughtUp <- c.WaitCaughtUp(ctx, oursAppID, inputTopic, streams.RepartitionTopic(oursAppID, repartitionName))
	}()
	var m measurement
	select {
	case err := <-runErr:
		return measurement{}, errors.Join(fmt.Errorf("%s: the app stopped before processing everything", name), err)
	case err := <-caughtUp:
		m = sw.stop()
		if o.caughtUp != nil {
			o.caughtUp()
		}
		if err != nil {
			app.Close()
			return measurement{}, errors.Join(err, <-runErr)
		}
	}
	app.Close()
	if err := <-runErr; err != nil {
		return measurement{}, fmt.Errorf("%s: %w", name, err)
	}

	got, n, err := lastValues(ctx, c, oursOutputTopic, countSerde.Deserialize)
	if err != nil {
		return measurement{}, err
	}
	if backend == windowedBackend {
		// Keyed by word and window: a word's count is the sum of its
		// windows' last counts.
		perWord := map[string]int64{}
		for k, v := range got {
			perWord[k[:len(k)-8]] += v
		}
		got = perWord
	}
	if n != wl.words {
		return measurement{}, fmt.Errorf("%s: %d records in %s, want one per word: %d", name, n, oursOutputTopic, wl.words)
	}
	if err := wl.check(got); err != nil {
		return measurement{}, fmt.Errorf("%s: %s: %w", name, oursOutputTopic, err)
	}
	return m, nil
}
