package reset_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/reset"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startCluster(t *testing.T) *embedded.Cluster {
	t.Helper()
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func client(t *testing.T, c *embedded.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

const (
	linesTopic  = "lines"
	countsTopic = "word-counts"
	countsStore = "counts"
)

// wordCount is Kafka Streams' WordCountDemo in the DSL, as
// examples/wordcount-dsl: a repartition (GroupBy) and a changelogged
// count, "<app>-counts-repartition" and "<app>-counts-changelog".
func wordCount(t *testing.T) *topology.Topology {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	lines := kstream.Stream(sb, []string{linesTopic}, kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()})
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := kstream.GroupBy(words, func(_, word string) string { return word }).
		Count(kstream.Materialized[string, int64]{Name: countsStore})
	counts.ToStream().To(countsTopic, kstream.Produced[string, int64]{ValueSerde: serde.Int64()})
	topo, err := sb.Build()
	require.NoError(t, err)
	return topo
}

func appConfig(c *embedded.Cluster, appID, stateDir string) streams.Config {
	return streams.Config{
		ApplicationID:  appID,
		Brokers:        c.Addrs(),
		StateDir:       stateDir,
		CommitInterval: 50 * time.Millisecond,
		Logger:         quiet,
		ClientOptions:  []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	}
}

func newApp(t *testing.T, topo *topology.Topology, cfg streams.Config) *streams.App {
	t.Helper()
	app, err := streams.New(topo, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	return app
}

// produce writes recs to the partitions they name.
func produce(t *testing.T, c *embedded.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctxT(t), recs...).FirstErr())
}

// produceLines writes lines round-robin over the partitions of topic.
func produceLines(t *testing.T, c *embedded.Cluster, topic string, partitions int32, lines ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte(l)}
	}
	produce(t, c, recs...)
}

// committed returns the group's committed offsets.
func committed(t *testing.T, c *embedded.Cluster, group string) map[reset.TopicPartition]int64 {
	t.Helper()
	os, err := c.Admin().FetchOffsets(ctxT(t), group)
	m := map[reset.TopicPartition]int64{}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return m
	}
	require.NoError(t, err)
	os.Each(func(o kadm.OffsetResponse) {
		require.NoError(t, o.Err)
		m[reset.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
	})
	return m
}

// topics lists the cluster's topics through a new client: a client's
// metadata cache keeps a deleted topic for seconds.
func topics(t *testing.T, c *embedded.Cluster) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	defer cl.Close()
	all, err := kadm.NewClient(cl).ListTopics(ctxT(t))
	require.NoError(t, err)
	return all.Names()
}

// ends returns the end offset of each partition of topic.
func ends(t *testing.T, c *embedded.Cluster, topic string) map[int32]int64 {
	t.Helper()
	l, err := c.Admin().ListEndOffsets(ctxT(t), topic)
	require.NoError(t, err)
	m := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
	return m
}

// finalCounts returns the last count of each word among the output
// records at or after from (per partition), and how many records those are.
// A word's counts are all in one partition (the output is keyed by word),
// in order.
func finalCounts(t *testing.T, c *embedded.Cluster, from map[int32]int64) (map[string]int64, int) {
	t.Helper()
	recs, err := c.ReadAll(ctxT(t), countsTopic)
	require.NoError(t, err)
	counts, n := map[string]int64{}, 0
	for _, r := range recs {
		if r.Offset < from[r.Partition] {
			continue
		}
		v, err := serde.Int64().Deserialize(r.Value)
		require.NoError(t, err)
		counts[string(r.Key)] = v
		n++
	}
	return counts, n
}

func expectedCounts(lines []string) map[string]int64 {
	m := map[string]int64{}
	for _, l := range lines {
		for _, w := range strings.Fields(strings.ToLower(l)) {
			m[w]++
		}
	}
	return m
}

