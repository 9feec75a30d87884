package streams_test

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
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startCluster starts an in-process Kafka (kfake, with opts) that the
// test's cleanup stops.
func startCluster(t *testing.T, opts ...kfake.Opt) *embedded.Cluster {
	t.Helper()
	c, err := embedded.Start(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// config is a test app's config: quick commits and heartbeats, so that
// commits and rebalances take milliseconds, not seconds.
func config(t *testing.T, c *embedded.Cluster, appID string) streams.Config {
	return streams.Config{
		ApplicationID:  appID,
		Brokers:        c.Addrs(),
		StateDir:       t.TempDir(),
		CommitInterval: 50 * time.Millisecond,
		Logger:         quiet,
		ClientOptions:  []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	}
}

type running struct {
	app  *streams.App
	errs chan error
}

// start runs an app in the background; the test stops it.
func start(t *testing.T, topo *topology.Topology, cfg streams.Config) *running {
	t.Helper()
	return run(t, mustApp(t, topo, cfg))
}

// mustApp makes an app that the test's cleanup closes.
func mustApp(t *testing.T, topo *topology.Topology, cfg streams.Config) *streams.App {
	t.Helper()
	app, err := streams.New(topo, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	return app
}

// run runs app, made by mustApp, in the background; the test stops it.
func run(t *testing.T, app *streams.App) *running {
	t.Helper()
	r := &running{app: app, errs: make(chan error, 1)}
	go func() { r.errs <- app.Run(context.Background()) }()
	return r
}

// stop closes the app and returns what Run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	require.NoError(t, r.app.Close())
	select {
	case err := <-r.errs:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Close")
		return nil
	}
}

// wait returns what Run returned on its own.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.errs:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
		return nil
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func produceValues(t *testing.T, c *embedded.Cluster, topic string, keys bool, values ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
		if keys {
			recs[i].Key = []byte(v)
		}
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
}

// tagger forwards each record with the value "<value>@<instance>/<task>".
func tagger(instance string) *topology.Topology {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	tag := topology.AddProcessor(b, "tag", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithValue(rec.Value + "@" + instance + "/" + ctx.TaskID().String()))
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, tag)
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}
	return topo
}

// storeTopology reads "in" (string keys and values) into one processor,
// name, that has the stores.
func storeTopology[KOut, VOut any](t *testing.T, name string, proc processor.Supplier[string, string, KOut, VOut], stores ...state.StoreBuilder) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, name, proc, src)
	for _, sb := range stores {
		b.AddStateStore(sb, name)
	}
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// topicConfigs returns the configs the cluster reports for topics (those
// with a value), by topic and key.
func topicConfigs(t *testing.T, c *embedded.Cluster, topics ...string) map[string]map[string]string {
	t.Helper()
	cfgs, err := c.Admin().DescribeTopicConfigs(ctxT(t), topics...)
	require.NoError(t, err)
	got := map[string]map[string]string{}
	for _, rc := range cfgs {
		require.NoError(t, rc.Err, rc.Name)
		got[rc.Name] = map[string]string{}
		for _, cv := range rc.Configs {
			if cv.Value != nil {
				got[rc.Name][cv.Key] = *cv.Value
			}
		}
	}
	require.Len(t, got, len(topics))
	return got
}

func values(n int, prefix string) []string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return vs
}

// outputByValue reads "out" and maps each input value to the instances and
// tasks that processed it.
func outputByValue(t *testing.T, c *embedded.Cluster) map[string][]string {
	t.Helper()
	recs, err := c.ReadAll(ctxT(t), "out")
	require.NoError(t, err)
	m := map[string][]string{}
	for _, r := range recs {
		v, where, _ := strings.Cut(string(r.Value), "@")
		m[v] = append(m[v], where)
	}
	return m
}

