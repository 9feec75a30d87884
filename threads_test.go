package streams_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// groupMembers returns the members of group that hold partitions, once the
// group is stable with want of them.
func groupMembers(t *testing.T, c *embedded.Cluster, group string, want int) []kadm.DescribedGroupMember {
	t.Helper()
	var members []kadm.DescribedGroupMember
	require.Eventually(t, func() bool {
		gs, err := c.Admin().DescribeGroups(ctxT(t), group)
		require.NoError(t, err)
		g := gs[group]
		if g.Err != nil || g.State != "Stable" {
			return false
		}
		members = members[:0]
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); ok && len(a.Topics) > 0 {
				members = append(members, m)
			}
		}
		return len(members) == want
	}, 30*time.Second, 20*time.Millisecond, "%s: %d members with partitions", group, want)
	return members
}

// Three stream threads in one instance share six partitions under each
// guarantee: each thread is a member of the group with its own tasks
// (under exactly-once, its own transactional producer), and every record
// is processed once.
func TestManyThreadsUnderEachGuarantee(t *testing.T) {
	t.Parallel()
	for _, g := range []eos.Guarantee{eos.AtMostOnce, eos.AtLeastOnce} {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t)
			require.NoError(t, c.CreateTopic(ctxT(t), "in", 6))
			require.NoError(t, c.CreateTopic(ctxT(t), "out", 6))
			cfg := config(t, c, "threads")
			cfg.Guarantee = g
			cfg.NumStreamThreads = 3
			r := start(t, tagger("A"), cfg)
			vs := values(600, "v")
			produceValues(t, c, "in", true, vs[:300]...)
			groupMembers(t, c, "threads", 3) // each thread is a member with partitions
			produceValues(t, c, "in", true, vs[300:]...)
			require.NoError(t, c.WaitCaughtUp(ctxT(t), "threads", "in"))
			require.NoError(t, r.stop(t))

			out := outputByValue(t, c)
			require.Len(t, out, len(vs))
			tasks := map[string]bool{}
			for _, v := range vs {
				require.Len(t, out[v], 1, "%s processed once, got %v", v, out[v])
				tasks[out[v][0]] = true
			}
			require.Len(t, tasks, 6, "every task ran: %v", tasks)
		})
	}
	t.Run(eos.ExactlyOnce.String(), func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		eosTopics(t, c)
		eosInput(t, c, 0, 300, 20)
		cfg := eosConfig(t, c, "eos-threads")
		cfg.NumStreamThreads = 3
		r := start(t, eosTopology(t, nil), cfg)
		groupMembers(t, c, "eos-threads", 3) // each thread is a member with partitions
		eosInput(t, c, 300, 300, 20)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "eos-threads", "in", streams.RepartitionTopic("eos-threads", "by-key")))

		txns, err := c.Admin().ListTransactions(ctxT(t), nil, nil)
		require.NoError(t, err)
		var ids []string
		for id := range txns {
			if strings.HasPrefix(id, "eos-threads-") {
				ids = append(ids, id)
			}
		}
		require.Len(t, ids, 3, "one transactional producer per thread: %v", ids)
		require.NoError(t, r.stop(t))
		verifyExactlyOnce(t, c, "eos-threads")
	})
}

// picky forwards "in" to "out" and fails on the value "bad"; its
// wall-clock punctuator fails the first time it runs.
func picky(t *testing.T, punctuated *atomic.Int64) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	proc := topology.AddProcessor(b, "picky", func() processor.Processor[string, string, string, string] {
		return &pickyProc{punctuated: punctuated}
	}, src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, proc)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

type pickyProc struct {
	ctx        processor.Context[string, string]
	punctuated *atomic.Int64
}

func (p *pickyProc) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(20*time.Millisecond, processor.WallClockTime, processor.PunctuatorFunc(func(time.Time) error {
		if p.punctuated.Add(1) == 1 {
			return errors.New("first tick fails")
		}
		return nil
	}))
	return err
}

func (p *pickyProc) Process(rec processor.Record[string, string]) error {
	if rec.Value == "bad" {
		return errors.New("cannot handle bad")
	}
	return p.ctx.Forward(rec)
}

func (p *pickyProc) Close() error { return nil }

// errorLog keeps what a handler was called with.
type errorLog[E any] struct {
	mu   sync.Mutex
	errs []E
}

func (l *errorLog[E]) add(e E) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, e)
}