// The reset's whole story, as Kafka's ResetIntegrationTest tells it: run
// the word count, stop it, dry-run the reset (it lists the steps and
// changes nothing), reset, clean up the local state, run the app again: it
// reprocesses its input from the start and ends with the same counts.
func TestResetThenRerunRecomputesTheSameOutput(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const appID = "wc-reset"
	require.NoError(t, c.CreateTopic(ctxT(t), linesTopic, 3))
	require.NoError(t, c.CreateTopic(ctxT(t), countsTopic, 3))
	var lines []string
	vocab := []string{"kafka", "streams", "go", "reset", "topology", "Kafka", "state"}
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("%s %s %s", vocab[i%7], vocab[(i*3)%7], vocab[(i*5+1)%7]))
	}
	produceLines(t, c, linesTopic, 3, lines...)
	repartition := streams.RepartitionTopic(appID, countsStore)
	changelog := streams.ChangelogTopic(appID, countsStore)

	stateDir := t.TempDir()
	app := newApp(t, wordCount(t), appConfig(c, appID, stateDir))
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, appID, linesTopic, repartition))
	first, firstN := finalCounts(t, c, nil)
	require.Equal(t, expectedCounts(lines), first)
	require.Equal(t, 900, firstN, "one count per word")
	firstEnds := ends(t, c, countsTopic)

	before := committed(t, c, appID)
	for p := range int32(3) {
		require.Equal(t, int64(100), before[reset.TopicPartition{Topic: linesTopic, Partition: p}], "the app read all of partition %d", p)
	}
	topicsBefore := topics(t, c)
	require.Subset(t, topicsBefore, []string{repartition, changelog})

	cl := client(t, c)
	o := reset.Options{ApplicationID: appID, InputTopics: []string{linesTopic}}
	plan, err := reset.NewPlan(ctxT(t), cl, o)
	require.NoError(t, err)
	require.Empty(t, plan.Members)
	require.Equal(t, []reset.OffsetChange{
		{TopicPartition: reset.TopicPartition{Topic: linesTopic, Partition: 0}, From: 100, To: 0},
		{TopicPartition: reset.TopicPartition{Topic: linesTopic, Partition: 1}, From: 100, To: 0},
		{TopicPartition: reset.TopicPartition{Topic: linesTopic, Partition: 2}, From: 100, To: 0},
	}, plan.Inputs)
	require.Equal(t, []string{changelog, repartition}, plan.InternalTopics)
	require.Equal(t, `Consumer group "wc-reset" has no active members.
Reset the committed offsets of the input topics to the earliest offset:
  lines-0: 100 -> 0
  lines-1: 100 -> 0
  lines-2: 100 -> 0
Delete the internal topics (inferred):
  wc-reset-counts-changelog
  wc-reset-counts-repartition
Local state is not touched: before starting any instance again, delete its state, App.CleanUp() or <Config.StateDir>/wc-reset.
`, plan.String())
	// The dry run changed nothing.
	require.Equal(t, before, committed(t, c, appID))
	require.Equal(t, topicsBefore, topics(t, c))

	require.NoError(t, plan.Execute(ctxT(t)))
	after := committed(t, c, appID)
	for p := range int32(3) {
		require.Equal(t, int64(0), after[reset.TopicPartition{Topic: linesTopic, Partition: p}], "partition %d is back at its start", p)
	}
	for tp := range after {
		require.Equal(t, linesTopic, tp.Topic, "the deleted topics' offsets went with them")
	}
	require.NotContains(t, topics(t, c), repartition)
	require.NotContains(t, topics(t, c), changelog)
	require.Contains(t, topics(t, c), countsTopic, "an output topic is not touched")
	require.Equal(t, firstEnds, ends(t, c, countsTopic))

	// The local state goes too, as Kafka's docs ask: the rerun restores
	// nothing and counts from zero.
	require.NoError(t, app.CleanUp())
	rerun := newApp(t, wordCount(t), appConfig(c, appID, stateDir))
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), rerun, appID, linesTopic, repartition))
	second, secondN := finalCounts(t, c, firstEnds)
	require.Equal(t, firstN, secondN, "the rerun reprocessed every line")
	require.Equal(t, first, second, "and counted the same")
}