// Two instances share four partitions; when the second joins, tasks move to
// it without stopping the first; when it leaves, its tasks come back. Every
// record is processed, by exactly one instance, once (both leave cleanly,
// so at-least-once repeats nothing here).
func TestTwoInstancesShareAndRebalance(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 4))

	a := start(t, tagger("A"), config(t, c, "share"))
	first := values(200, "first-")
	produceValues(t, c, "in", true, first...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "share", "in"))

	b := start(t, tagger("B"), config(t, c, "share"))
	second := values(400, "second-")
	// Keep producing until B has taken over some tasks.
	require.Eventually(t, func() bool {
		produceValues(t, c, "in", true, second[:40]...)
		second = second[40:]
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "share", "in"))
		for _, where := range outputByValue(t, c) {
			if strings.HasPrefix(where[len(where)-1], "B/") {
				return true
			}
		}
		return len(second) == 0
	}, 30*time.Second, 10*time.Millisecond)
	produceValues(t, c, "in", true, second...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "share", "in"))

	require.NoError(t, b.stop(t), "B leaves cleanly")
	third := values(200, "third-")
	produceValues(t, c, "in", true, third...)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "share", "in"))
	require.NoError(t, a.stop(t))

	out := outputByValue(t, c)
	all := append(append(append([]string{}, first...), values(400, "second-")...), third...)
	require.Len(t, out, len(all), "every input record was processed")
	sawB := false
	for _, v := range all {
		require.Len(t, out[v], 1, "%s processed once, got %v", v, out[v])
		sawB = sawB || strings.HasPrefix(out[v][0], "B/")
		if strings.HasPrefix(v, "third-") {
			require.True(t, strings.HasPrefix(out[v][0], "A/"), "after B left, A runs every task: %s went to %s", v, out[v][0])
		}
	}
	require.True(t, sawB, "B took over tasks while it was in the group")
	// Co-partitioning: a partition is processed by its own task.
	for _, where := range out {
		require.Regexp(t, `^[AB]/0_[0-3]$`, where[0])
	}
}

// failsOnBad reads "in" into the processor "picky", which fails on the
// value "bad" and drops everything else.
func failsOnBad(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "picky", processor.Func(func(_ processor.Context[string, string], rec processor.Record[string, string]) error {
		if rec.Value == "bad" {
			return errors.New("cannot handle bad")
		}
		return nil
	}), src)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

func TestProcessorErrorStopsTheAppNamingTaskProcessorAndRecord(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	topo := failsOnBad(t)
	produceValues(t, c, "in", false, "ok", "ok", "bad", "ok")
	r := start(t, topo, config(t, c, "picky"))
	err := r.wait(t)
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "picky", pe.Processor)
	require.Equal(t, processor.RecordMetadata{Topic: "in", Partition: 0, Offset: 2}, pe.Record)
	require.EqualError(t, err, `task 0_0: processor "picky": record in-0@2: cannot handle bad`)
	require.Equal(t, int64(1), r.app.Metrics().ProcessingErrors)
}

// numbers reads int64 values from "in" and writes them to "out" as text.
func numbers() *topology.Topology {
	b := topology.NewBuilder()
	src := topology.AddSource(b, "numbers", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	text := topology.AddProcessor(b, "text", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, int64]) error {
		return ctx.Forward(processor.Derive(rec, rec.Key, fmt.Sprint(rec.Value)))
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, text)
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}
	return topo
}

func produceNumbersWithOneBad(t *testing.T, c *embedded.Cluster) {
	t.Helper()
	enc := func(n int64) []byte { b, _ := serde.Int64().Serialize(n); return b }
	require.NoError(t, c.Produce(ctxT(t),
		&kgo.Record{Topic: "in", Value: enc(1)},
		&kgo.Record{Topic: "in", Value: []byte("not a number"), Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		&kgo.Record{Topic: "in", Value: enc(3)},
	))
}

func TestDeserializationHandlers(t *testing.T) {
	t.Parallel()
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
		require.NoError(t, c.CreateTopic(ctxT(t), "out", 1))
		produceNumbersWithOneBad(t, c)
		r := start(t, numbers(), config(t, c, "deser-fail"))
		err := r.wait(t)
		var de *processor.DeserializationError
		require.ErrorAs(t, err, &de)
		require.ErrorIs(t, err, serde.ErrMalformed)
		require.ErrorContains(t, err, `source "numbers": record in-0@1: deserializing the value with serde int64`)
		require.Equal(t, int64(1), r.app.Metrics().DeserializationErrors)
	})
	t.Run("log and skip", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
		require.NoError(t, c.CreateTopic(ctxT(t), "out", 1))
		produceNumbersWithOneBad(t, c)
		cfg := config(t, c, "deser-skip")
		cfg.OnDeserializationError = streams.LogAndSkipOnDeserializationError(quiet)
		r := start(t, numbers(), cfg)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "deser-skip", "in"), "the bad record's offset is committed too")
		require.NoError(t, r.stop(t))
		recs, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		require.Equal(t, []string{"1", "3"}, valuesOf(recs))
		require.Equal(t, int64(1), r.app.Metrics().DeserializationErrors)
	})
	t.Run("dead letter", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		for _, topic := range []string{"in", "out", "in-dlq"} {
			require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
		}
		produceNumbersWithOneBad(t, c)
		cfg := config(t, c, "deser-dlq")
		cfg.OnDeserializationError = streams.DeadLetterOnDeserializationError("in-dlq")
		r := start(t, numbers(), cfg)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "deser-dlq", "in"))
		require.NoError(t, r.stop(t))
		recs, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		require.Equal(t, []string{"1", "3"}, valuesOf(recs))
		dlq, err := c.ReadAll(ctxT(t), "in-dlq")
		require.NoError(t, err)
		require.Len(t, dlq, 1)
		require.Equal(t, "not a number", string(dlq[0].Value))
		hdr := map[string]string{}
		for _, h := range dlq[0].Headers {
			hdr[h.Key] = string(h.Value)
		}
		require.Equal(t, "test", hdr["origin"], "the record's own headers are kept")
		require.Equal(t, "in", hdr[streams.HeaderErrorTopic])
		require.Equal(t, "0", hdr[streams.HeaderErrorPartition])
		require.Equal(t, "1", hdr[streams.HeaderErrorOffset])
		require.Contains(t, hdr[streams.HeaderErrorMessage], "deserializing the value with serde int64")
		require.Equal(t, int64(1), r.app.Metrics().DeadLetters)
	})
}