func (l *errorLog[E]) get() []E {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]E(nil), l.errs...)
}

// A processing handler that continues skips the failed record, sends its
// dead letter, commits past it and keeps the app running; a punctuator's
// failure is continued the same way and the punctuator keeps being called.
func TestProcessingHandlerContinues(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"in", "out", "dlq"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	var punctuated atomic.Int64
	var seen errorLog[*processor.ProcessingError]
	cfg := config(t, c, "continue-processing")
	cfg.OnProcessingError = func(_ context.Context, err *processor.ProcessingError) streams.Response {
		seen.add(err)
		if err.Punctuation {
			return streams.Response{Continue: true}
		}
		return streams.Response{Continue: true, DeadLetters: []*kgo.Record{{
			Topic: "dlq",
			Key:   []byte(fmt.Sprintf("%s-%d@%d", err.Record.Topic, err.Record.Partition, err.Record.Offset)),
			Value: []byte(err.Error()),
		}}}
	}
	r := start(t, picky(t, &punctuated), cfg)
	produceValues(t, c, "in", false, "a", "b", "bad", "c")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "continue-processing", "in"))
	require.Eventually(t, func() bool { return punctuated.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"the punctuator is called again after its failure was continued")
	produceValues(t, c, "in", false, "d")
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "continue-processing", "in"))
	requireStillRunning(t, r, "the app")
	m := r.app.Metrics()
	require.NoError(t, r.stop(t))

	out, err := c.ReadAll(ctxT(t), "out")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, valuesOf(out), "the failed record was skipped, the rest processed")
	dlq, err := c.ReadAll(ctxT(t), "dlq")
	require.NoError(t, err)
	require.Len(t, dlq, 1)
	require.Equal(t, "in-0@2", string(dlq[0].Key))
	require.Equal(t, `task 0_0: processor "picky": record in-0@2: cannot handle bad`, string(dlq[0].Value))

	var records, punctuations int
	for _, e := range seen.get() {
		require.Equal(t, "picky", e.Processor)
		if e.Punctuation {
			punctuations++
			require.EqualError(t, e.Err, "first tick fails")
		} else {
			records++
		}
	}
	require.Equal(t, 1, records)
	require.Equal(t, 1, punctuations)
	require.Equal(t, int64(2), m.ProcessingErrors)
	require.Equal(t, int64(1), m.DeadLetters)
	require.Equal(t, int64(5), m.RecordsProcessed)
}