// A reset while the app runs would leave it in a mess: it is refused,
// naming the members, and it changes nothing.
func TestRefusesWhileTheGroupHasMembers(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const appID = "wc-active"
	require.NoError(t, c.CreateTopic(ctxT(t), linesTopic, 2))
	require.NoError(t, c.CreateTopic(ctxT(t), countsTopic, 2))
	produceLines(t, c, linesTopic, 2, "a b", "b c", "c d")
	app := newApp(t, wordCount(t), appConfig(c, appID, t.TempDir()))
	errs := make(chan error, 1)
	go func() { errs <- app.Run(context.Background()) }()
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, linesTopic, streams.RepartitionTopic(appID, countsStore)))
	before, topicsBefore := committed(t, c, appID), topics(t, c)

	cl := client(t, c)
	o := reset.Options{ApplicationID: appID, InputTopics: []string{linesTopic}}
	_, err := reset.NewPlan(ctxT(t), cl, o)
	var active *reset.GroupNotEmptyError
	require.ErrorAs(t, err, &active)
	require.Equal(t, appID, active.Group)
	require.Len(t, active.Members, 1, "one stream thread")
	require.ErrorContains(t, err, `consumer group "wc-active" is still active, with 1 member(s)`)
	require.ErrorContains(t, err, "stop every instance of the app before resetting it")

	// A plan made while the group was empty is checked again when it runs.
	require.NoError(t, app.Close())
	require.NoError(t, <-errs)
	plan, err := reset.NewPlan(ctxT(t), cl, o)
	require.NoError(t, err)
	again := newApp(t, wordCount(t), appConfig(c, appID, t.TempDir()))
	go func() { errs <- again.Run(context.Background()) }()
	require.Eventually(t, func() bool {
		d, err := c.Admin().DescribeGroups(ctxT(t), appID)
		return err == nil && len(d[appID].Members) > 0
	}, 30*time.Second, 20*time.Millisecond)
	require.ErrorAs(t, plan.Execute(ctxT(t)), &active)
	require.NoError(t, again.Close())
	require.NoError(t, <-errs)
	require.Equal(t, before, committed(t, c, appID), "the refused reset changed no offset")
	require.Equal(t, topicsBefore, topics(t, c), "nor any topic")
}

// A static member (GroupInstanceID) does not leave the group when its
// instance stops: the group counts it until its session times out. Force
// removes it, and the reset goes on.
func TestForceRemovesStoppedStaticMembers(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const appID = "wc-static"
	require.NoError(t, c.CreateTopic(ctxT(t), linesTopic, 2))
	require.NoError(t, c.CreateTopic(ctxT(t), countsTopic, 2))
	produceLines(t, c, linesTopic, 2, "a b", "b c")
	cfg := appConfig(c, appID, t.TempDir())
	cfg.GroupInstanceID = "instance-a"
	cfg.ClientOptions = append(cfg.ClientOptions, kgo.SessionTimeout(time.Minute))
	app := newApp(t, wordCount(t), cfg)
	require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, appID, linesTopic, streams.RepartitionTopic(appID, countsStore)))

	cl := client(t, c)
	o := reset.Options{ApplicationID: appID, InputTopics: []string{linesTopic}}
	_, err := reset.NewPlan(ctxT(t), cl, o)
	var active *reset.GroupNotEmptyError
	require.ErrorAs(t, err, &active, "the stopped static member still counts")
	require.Equal(t, "instance-a-0", active.Members[0].InstanceID)

	o.Force = true
	plan, err := reset.NewPlan(ctxT(t), cl, o)
	require.NoError(t, err)
	require.Len(t, plan.Members, 1)
	require.Contains(t, plan.String(), `Remove the 1 active member(s) of consumer group "wc-static" (--force):`)
	d, err := c.Admin().DescribeGroups(ctxT(t), appID)
	require.NoError(t, err)
	require.Len(t, d[appID].Members, 1, "planning removes nobody")

	require.NoError(t, plan.Execute(ctxT(t)))
	d, err = c.Admin().DescribeGroups(ctxT(t), appID)
	require.NoError(t, err)
	require.Empty(t, d[appID].Members)
	for p := range int32(2) {
		require.Equal(t, int64(0), committed(t, c, appID)[reset.TopicPartition{Topic: linesTopic, Partition: p}])
	}
}