func valuesOf(recs []*kgo.Record) []string {
	var vs []string
	for _, r := range recs {
		vs = append(vs, string(r.Value))
	}
	return vs
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	topo := tagger("x")
	_, err := streams.New(topo, streams.Config{})
	require.ErrorContains(t, err, "streams: Config.ApplicationID: is required")
	require.ErrorContains(t, err, "streams: Config.Brokers: is required")
	_, err = streams.New(topo, streams.Config{ApplicationID: "bad id!", Brokers: []string{"x:1"}, NumStreamThreads: -1, OffsetReset: "oldest", CommitInterval: -time.Second})
	require.ErrorContains(t, err, `Config.ApplicationID: "bad id!" may contain only letters, digits`)
	require.ErrorContains(t, err, "Config.NumStreamThreads: is -1")
	require.ErrorContains(t, err, `Config.OffsetReset: "oldest" is not "earliest" or "latest"`)
	require.ErrorContains(t, err, "Config.CommitInterval: is -1s")
	_, err = streams.New(topo, streams.Config{ApplicationID: "a", Brokers: []string{"x:1"}, Guarantee: eos.ExactlyOnce, TransactionTimeout: -time.Second})
	require.ErrorContains(t, err, "Config.TransactionTimeout: is -1s")
	_, err = streams.New(topo, streams.Config{ApplicationID: "a", Brokers: []string{"x:1"}, Guarantee: eos.Guarantee(7)})
	require.ErrorContains(t, err, "Config.Guarantee: Guarantee(7) is not one of")
	_, err = streams.New(nil, streams.Config{ApplicationID: "a", Brokers: []string{"x:1"}})
	require.ErrorContains(t, err, "nil topology")
}

func TestStartChecksTopics(t *testing.T) {
	t.Parallel()
	t.Run("missing source topic", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		err := start(t, tagger("x"), config(t, c, "missing")).wait(t)
		require.ErrorContains(t, err, `source topic "in" does not exist; create it before starting the app`)
	})
	t.Run("co-partitioned sources with different partition counts", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "left", 2))
		require.NoError(t, c.CreateTopic(ctxT(t), "right", 3))
		b := topology.NewBuilder()
		src := topology.AddSource(b, "both", topology.Source[string, string]{Topics: []string{"left", "right"}, KeySerde: serde.String(), ValueSerde: serde.String()})
		topology.AddProcessor(b, "p", processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }), src)
		topo, err := b.Build()
		require.NoError(t, err)
		err = start(t, topo, config(t, c, "copart")).wait(t)
		require.ErrorContains(t, err, "the source topics of sub-topology 0 are read together and must have the same partition count, but left has 2, right has 3")
	})
	t.Run("internal topics are created, and wrong ones rejected", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		require.NoError(t, c.CreateTopic(ctxT(t), "in", 3))
		topo := counting(t)
		r := start(t, topo, config(t, c, "internal"))
		require.Eventually(t, func() bool {
			d, err := c.Admin().ListTopics(ctxT(t), "internal-by-key-repartition", "internal-counts-changelog")
			return err == nil && len(d["internal-by-key-repartition"].Partitions) == 3 && len(d["internal-counts-changelog"].Partitions) == 3
		}, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, "compact", topicConfigs(t, c, "internal-counts-changelog")["internal-counts-changelog"]["cleanup.policy"])
		require.NoError(t, r.stop(t))

		// A changelog topic made by hand with the wrong shape is an error.
		require.NoError(t, c.CreateTopic(ctxT(t), "other-counts-changelog", 5))
		err := start(t, topo, config(t, c, "other")).wait(t)
		require.ErrorContains(t, err, `internal topic "other-counts-changelog" has 5 partitions but the app needs 3`)
		require.ErrorContains(t, err, `internal topic "other-counts-changelog" has cleanup.policy=delete but the app needs compact`)
	})
}