// router writes "in" to "out", except values that start with "big", which
// go to "big": a topic whose max.message.bytes the test makes too small
// for them, so that only those records are in the batches the broker
// rejects.
func router(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	route := topology.AddProcessor(b, "route", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		if strings.HasPrefix(rec.Value, "big") {
			return ctx.ForwardTo("to-big", rec)
		}
		return ctx.ForwardTo("to-out", rec)
	}), src)
	topology.AddSink(b, "to-out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, route)
	topology.AddSink(b, "to-big", topology.Sink[string, string]{Topic: "big", KeySerde: serde.String(), ValueSerde: serde.String()}, route)
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// routerTopics makes "in", "out", "dlq" and "big", whose records may be at
// most 512 bytes.
func routerTopics(t *testing.T, c *embedded.Cluster) {
	t.Helper()
	for _, topic := range []string{"in", "out", "dlq"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	limit := "512"
	resp, err := c.Admin().CreateTopic(ctxT(t), 1, 1, map[string]*string{"max.message.bytes": &limit}, "big")
	require.NoError(t, err)
	require.NoError(t, resp.Err)
}

// A production handler that continues skips the record the broker
// rejected, sends its dead letter and commits past it; the default handler
// stops the app with an error that names the topic.
func TestProductionHandler(t *testing.T) {
	t.Parallel()
	// Random, so that the producer's compression cannot shrink it under
	// the limit.
	noise := make([]byte, 4000)
	_, _ = rand.Read(noise)
	big := "big" + hex.EncodeToString(noise)

	t.Run("continue", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		routerTopics(t, c)
		var seen errorLog[error]
		cfg := config(t, c, "continue-production")
		cfg.OnProductionError = func(_ context.Context, rec *kgo.Record, err error) streams.Response {
			seen.add(fmt.Errorf("%s: %w", rec.Topic, err))
			return streams.Response{Continue: true, DeadLetters: []*kgo.Record{{Topic: "dlq", Key: rec.Key, Value: []byte(err.Error())}}}
		}
		r := start(t, router(t), cfg)
		produceValues(t, c, "in", true, "a", big, "b")
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "continue-production", "in"))
		produceValues(t, c, "in", true, "c")
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "continue-production", "in"))
		requireStillRunning(t, r, "the app")
		m := r.app.Metrics()
		require.NoError(t, r.stop(t))

		errs := seen.get()
		require.Len(t, errs, 1, "the broker rejected the one big record")
		require.ErrorIs(t, errs[0], kerr.MessageTooLarge)
		require.ErrorContains(t, errs[0], "big: ")
		require.Equal(t, int64(1), m.ProductionErrors)
		require.Equal(t, int64(1), m.DeadLetters)

		out, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b", "c"}, valuesOf(out))
		bigs, err := c.ReadAll(ctxT(t), "big")
		require.NoError(t, err)
		require.Empty(t, bigs)
		dlq, err := c.ReadAll(ctxT(t), "dlq")
		require.NoError(t, err)
		require.Len(t, dlq, 1)
		require.Equal(t, big, string(dlq[0].Key))
	})

	t.Run("fail by default", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t)
		routerTopics(t, c)
		produceValues(t, c, "in", true, "a", big, "b")
		r := start(t, router(t), config(t, c, "fail-production"))
		err := r.wait(t)
		require.ErrorIs(t, err, kerr.MessageTooLarge)
		require.ErrorContains(t, err, "producing to big")
		require.Equal(t, int64(1), r.app.Metrics().ProductionErrors)
		require.Equal(t, streams.Error, r.app.State())
		// The rejected record is not lost: nothing past it was committed,
		// so a run whose handler continues meets it again.
		var seen errorLog[*kgo.Record]
		cfg := config(t, c, "fail-production")
		cfg.OnProductionError = func(_ context.Context, rec *kgo.Record, _ error) streams.Response {
			seen.add(rec)
			return streams.Response{Continue: true}
		}
		again := start(t, router(t), cfg)
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "fail-production", "in"))
		require.NoError(t, again.stop(t))
		recs := seen.get()
		require.Len(t, recs, 1)
		require.Equal(t, big, string(recs[0].Value))
		out, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		require.Contains(t, valuesOf(out), "b", "the record after the rejected one is processed")
	})
}

// A static member (GroupInstanceID) that restarts within the session
// timeout gets its own tasks back: the other instance never takes them over
// while it is away, and the restarted instance processes what was produced
// for them meanwhile.
func TestStaticMembershipKeepsTasksAcrossARestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 4))
	static := func(id string) streams.Config {
		cfg := config(t, c, "static")
		cfg.GroupInstanceID = id
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.SessionTimeout(30*time.Second))
		return cfg
	}
	cfgA, cfgB := static("instance-a"), static("instance-b")
	a := start(t, tagger("A1"), cfgA)
	b := start(t, tagger("B"), cfgB)

	// Produce until both instances hold tasks.
	vs := values(1000, "v")
	require.Eventually(t, func() bool {
		produceValues(t, c, "in", true, vs[:20]...)
		vs = vs[20:]
		require.NoError(t, c.WaitCaughtUp(ctxT(t), "static", "in"))
		owners := map[byte]bool{}
		for _, where := range outputByValue(t, c) {
			owners[where[len(where)-1][0]] = true
		}
		return owners['A'] && owners['B']
	}, 30*time.Second, 10*time.Millisecond)
	// The partitions A holds now, as the group assigned them.
	assigned := func() map[string][]int32 {
		by := map[string][]int32{}
		for _, m := range groupMembers(t, c, "static", 2) {
			require.NotNil(t, m.InstanceID)
			a, _ := m.Assigned.AsConsumer()
			for _, tp := range a.Topics {
				by[*m.InstanceID] = append(by[*m.InstanceID], tp.Partitions...)
			}
		}
		require.ElementsMatch(t, []string{"instance-a-0", "instance-b-0"}, slices.Collect(maps.Keys(by)))
		for _, ps := range by {
			slices.Sort(ps)
		}
		return by
	}
	before := assigned()
	require.NotEmpty(t, before["instance-a-0"])
	aTasks := map[string]bool{}
	for _, p := range before["instance-a-0"] {
		aTasks[fmt.Sprintf("0_%d", p)] = true
	}

	require.NoError(t, a.stop(t))
	away := values(200, "away-")
	produceValues(t, c, "in", true, away...)
	// A closed without leaving: the group still counts it, with its
	// partitions, so B does not take them over. B would hear of a
	// rebalance at its next heartbeat (config sets 100 ms): watch the
	// assignment for twenty of them.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		require.Equal(t, before, assigned(), "the group keeps the absent static member's assignment")
	}
	a = start(t, tagger("A2"), cfgA)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "static", "in"))
	require.NoError(t, a.stop(t))
	require.NoError(t, b.stop(t))

	out := outputByValue(t, c)
	for _, v := range away {
		require.Len(t, out[v], 1, "%s processed once, got %v", v, out[v])
		instance, task, _ := strings.Cut(out[v][0], "/")
		if aTasks[task] {
			require.Equal(t, "A2", instance, "%s is on A's task %s: B must not have taken it", v, task)
		} else {
			require.Equal(t, "B", instance, "%s is on B's task %s", v, task)
		}
	}
}