// Each position lands where Kafka's tool puts it, moved into the
// partition's range where it would fall outside it.
func TestPositions(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const appID = "positions"
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 2))
	// Partition 0: ten records a minute apart, from base; partition 1:
	// empty, never committed. Topic in2: four records of now.
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	for i := range 10 {
		produce(t, c, &kgo.Record{Topic: "in", Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	require.NoError(t, c.CreateTopic(ctxT(t), "in2", 1))
	produceLines(t, c, "in2", 1, "a", "b", "c", "d")
	var os kadm.Offsets
	os.AddOffset("in", 0, 6, -1)
	require.NoError(t, c.Admin().CommitAllOffsets(ctxT(t), appID, os))
	cl := client(t, c)

	p0 := reset.TopicPartition{Topic: "in", Partition: 0}
	p1 := reset.TopicPartition{Topic: "in", Partition: 1}
	q0 := reset.TopicPartition{Topic: "in2", Partition: 0}
	for _, tc := range []struct {
		name   string
		to     reset.Position
		inputs []reset.OffsetChange
	}{
		{"earliest", reset.ToEarliest(), []reset.OffsetChange{{p0, 6, 0, ""}, {p1, -1, 0, ""}, {q0, -1, 0, ""}}},
		{"latest", reset.ToLatest(), []reset.OffsetChange{{p0, 6, 10, ""}, {p1, -1, 0, ""}, {q0, -1, 4, ""}}},
		{"datetime on a record", reset.ToDatetime(base.Add(3 * time.Minute)), []reset.OffsetChange{{p0, 6, 3, ""}, {p1, -1, 0, ""}, {q0, -1, 0, ""}}},
		{"datetime between records", reset.ToDatetime(base.Add(3*time.Minute + time.Millisecond)), []reset.OffsetChange{{p0, 6, 4, ""}, {p1, -1, 0, ""}, {q0, -1, 0, ""}}},
		{"datetime before all", reset.ToDatetime(base.Add(-time.Hour)), []reset.OffsetChange{{p0, 6, 0, ""}, {p1, -1, 0, ""}, {q0, -1, 0, ""}}},
		{"datetime after all", reset.ToDatetime(base.Add(time.Hour)), []reset.OffsetChange{{p0, 6, 10, "no record at or after the time: the end"}, {p1, -1, 0, ""}, {q0, -1, 4, "no record at or after the time: the end"}}},
		// Records at now-10m ... now-1m: now-5m30s is between the
		// sixth (offset 5, now-5m) and the fifth.
		{"by duration", reset.ByDuration(5*time.Minute + 30*time.Second), []reset.OffsetChange{{p0, 6, 5, ""}, {p1, -1, 0, ""}, {q0, -1, 0, ""}}},
		{"shift back", reset.ShiftBy(-2), []reset.OffsetChange{{p0, 6, 4, ""}, {p1, -1, 0, "-2 is before the earliest offset; no committed offset: shifted from the earliest"}, {q0, -1, 0, "-2 is before the earliest offset; no committed offset: shifted from the earliest"}}},
		{"shift forward", reset.ShiftBy(3), []reset.OffsetChange{{p0, 6, 9, ""}, {p1, -1, 0, "3 is past the end; no committed offset: shifted from the earliest"}, {q0, -1, 3, "no committed offset: shifted from the earliest"}}},
		{"shift past the end", reset.ShiftBy(100), []reset.OffsetChange{{p0, 6, 10, "106 is past the end"}, {p1, -1, 0, "100 is past the end; no committed offset: shifted from the earliest"}, {q0, -1, 4, "100 is past the end; no committed offset: shifted from the earliest"}}},
		{"shift before the start", reset.ShiftBy(-100), []reset.OffsetChange{{p0, 6, 0, "-94 is before the earliest offset"}, {p1, -1, 0, "-100 is before the earliest offset; no committed offset: shifted from the earliest"}, {q0, -1, 0, "-100 is before the earliest offset; no committed offset: shifted from the earliest"}}},
		{"to offset", reset.ToOffset(2), []reset.OffsetChange{{p0, 6, 2, ""}, {p1, -1, 0, "2 is past the end"}, {q0, -1, 2, ""}}},
		{"from offsets", reset.FromOffsets(map[reset.TopicPartition]int64{p0: 8, q0: 1}), []reset.OffsetChange{{p0, 6, 8, ""}, {p1, -1, -1, "not in the given offsets: unchanged"}, {q0, -1, 1, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: appID, InputTopics: []string{"in", "in2"}, To: tc.to})
			require.NoError(t, err)
			require.Equal(t, tc.inputs, plan.Inputs)
		})
	}

	// Executed, the plan commits what it listed, and only that.
	plan, err := reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: appID, InputTopics: []string{"in"}, To: reset.ShiftBy(-2)})
	require.NoError(t, err)
	require.Contains(t, plan.String(), "Reset the committed offsets of the input topics to the committed offset shifted by -2:\n  in-0: 6 -> 4\n  in-1: none -> 0 (")
	require.NoError(t, plan.Execute(ctxT(t)))
	require.Equal(t, map[reset.TopicPartition]int64{p0: 4, p1: 0}, committed(t, c, appID))

	plan, err = reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: appID, InputTopics: []string{"in"}, To: reset.FromOffsets(map[reset.TopicPartition]int64{p0: 7})})
	require.NoError(t, err)
	require.NoError(t, plan.Execute(ctxT(t)))
	require.Equal(t, map[reset.TopicPartition]int64{p0: 7, p1: 0}, committed(t, c, appID))
}