// counting re-keys "in" through a repartition topic and counts per key in
// a store "counts".
func counting(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	rekey := topology.AddProcessor(b, "rekey", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithKey(rec.Value))
	}), src)
	byKey := topology.AddRepartition(b, "by-key", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, rekey)
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &countStore{} }, byKey)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

type countStore struct {
	st state.KeyValueStore[string, int64]
}

func (c *countStore) Init(ctx processor.Context[string, int64]) error {
	var err error
	c.st, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}
func (c *countStore) Process(rec processor.Record[string, string]) error {
	n, _, err := c.st.Get(rec.Key)
	if err != nil {
		return err
	}
	return c.st.Put(rec.Key, n+1)
}
func (c *countStore) Close() error { return nil }

// Bug: a shutdown (cancelled Run context, as on SIGTERM) that arrived while
// a thread was committing made the commit's flush fail with "context
// canceled"; Run returned that error and the final commit was skipped.
// Here a processor requests a commit and cancels Run's context in the same
// step: Run must return nil with every record committed.
func TestShutdownDuringACommitStillCommits(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	stopper := topology.AddProcessor(b, "stopper", processor.Func(func(pc processor.Context[string, string], rec processor.Record[string, string]) error {
		if rec.Value == "stop" {
			pc.Commit()
			cancel()
		}
		return pc.Forward(rec)
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, stopper)
	topo, err := b.Build()
	require.NoError(t, err)
	produceValues(t, c, "in", false, "a", "b", "stop", "c")
	cfg := config(t, c, "stopper")
	cfg.CommitInterval = time.Hour // only the requested commit and the final one
	app, err := streams.New(topo, cfg)
	require.NoError(t, err)
	require.NoError(t, app.Run(ctx))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "stopper", "in"), "the final commit covered every processed record")
	recs, err := c.ReadAll(ctxT(t), "out")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "stop", "c"}, valuesOf(recs))
}

// Headers pass through the app unchanged, and a wall-clock punctuation
// fires on its own timer while no input arrives.
func TestHeadersPassThroughAndWallClockPunctuationFires(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 1))
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	ticker := topology.AddProcessor(b, "ticker", func() processor.Processor[string, string, string, string] {
		return &tickOnIdle{}
	}, src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, ticker)
	topo, err := b.Build()
	require.NoError(t, err)
	require.NoError(t, c.Produce(ctxT(t), &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "trace-id", Value: []byte("abc")}, {Key: "trace-id", Value: []byte("def")}}}))
	cfg := config(t, c, "ticker")
	r := start(t, topo, cfg)
	require.Eventually(t, func() bool {
		recs, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		ticks := 0
		for _, rec := range recs {
			if string(rec.Key) == "tick" {
				ticks++
			}
		}
		return ticks >= 2
	}, 20*time.Second, 20*time.Millisecond, "the wall-clock punctuator keeps firing with no input")
	require.NoError(t, r.stop(t))
	recs, err := c.ReadAll(ctxT(t), "out")
	require.NoError(t, err)
	// A tick may come before the input is fetched: find the input's record.
	var forwarded []*kgo.Record
	for _, rec := range recs {
		if string(rec.Key) == "k" {
			forwarded = append(forwarded, rec)
		}
	}
	require.Len(t, forwarded, 1)
	require.Equal(t, "v", string(forwarded[0].Value))
	require.Equal(t, []kgo.RecordHeader{{Key: "trace-id", Value: []byte("abc")}, {Key: "trace-id", Value: []byte("def")}}, forwarded[0].Headers)
}