func TestGroupInstanceIDIsValidated(t *testing.T) {
	_, err := streams.New(tagger("A"), streams.Config{ApplicationID: "app", Brokers: []string{"x:1"}, GroupInstanceID: "my instance"})
	require.ErrorContains(t, err, `Config.GroupInstanceID: "my instance" may contain only letters, digits, '.', '_' and '-'`)
}

// Each source's OffsetReset decides where its partitions without committed
// offsets start; sources without one follow Config.OffsetReset.
func TestOffsetResetPerSource(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	for _, topic := range []string{"early", "late", "dflt", "out"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, 1))
	}
	b := topology.NewBuilder()
	var srcs []topology.Node[string, string]
	for topic, reset := range map[string]topology.OffsetReset{"early": topology.Earliest, "late": topology.Latest, "dflt": topology.DefaultReset} {
		srcs = append(srcs, topology.AddSource(b, topic, topology.Source[string, string]{Topics: []string{topic}, OffsetReset: reset, KeySerde: serde.String(), ValueSerde: serde.String()}))
	}
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, srcs...)
	topo, err := b.Build()
	require.NoError(t, err)

	for _, topic := range []string{"early", "late", "dflt"} {
		produceValues(t, c, topic, false, "before-"+topic)
	}
	cfg := config(t, c, "resets")
	cfg.OffsetReset = topology.Latest
	r := start(t, topo, cfg)
	// Records produced once the app runs reach the output; produce until
	// one from each topic did.
	// The loop polls on the test goroutine (require may stop the test only
	// there), until one record from each topic is in the output.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		for _, topic := range []string{"early", "late", "dflt"} {
			produceValues(t, c, topic, false, fmt.Sprintf("after-%s-%d", topic, i))
		}
		out, err := c.ReadAll(ctxT(t), "out")
		require.NoError(t, err)
		got := map[string]bool{}
		for _, v := range valuesOf(out) {
			if rest, ok := strings.CutPrefix(v, "after-"); ok {
				topic, _, _ := strings.Cut(rest, "-")
				got[topic] = true
			}
		}
		if len(got) == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "records produced after the start reach the output; got %v", got)
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "resets", "early", "late", "dflt"))
	require.NoError(t, r.stop(t))

	out, err := c.ReadAll(ctxT(t), "out")
	require.NoError(t, err)
	vs := valuesOf(out)
	require.Contains(t, vs, "before-early", "an Earliest source reads what was there before")
	require.NotContains(t, vs, "before-late", "a Latest source skips what was there before")
	require.NotContains(t, vs, "before-dflt", "a source without a reset follows Config.OffsetReset (Latest)")
}

func TestOffsetResetIsValidated(t *testing.T) {
	_, err := streams.New(tagger("A"), streams.Config{ApplicationID: "app", Brokers: []string{"x:1"}, OffsetReset: "oldest"})
	require.ErrorContains(t, err, `Config.OffsetReset: "oldest" is not "earliest" or "latest"`)

	b := topology.NewBuilder()
	topology.AddSource(b, "s", topology.Source[string, string]{Topics: []string{"t"}, OffsetReset: "oldest", KeySerde: serde.String(), ValueSerde: serde.String()})
	_, err = b.Build()
	require.ErrorContains(t, err, `source "s": OffsetReset "oldest" is not one of "earliest", "latest" or ""`)
}
