// Package embedded starts an in-process Kafka cluster (franz-go's kfake) on
// 127.0.0.1 for the examples and the tests, and has helpers to produce to it
// and to wait until a consumer group has caught up.
package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running in-process Kafka cluster.
type Cluster struct {
	c     *kfake.Cluster
	admin *kadm.Client
	cl    *kgo.Client
}

// Start starts a cluster with one broker listening on a random port of
// 127.0.0.1. opts are passed to kfake. Close it when done.
func Start(opts ...kfake.Opt) (*Cluster, error) {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded: starting kfake: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("embedded: client: %w", err)
	}
	return &Cluster{c: c, cl: cl, admin: kadm.NewClient(cl)}, nil
}

// Addrs are the brokers' addresses.
func (c *Cluster) Addrs() []string { return c.c.ListenAddrs() }

// Kfake returns the underlying cluster, for fault injection and compaction.
func (c *Cluster) Kfake() *kfake.Cluster { return c.c }

// Admin returns an admin client on the cluster.
func (c *Cluster) Admin() *kadm.Client { return c.admin }

// Close stops the cluster. It is idempotent.
func (c *Cluster) Close() {
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
		c.c.Close()
	}
}

// CreateTopic creates topic with the given partition count.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := c.admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
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
	for {
		done, err := c.caughtUp(ctx, group, topics)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: waiting for group %q to catch up on %q: %w", group, topics, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) caughtUp(ctx context.Context, group string, topics []string) (bool, error) {
	committed, err := c.admin.FetchOffsets(ctx, group)
	if err != nil {
		return false, nil // the group may not exist yet; ctx bounds the wait
	}
	ends, err := c.admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false, fmt.Errorf("embedded: listing end offsets: %w", err)
	}
	done := true
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
			done = false
		}
	})
	return done, nil
}