// tickOnIdle forwards what it gets and, every 30 ms of wall-clock time, a
// "tick" record.
type tickOnIdle struct {
	ctx processor.Context[string, string]
}

func (p *tickOnIdle) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(30*time.Millisecond, processor.WallClockTime, processor.PunctuatorFunc(func(now time.Time) error {
		return ctx.Forward(processor.NewRecord("tick", now.Format(time.RFC3339Nano), now))
	}))
	return err
}
func (p *tickOnIdle) Process(rec processor.Record[string, string]) error { return p.ctx.Forward(rec) }
func (p *tickOnIdle) Close() error                                       { return nil }

// At-most-once commits the polled offsets before processing: a record whose
// processing fails is not processed again after a restart.
func TestAtMostOnceCommitsBeforeProcessing(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "p", processor.Func(func(_ processor.Context[string, string], rec processor.Record[string, string]) error {
		if rec.Value == "boom" {
			return errors.New("boom")
		}
		return nil
	}), src)
	topo, err := b.Build()
	require.NoError(t, err)
	produceValues(t, c, "in", false, "a", "boom", "b")
	cfg := config(t, c, "amo")
	cfg.Guarantee = eos.AtMostOnce
	err = start(t, topo, cfg).wait(t)
	require.ErrorContains(t, err, "boom")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "amo", "in"), "the offsets were committed before the failure")

	cfg.Guarantee = eos.AtLeastOnce
	b2 := topology.NewBuilder()
	var seen []string
	src2 := topology.AddSource(b2, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b2, "p", processor.Func(func(_ processor.Context[string, string], rec processor.Record[string, string]) error {
		seen = append(seen, rec.Value)
		return nil
	}), src2)
	topo2, err := b2.Build()
	require.NoError(t, err)
	produceValues(t, c, "in", false, "after")
	r := start(t, topo2, cfg)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "amo", "in"))
	require.NoError(t, r.stop(t))
	require.Equal(t, []string{"after"}, seen, "nothing before the restart is processed again")
}

func TestCloseIsIdempotentAndRunAfterCloseFails(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 1))
	r := start(t, tagger("x"), config(t, c, "closing"))
	produceValues(t, c, "in", false, "v")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "closing", "in"), "the app is running")
	require.NoError(t, r.stop(t))
	require.NoError(t, r.app.Close())
	require.ErrorIs(t, r.app.Run(context.Background()), streams.ErrClosed)
	app, err := streams.New(tagger("x"), config(t, c, "closing"))
	require.NoError(t, err)
	require.NoError(t, app.Close(), "closing an app that never ran")
}

// Bug: instances of one app starting at the same moment raced to create
// the internal topics; the loser's Run failed with TOPIC_ALREADY_EXISTS.
func TestInstancesStartingTogetherShareTheInternalTopics(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	var rs []*running
	for range 4 {
		rs = append(rs, start(t, counting(t), config(t, c, "together")))
	}
	produceValues(t, c, "in", false, "a", "b", "c", "d")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "together", "in", streams.RepartitionTopic("together", "by-key")))
	for _, r := range rs {
		require.NoError(t, r.stop(t), "every instance ran until stopped")
	}
}

// A window store's changelog is compacted and deleted, with the store's
// retention plus one day; a key-value store's is only compacted.
func TestWindowStoreChangelogIsCompactedAndDeleted(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 1))
	topo := storeTopology(t, "p", processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }),
		state.NewWindowStoreBuilder(state.InMemoryWindowStore("windows", time.Hour, time.Minute, false), serde.String(), serde.Int64()),
		state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("plain"), serde.String(), serde.Int64()))
	r := start(t, topo, config(t, c, "win"))
	produceValues(t, c, "in", false, "x")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "win", "in"))
	require.NoError(t, r.stop(t))
	got := topicConfigs(t, c, streams.ChangelogTopic("win", "windows"), streams.ChangelogTopic("win", "plain"))
	require.Equal(t, "compact,delete", got["win-windows-changelog"]["cleanup.policy"])
	require.Equal(t, fmt.Sprint((time.Hour + 24*time.Hour).Milliseconds()), got["win-windows-changelog"]["retention.ms"])
	require.Equal(t, "compact", got["win-plain-changelog"]["cleanup.policy"])
}