// Intermediate topics go to their end; internal topics are found by
// their names, as Kafka's tool finds them, and a topic given as an input
// is never deleted however it is named.
func TestIntermediateAndInternalTopics(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const appID = "app"
	for _, topic := range []string{
		"in", "through", "app-in-changelog", // user topics, one named like an internal one
		"app-counts-changelog", "app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog",
		"app-grouped-repartition",
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
		"app-orders-subscription-registration-topic", "app-orders-subscription-response-topic",
		"app-output", "other-counts-changelog", "application-counts-changelog",
	} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	produceLines(t, c, "through", 1, "a", "b", "c")
	cl := client(t, c)

	plan, err := reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: appID, InputTopics: []string{"in", "app-in-changelog"}, IntermediateTopics: []string{"through"}})
	require.NoError(t, err)
	require.Equal(t, []reset.OffsetChange{{TopicPartition: reset.TopicPartition{Topic: "through", Partition: 0}, From: -1, To: 3}}, plan.Intermediates)
	require.Equal(t, []string{
		"app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog",
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
		"app-counts-changelog", "app-grouped-repartition",
		"app-orders-subscription-registration-topic", "app-orders-subscription-response-topic",
	}, plan.InternalTopics)
	require.Contains(t, plan.String(), "Move the committed offsets of the intermediate topics to their end:\n  through-0: none -> 3\n")

	// Given, the internal topics are those, and only those, deleted.
	plan, err = reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: appID, InternalTopics: []string{"app-output"}})
	require.NoError(t, err)
	require.True(t, plan.InternalTopicsGiven)
	require.Contains(t, plan.String(), "No input or intermediate topics given: no committed offsets change.\nDelete the internal topics (given):\n  app-output\n")
	require.NoError(t, plan.Execute(ctxT(t)))
	require.NotContains(t, topics(t, c), "app-output")
	require.Contains(t, topics(t, c), "app-counts-changelog")
	require.Equal(t, map[reset.TopicPartition]int64{}, committed(t, c, appID), "no offsets were given to commit")
}

