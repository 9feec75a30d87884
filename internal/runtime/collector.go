package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/graph"
)

// RecordCollector sends a thread's output through its client: the tasks'
// sink records and changelog records, and dead letters. It remembers the
// records the broker rejected, for the commit to act on, and how far each
// changelog partition was acknowledged, for checkpoints and for the offset
// a transactional store keeps with its writes.
//
// Send runs on the thread's goroutine; the promises run on franz-go's; mu
// guards what both touch.
type RecordCollector struct {
	client  GroupClient
	log     *slog.Logger
	metrics *Metrics
	// onProduction is the production handler.
	onProduction func(ctx context.Context, rec *kgo.Record, err error) Response
	// numPartitions asks the cluster for a topic's partition count.
	numPartitions func(topic string) (int, error)
	// promiseFn and changelogFn are c.promise and c.changelogPromise, made
	// once by Send: a method value made per record is an allocation.
	promiseFn, changelogFn func(*kgo.Record, error)

	mu struct {
		sync.Mutex
		failed []failedRecord
		// acked is the offset after the last acknowledged record of each
		// changelog partition.
		acked map[TopicPartition]int64
	}
}

type failedRecord struct {
	rec *kgo.Record
	err error
}

// Send implements task.Collector. It copies out's key and value, which
// the caller reuses, into one allocation of the record's own (a nil key
// or value, a Kafka null, stays nil; an empty one stays empty).
//
// The record is not recycled once acknowledged: recycling through a
// sync.Pool, its promise putting it back on franz-go's goroutine, cost
// the word count bench more CPU than the allocation it saved (issue 12).
func (c *RecordCollector) Send(out *graph.Output) error {
	if c.promiseFn == nil {
		c.promiseFn, c.changelogFn = c.promise, c.changelogPromise
	}
	r := &kgo.Record{Topic: out.Topic, Partition: out.Partition, Timestamp: out.Timestamp}
	if out.Key != nil || out.Value != nil {
		buf := make([]byte, len(out.Key)+len(out.Value))
		n := copy(buf, out.Key)
		copy(buf[n:], out.Value)
		if out.Key != nil {
			r.Key = buf[:n:n]
		}
		if out.Value != nil {
			r.Value = buf[n:]
		}
	}
	if len(out.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(out.Headers))
		for i, h := range out.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if out.Changelog {
		c.client.Produce(context.Background(), r, c.changelogFn)
		return nil
	}
	c.client.Produce(context.Background(), r, c.promiseFn)
	return nil
}

// NumPartitions implements task.Collector.
func (c *RecordCollector) NumPartitions(topic string) (int, error) { return c.numPartitions(topic) }

// SendDeadLetters produces the records a handler returned.
func (c *RecordCollector) SendDeadLetters(recs []*kgo.Record) {
	for _, r := range recs {
		c.metrics.DeadLetters.Add(1)
		c.client.Produce(context.Background(), r, c.promise)
	}
}

// promise runs on a franz-go goroutine for every produced record.
func (c *RecordCollector) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.mu.failed = append(c.mu.failed, failedRecord{r, err})
	c.mu.Unlock()
}

// changelogPromise is promise for changelog records: it also remembers how
// far each changelog partition was acknowledged.
func (c *RecordCollector) changelogPromise(r *kgo.Record, err error) {
	if err != nil {
		c.promise(r, err)
		return
	}
	tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
	c.mu.Lock()
	if c.mu.acked == nil {
		c.mu.acked = map[TopicPartition]int64{}
	}
	c.mu.acked[tp] = max(c.mu.acked[tp], r.Offset+1)
	c.mu.Unlock()
}

// AckedEnd returns the offset after the last acknowledged record of a
// changelog partition, or -1.
func (c *RecordCollector) AckedEnd(tp TopicPartition) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.mu.acked[tp]; ok {
		return o
	}
	return -1
}

// Flush waits until every record sent so far is acknowledged or failed.
func (c *RecordCollector) Flush(ctx context.Context) error {
	if err := c.client.Flush(ctx); err != nil {
		return fmt.Errorf("waiting for produced records: %w", err)
	}
	return nil
}

// TakeFailures returns and forgets the records the broker rejected.
func (c *RecordCollector) TakeFailures() []failedRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.mu.failed
	c.mu.failed = nil
	return f
}

// HandleFailures applies the production handler to the records the broker
// rejected since the last call; it returns the first one the handler does
// not skip. Dead letters the handler returns are produced, and the caller's
// next Flush waits for them.
func (c *RecordCollector) HandleFailures(ctx context.Context) error {
	for _, f := range c.TakeFailures() {
		c.metrics.ProductionErrors.Add(1)
		resp := c.onProduction(ctx, f.rec, f.err)
		if !resp.Continue {
			return fmt.Errorf("streams: producing to %s: %w", f.rec.Topic, f.err)
		}
		c.log.Warn("skipping a record the broker rejected", "topic", f.rec.Topic, "error", f.err)
		c.SendDeadLetters(resp.DeadLetters)
	}
	return nil
}

// sinkPartitioner keeps the partition a sink's partitioner chose
// (Partition >= 0) and otherwise partitions as the Java client does:
// murmur2 of the key, sticky for records without one.
type sinkPartitioner struct{ def kgo.Partitioner }

func (p sinkPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{p.def.ForTopic(topic)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (p topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.def.RequiresConsistency(r)
}

func (p topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.def.Partition(r, n)
}

// OnNewBatch keeps the default partitioner sticky for records without a key.
func (p topicPartitioner) OnNewBatch() {
	if nb, ok := p.def.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
