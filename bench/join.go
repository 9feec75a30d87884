package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// The stream-table join system, ours-join: every word of the input, keyed
// by itself (through a repartition, as the word count's), joined to a
// table of the vocabulary that holds each word's length; a record out per
// word. Its words/s stands beside the word counts'.
const (
	joinTableTopic  = "bench-join-table"
	joinOutputTopic = "bench-join-output"
	joinName        = "bench-join"
)

func joinTopology() (*topology.Topology, error) {
	sb := kstream.NewStreamsBuilder()
	lengths := kstream.Table(sb, joinTableTopic, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: countSerde})
	lines := kstream.Stream(sb, []string{inputTopic}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	words := kstream.SelectKey(kstream.FlatMapValues(lines, strings.Fields), func(_, w string) string { return w })
	kstream.JoinTable(words, lengths, func(_, _ string, n int64) int64 { return n }, kstream.Joined[string, string, int64]{Name: joinName}).
		To(joinOutputTopic, kstream.Produced[string, int64]{ValueSerde: countSerde})
	return sb.Build()
}

func runOursJoin(ctx context.Context, o options, c *embedded.Cluster, wl *workload) (measurement, error) {
	// The table is written before the clock starts; the app reads it as
	// part of the run, as it would after a restart without local state.
	recs := make([]*kgo.Record, 0, len(wl.expected))
	for w := range wl.expected {
		v, _ := countSerde.Serialize(int64(len(w)))
		recs = append(recs, &kgo.Record{Topic: joinTableTopic, Key: []byte(w), Value: v})
	}
	if err := c.Produce(ctx, recs...); err != nil {
		return measurement{}, err
	}
	topo, err := joinTopology()
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
	app, err := streams.New(topo, oursConfig(o, c, stateDir, eos.AtLeastOnce))
	if err != nil {
		return measurement{}, err
	}
	if err := c.RunUntilCaughtUp(ctx, app, oursAppID, joinTableTopic, inputTopic, streams.RepartitionTopic(oursAppID, joinName)); err != nil {
		return measurement{}, fmt.Errorf("ours-join: %w", err)
	}
	m := sw.stop()
	if o.caughtUp != nil {
		o.caughtUp()
	}
	// Every word joined once, to its own length.
	out, err := c.ReadAll(ctx, joinOutputTopic)
	if err != nil {
		return measurement{}, err
	}
	if len(out) != wl.words {
		return measurement{}, fmt.Errorf("ours-join: %d words in, %d joined out", wl.words, len(out))
	}
	for _, r := range out {
		n, err := countSerde.Deserialize(r.Value)
		if err != nil || n != int64(len(r.Key)) {
			return measurement{}, errors.Join(fmt.Errorf("ours-join: %q joined to %d, want its length %d", r.Key, n, len(r.Key)), err)
		}
	}
	return m, nil
}