func TestIsInternal(t *testing.T) {
	t.Parallel()
	for topic, want := range map[string]bool{
		"app-counts-changelog":                                          true,
		"app-counts-repartition":                                        true,
		"app-x-subscription-registration-topic":                         true,
		"app-x-subscription-response-topic":                             true,
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic": true,
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic":     true,
		"app-changelog":                                                 false, // no name between the prefix and the suffix
		"app--changelog":                                                false,
		"app-output":                                                    false,
		"apps-counts-changelog":                                         false,
		"other-counts-changelog":                                        false,
		"counts-changelog":                                              false,
		"app-counts-changelog-2":                                        false,
		"app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-x-topic":          false,
	} {
		require.Equal(t, want, reset.IsInternal("app", topic), topic)
	}
}

// Bad options fail before anything changes, naming what is wrong.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	require.NoError(t, c.CreateTopic(ctxT(t), "app-x-changelog", 1))
	cl := client(t, c)
	for _, tc := range []struct {
		name string
		o    reset.Options
		want []string
	}{
		{"no application id", reset.Options{InputTopics: []string{"in"}}, []string{"reset: no application id: give the app's streams.Config.ApplicationID"}},
		{"bad application id", reset.Options{ApplicationID: "my app"}, []string{`application id "my app" cannot be an app's`}},
		{"unknown input topic", reset.Options{ApplicationID: "app", InputTopics: []string{"in", "nope", "nope2"}},
			[]string{`reset: input topic "nope" does not exist in the cluster; check its name`, `input topic "nope2" does not exist`}},
		{"unknown intermediate topic", reset.Options{ApplicationID: "app", IntermediateTopics: []string{"gone"}}, []string{`intermediate topic "gone" does not exist`}},
		{"unknown internal topic", reset.Options{ApplicationID: "app", InternalTopics: []string{"app-gone-changelog"}}, []string{`internal topic "app-gone-changelog" does not exist`}},
		{"internal topic not the app's", reset.Options{ApplicationID: "app", InternalTopics: []string{"in"}}, []string{`internal topic "in" is not the app's: the app's internal topics are named "app-…"`}},
		{"input and intermediate", reset.Options{ApplicationID: "app", InputTopics: []string{"in"}, IntermediateTopics: []string{"in"}},
			[]string{`topic "in" is given as both an input and an intermediate topic`}},
		{"input twice", reset.Options{ApplicationID: "app", InputTopics: []string{"in", "in"}}, []string{`input topic "in" is given twice`}},
		{"input and internal", reset.Options{ApplicationID: "app", InputTopics: []string{"app-x-changelog"}, InternalTopics: []string{"app-x-changelog"}},
			[]string{`topic "app-x-changelog" is given as an internal topic to delete and as an input topic`}},
		{"offsets of another topic", reset.Options{ApplicationID: "app", InputTopics: []string{"in"}, To: reset.FromOffsets(map[reset.TopicPartition]int64{{Topic: "other", Partition: 0}: 1})},
			[]string{"offsets are given for other-0, which is not of an input topic"}},
		{"offsets of a missing partition", reset.Options{ApplicationID: "app", InputTopics: []string{"in"}, To: reset.FromOffsets(map[reset.TopicPartition]int64{{Topic: "in", Partition: 3}: 1})},
			[]string{`offsets are given for in-3, but "in" has 1 partitions`}},
		{"negative duration", reset.Options{ApplicationID: "app", InputTopics: []string{"in"}, To: reset.ByDuration(-time.Hour)}, []string{"duration -1h0m0s is negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reset.NewPlan(ctxT(t), cl, tc.o)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	_, err := reset.NewPlan(ctxT(t), cl, reset.Options{ApplicationID: "app", InputTopics: []string{"nope"}})
	var unknown *reset.UnknownTopicError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, reset.UnknownTopicError{Topic: "nope", Role: "input"}, *unknown)
	require.Equal(t, []string{"app-x-changelog", "in"}, topics(t, c), "nothing was deleted")
}

func TestParseDateTime(t *testing.T) {
	t.Parallel()
	utc := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2024-05-01T00:00:00Z":           utc,
		"2024-05-01T02:00:00+02:00":      utc,
		"2024-05-01T00:00:00.000":        utc, // Kafka's format, no zone: UTC
		"2024-05-01T00:00:00":            utc,
		"2024-05-01T00:00:00.000Z":       utc,
		"2024-05-01T01:00:00.000+01:00":  utc,
		"2024-05-01T01:00:00.000+0100":   utc,
		"2024-04-30T23:00:00.000-01":     utc,
		"2024-05-01T00:00:00.250Z":       utc.Add(250 * time.Millisecond),
		"2024-05-01T00:00:00.123456789Z": utc.Add(123456789 * time.Nanosecond),
	} {
		got, err := reset.ParseDateTime(in)
		require.NoError(t, err, in)
		require.True(t, want.Equal(got), "%s: got %v", in, got)
	}
	for _, in := range []string{"", "2024-05-01", "2024-05-01 00:00:00", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "1714521600000"} {
		_, err := reset.ParseDateTime(in)
		require.ErrorContains(t, err, fmt.Sprintf("reset: bad datetime %q: want RFC 3339", in), in)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"PT1H":         time.Hour,
		"P1D":          day,
		"P1DT12H":      day + 12*time.Hour,
		"PT30M":        30 * time.Minute,
		"PT0.5S":       500 * time.Millisecond,
		"PT1,5S":       1500 * time.Millisecond,
		"P2DT3H4M5.6S": 2*day + 3*time.Hour + 4*time.Minute + 5600*time.Millisecond,
		"pt15m":        15 * time.Minute, // case-insensitive, as Java's
		"-PT1H":        -time.Hour,
		"PT-1H30M":     -30 * time.Minute,
		"PT-1.5S":      -1500 * time.Millisecond,
		"PT0S":         0,
		"90m":          90 * time.Minute, // Go's format too
		"1h30m":        90 * time.Minute,
	} {
		got, err := reset.ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "P", "PT", "P1H", "PT1D", "1 hour", "P1W", "PT1.S1", "T1H"} {
		_, err := reset.ParseDuration(in)
		require.ErrorContains(t, err, fmt.Sprintf("reset: bad duration %q: want ISO-8601 PnDTnHnMnS", in), in)
	}
	_, err := reset.ParseDuration("P999999999D")
	require.ErrorContains(t, err, `duration "P999999999D" is too long`)
}

