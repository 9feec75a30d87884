// Package embedded starts an in-process Kafka cluster (franz-go's kfake) on
// 127.0.0.1 for the examples and the tests, and has helpers to produce to it
// and to wait until a consumer group has caught up.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a connection to a Kafka cluster: an in-process one that Start
// started, or an existing one reached with Connect.
type Cluster struct {
	c     *kfake.Cluster // nil for Connect
	addrs []string
	admin *kadm.Client
	cl    *kgo.Client
	// progress, if set (Open sets it), hears every ProgressEvery how far
	// a WaitCaughtUp has got, as program.
	progress io.Writer
	program  string
}

// ProgressEvery is how often a wait of a cluster made by Open reports its
// progress.
var ProgressEvery = 2 * time.Second

// Start starts a cluster with one broker listening on a random port of
// 127.0.0.1. opts are passed to kfake. Close it when done.
func Start(opts ...kfake.Opt) (*Cluster, error) {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded: starting kfake: %w", err)
	}
	conn, err := Connect(c.ListenAddrs())
	if err != nil {
		c.Close()
		return nil, err
	}
	conn.c = c
	return conn, nil
}

// Connect connects to an existing cluster. Close it when done; that does
// not stop the cluster.
func Connect(brokers []string) (*Cluster, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("embedded: client for %v: %w", brokers, err)
	}
	return &Cluster{addrs: brokers, cl: cl, admin: kadm.NewClient(cl)}, nil
}

// Open is what the examples' -brokers flag does: with brokers empty it
// starts an in-process cluster, telling log (as program) so; otherwise it
// connects to the comma-separated brokers.
func Open(brokers string, log io.Writer, program string) (*Cluster, error) {
	var c *Cluster
	var err error
	if brokers == "" {
		fmt.Fprintln(log, program+": starting an in-process Kafka on 127.0.0.1")
		c, err = Start()
	} else {
		c, err = Connect(strings.Split(brokers, ","))
	}
	if c != nil {
		c.progress, c.program = log, program
	}
	return c, err
}

// Addrs are the brokers' addresses.
func (c *Cluster) Addrs() []string { return c.addrs }

// Kfake returns the underlying cluster, for fault injection and compaction.
func (c *Cluster) Kfake() *kfake.Cluster { return c.c }

// Admin returns an admin client on the cluster.
func (c *Cluster) Admin() *kadm.Client { return c.admin }

// Close closes the connection and stops the cluster if Start started it.
// It is idempotent.
func (c *Cluster) Close() {
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
		if c.c != nil {
			c.c.Close()
		}
	}
}

// CreateTopic creates topic with the given partition count. A topic that
// exists already with that partition count is not an error; one with
// another count is.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := c.admin.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		d, lerr := c.admin.ListTopics(ctx, topic)
		if lerr != nil {
			return fmt.Errorf("embedded: describing existing topic %q: %w", topic, lerr)
		}
		if got := int32(len(d[topic].Partitions)); got != partitions {
			return fmt.Errorf("embedded: topic %q exists with %d partitions, not %d; delete it or ask for %d", topic, got, partitions, got)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded: creating topic %q: %w", topic, err)
	}
	return nil
}

// Produce writes recs and waits for them to be acknowledged.
func (c *Cluster) Produce(ctx context.Context, recs ...*kgo.Record) error {
	return c.cl.ProduceSync(ctx, recs...).FirstErr()
}

// WaitCaughtUp waits until group has committed, on every partition of
// every topic, the partition's end offset, or ctx ends. Topics are checked
// in the order given, which must be the order records flow (input topics
// before the repartition topics they feed): the committed offsets are read
// before the end offsets, so an input topic that is fully committed proves
// that everything it caused downstream was already written.
func (c *Cluster) WaitCaughtUp(ctx context.Context, group string, topics ...string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	report := time.Now().Add(ProgressEvery)
	for {
		done, err := c.caughtUp(ctx, group, topics)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if c.progress != nil && time.Now().After(report) {
			report = time.Now().Add(ProgressEvery)
			c.reportProgress(ctx, group, topics)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: waiting for group %q to catch up on %q: %w", group, topics, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) caughtUp(ctx context.Context, group string, topics []string) (bool, error) {
	// Stable offsets only: an offset committed in a transaction that is
	// still open (exactly-once) is not committed yet, and may never be.
	committed, err := c.admin.FetchOffsets(kadm.RequireStable(ctx), group)
	if err != nil {
		return false, nil // the group may not exist yet; ctx bounds the wait
	}
	ends, err := c.admin.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return false, fmt.Errorf("embedded: listing end offsets: %w", err)
	}
	done := true
	var behind []kadm.ListedOffset
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			done = false
			return
		}
		if o.Offset == 0 {
			return
		}
		r, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok || r.Err != nil || r.At < o.Offset {
			behind = append(behind, o)
		}
	})
	if !done {
		return false, nil
	}
	// A transactional topic ends in transaction markers, which a consumer
	// does not commit past (it commits after the last record it got): a
	// partition is caught up when the group committed its last visible
	// record.
	for _, o := range behind {
		end, err := c.VisibleEnd(ctx, o.Topic, o.Partition, o.Offset)
		if err != nil {
			return false, err
		}
		r, ok := committed.Lookup(o.Topic, o.Partition)
		if end > 0 && (!ok || r.Err != nil || r.At < end) {
			return false, nil
		}
	}
	return true, nil
}

