package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"

	"github.com/gostreams/streams/internal/embedded"
)

const gokaGroup goka.Group = "bench-goka"

// gokaSaramaConfig is goka's DefaultConfig with what the benchmark needs
// changed:
//   - Version: a recent Kafka protocol (goka defaults to 2.0.0); kfake
//     speaks every current version.
//   - Consumer.Offsets.Initial = OffsetOldest: goka starts a group with no
//     committed offset at the newest offset, which would skip the input
//     that was produced before the processor started.
//   - Consumer.Offsets.AutoCommit.Interval = the benchmark's commit
//     interval (Sarama's default is 1s). goka marks an input offset only
//     when everything its callback emitted (loopback and table writes) is
//     acknowledged, and Sarama commits the marks on this interval: the same
//     commit protocol as ours and the raw pipe's.
//
// Everything else (Snappy compression, 100ms/64KiB producer flush, acks
// from the leader) is goka's default.
func gokaSaramaConfig(o options) *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = o.commitInterval
	return cfg
}

// runGoka times goka's idiomatic word count, from goka.NewProcessor until
// the group has committed the end offsets of the input and the loopback
// topic, then stops it and checks the group table.
//
// goka has no repartition step: the input callback sends each word to the
// group's loopback topic keyed by the word (ctx.Loopback), which brings
// every occurrence of a word to the partition that owns its key, and the
// loopback callback counts with ctx.Value/ctx.SetValue. The counts live in
// memory (storage.MemoryBuilder) and every update is written to the group
// table "<group>-table", goka's changelog and output in one. So both goka
// and ours write two records per word: one to the shuffle topic and one
// count update.
func runGoka(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	var logger goka.Logger = log.New(io.Discard, "", 0)
	if o.verbose {
		logger = log.New(os.Stderr, "goka ", log.LstdFlags)
	}
	// kfake has one broker: goka's topic manager defaults to replication 2
	// for the loopback and table topics it creates, which one broker
	// cannot place.
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1

	g := goka.DefineGroup(gokaGroup,
		goka.Input(goka.Stream(inputTopic), new(codec.String), func(ctx goka.Context, msg any) {
			for _, w := range strings.Fields(strings.ToLower(msg.(string))) {
				ctx.Loopback(w, w)
			}
		}),
		goka.Loop(new(codec.String), func(ctx goka.Context, _ any) {
			var n int64
			if v := ctx.Value(); v != nil {
				n = v.(int64)
			}
			ctx.SetValue(n + 1)
		}),
		goka.Persist(new(codec.Int64)),
	)
	loopTopic := g.LoopStream().Topic()
	tableTopic := string(goka.GroupTable(gokaGroup))

	sw := startStopwatch()
	// Each builder gets a config of its own: goka's *WithConfig builders
	// write into the config they are given.
	proc, err := goka.NewProcessor(c.Addrs(), g,
		goka.WithStorageBuilder(storage.MemoryBuilder()),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(gokaSaramaConfig(o), tmc)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(gokaSaramaConfig(o))),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(gokaSaramaConfig(o))),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(gokaSaramaConfig(o))),
		goka.WithLogger(logger),
	)
	if err != nil {
		return measurement{}, fmt.Errorf("goka: %w", err)
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- proc.Run(pctx) }()
	caughtUp := make(chan error, 1)
	go func() { caughtUp <- c.WaitCaughtUp(ctx, string(gokaGroup), inputTopic, loopTopic) }()

	var m measurement
	select {
	case err := <-runErr:
		return measurement{}, errors.Join(errors.New("goka: the processor stopped before processing everything"), err)
	case err := <-caughtUp:
		m = sw.stop()
		stop()
		if err := errors.Join(err, <-runErr); err != nil {
			return measurement{}, fmt.Errorf("goka: %w", err)
		}
	}

	got, n, err := lastValues(ctx, c, tableTopic, func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) })
	if err != nil {
		return measurement{}, err
	}
	if n != wl.words {
		return measurement{}, fmt.Errorf("goka: %d records in %s, want one per word: %d", n, tableTopic, wl.words)
	}
	if err := wl.check(got); err != nil {
		return measurement{}, fmt.Errorf("goka: %s: %w", tableTopic, err)
	}
	return m, nil
}