func TestParseOffsets(t *testing.T) {
	t.Parallel()
	got, err := reset.ParseOffsets("in,0,5\n\nin, 1, 7\r\nother,0,0\n")
	require.NoError(t, err)
	require.Equal(t, map[reset.TopicPartition]int64{{Topic: "in", Partition: 0}: 5, {Topic: "in", Partition: 1}: 7, {Topic: "other", Partition: 0}: 0}, got)
	for in, want := range map[string]string{
		"":               "the offsets list no partition",
		"in,0":           `line 1 of the offsets, "in,0": 2 fields; want TOPIC,PARTITION,OFFSET`,
		"in,0,5\nin,x,5": `line 2 of the offsets, "in,x,5": the partition is not a number`,
		"in,-1,5":        "the partition is not a number",
		"in,0,five":      "the offset is not a number",
		",0,5":           "no topic",
		"in,0,5\nin,0,6": "in-0 is listed twice",
	} {
		_, err := reset.ParseOffsets(in)
		require.ErrorContains(t, err, want, in)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H", "P1DT12H", "-PT-1.5S", "P999999999D", "90m", "PT,S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := reset.ParseDuration(s)
		if err != nil && d != 0 {
			t.Fatalf("%q: %v with a duration %v", s, err, d)
		}
	})
}

func FuzzParseOffsets(f *testing.F) {
	f.Add("in,0,5\nin,1,7")
	f.Add("a,b,c,d")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := reset.ParseOffsets(s)
		if err == nil && len(m) == 0 {
			t.Fatalf("%q: no error and no offsets", s)
		}
		for tp := range m {
			if tp.Topic == "" || tp.Partition < 0 {
				t.Fatalf("%q: bad partition %+v", s, tp)
			}
		}
	})
}