// VisibleEnd returns the offset after the last record of topic's partition
// below end that a read_committed consumer gets (not a marker, not in an
// aborted transaction), or 0 if there is none.
func (c *Cluster) VisibleEnd(ctx context.Context, topic string, partition int32, end int64) (int64, error) {
	for back := int64(16); ; back *= 4 {
		from := max(end-back, 0)
		last, err := c.lastVisible(ctx, topic, partition, from, end)
		if err != nil {
			return 0, err
		}
		if last >= 0 {
			return last + 1, nil
		}
		if from == 0 {
			return 0, nil
		}
	}
}

// lastVisible returns the offset of the last record of topic's partition
// in [from, end) that a read_committed consumer gets, or -1 if there is
// none.
func (c *Cluster) lastVisible(ctx context.Context, topic string, partition int32, from, end int64) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	last := int64(-1)
	for reached := false; !reached; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		for _, fe := range fs.Errors() {
			return 0, fmt.Errorf("embedded: reading %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end && !r.Attrs.IsControl() {
				last = max(last, r.Offset)
			}
			if r.Offset >= end-1 {
				reached = true
			}
		})
	}
	return last, nil
}

// ReadAll reads topic from its first record to its last stable offset, all
// partitions, as a read_committed consumer: the records of aborted
// transactions and the transaction markers are left out. It returns the
// records in partition order, each partition in offset order.
func (c *Cluster) ReadAll(ctx context.Context, topic string) ([]*kgo.Record, error) {
	ends, err := c.admin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("embedded: end offsets of %q: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	// Markers are kept so that a partition ending in one (the last offset
	// of a transactional topic is a commit marker) is seen to end.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byPart := map[int32][]*kgo.Record{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedded: reading %q: %w", topic, err)
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("embedded: reading %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset < end {
				if !r.Attrs.IsControl() {
					byPart[r.Partition] = append(byPart[r.Partition], r)
				}
				if r.Offset >= end-1 {
					delete(want, r.Partition)
				}
			}
		})
	}
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		out = append(out, byPart[p]...)
	}
	return out, nil
}

// Runner is what RunUntilCaughtUp runs; a *streams.App is one.
type Runner interface {
	Run(ctx context.Context) error
	Close() error
}

// RunUntilCaughtUp runs app until group has committed every record of
// topics (see WaitCaughtUp for their order), then closes it and waits for
// Run to return. It fails if the app stops on its own first, with the app's
// error.
func (c *Cluster) RunUntilCaughtUp(ctx context.Context, app Runner, group string, topics ...string) error {
	return c.RunUntilCaughtUpThen(ctx, app, group, nil, topics...)
}

// RunUntilCaughtUpThen is RunUntilCaughtUp that calls then, if not nil,
// once the app has caught up and before it is closed, while its tasks and
// their metrics are still there.
func (c *Cluster) RunUntilCaughtUpThen(ctx context.Context, app Runner, group string, then func(), topics ...string) error {
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	caughtUp := make(chan error, 1)
	go func() { caughtUp <- c.WaitCaughtUp(ctx, group, topics...) }()
	select {
	case err := <-runErr:
		return errors.Join(errors.New("embedded: the app stopped before processing every record"), err)
	case err := <-caughtUp:
		if err != nil {
			return errors.Join(err, app.Close(), <-runErr)
		}
	}
	if then != nil {
		then()
	}
	return errors.Join(app.Close(), <-runErr)
}

// reportProgress writes how many of topics' records group has committed.
func (c *Cluster) reportProgress(ctx context.Context, group string, topics []string) {
	// A group that does not exist yet has committed nothing.
	committed, _ := c.admin.FetchOffsets(kadm.RequireStable(ctx), group)
	ends, err := c.admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return
	}
	var done, total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		total += o.Offset
		if r, ok := committed.Lookup(o.Topic, o.Partition); ok && r.Err == nil {
			done += min(r.At, o.Offset)
		}
	})
	fmt.Fprintf(c.progress, "%s: waiting for the app: %d of %d offsets of %s committed\n", c.program, done, total, strings.Join(topics, ", "))
}
