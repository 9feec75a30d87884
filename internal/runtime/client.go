package runtime

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupClient is what a stream thread needs of its consumer-group client.
// *kgo.Client provides it (through kgoGroup); the tests' fake provides it
// without a broker, so that the commit and rebalance logic can be tested
// on its own. The rebalance callbacks are not part of it: the client calls
// the TaskManager's OnAssigned, OnRevoked and OnLost.
type GroupClient interface {
	PollRecords(ctx context.Context, maxPollRecords int) kgo.Fetches
	// AllowRebalance lets a rebalance that the last poll blocked go on.
	AllowRebalance()
	// CommitOffsets commits offsets with the group (not transactionally).
	CommitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error
	// SetOffsets moves the consumer's positions (an aborted transaction's
	// rewind).
	SetOffsets(offsets map[string]map[int32]kgo.EpochOffset)
	PauseFetchPartitions(parts map[string][]int32) map[string][]int32
	ResumeFetchPartitions(parts map[string][]int32)
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	// Flush waits until every produced record is acknowledged or failed.
	Flush(ctx context.Context) error
	// ForceRebalance makes the member rejoin the group: a probing
	// rebalance.
	ForceRebalance()
	Close()
}

// Transactions is the exactly-once part of a stream thread's client: its
// transaction session (kgo.GroupTransactSession).
type Transactions interface {
	// InitProducer initializes the transactional producer, which fences a
	// previous producer of the same transactional id and aborts what it
	// left open.
	InitProducer(ctx context.Context) error
	Begin() error
	// End commits (sending the consumed offsets with the transaction) or
	// aborts the open transaction. It aborts, whatever try says, when the
	// group took partitions away meanwhile.
	End(ctx context.Context, try kgo.TransactionEndTry) (committed bool, err error)
}

// ChangelogConsumer reads changelog partitions outside the group, for
// restoration.
type ChangelogConsumer interface {
	AddConsumePartitions(parts map[string]map[int32]kgo.Offset)
	RemoveConsumePartitions(parts map[string][]int32)
	PollRecords(ctx context.Context, maxPollRecords int) kgo.Fetches
	Close()
}

// Admin is what the runtime asks the cluster outside the group protocol.
type Admin interface {
	// EndOffsets returns the end offset of every partition of topics: the
	// last stable offset when committedOnly (read_committed), else the high
	// watermark. A partition whose end the cluster could not tell is
	// missing from the map, with its error in the second one.
	EndOffsets(ctx context.Context, committedOnly bool, topics ...string) (map[TopicPartition]int64, map[TopicPartition]error, error)
	// NumPartitions returns the partition count of topic.
	NumPartitions(ctx context.Context, topic string) (int, error)
	// CommittedOffsets returns the offsets group has committed on topics'
	// partitions; a partition with none is missing from the map.
	CommittedOffsets(ctx context.Context, group string, topics ...string) (map[TopicPartition]int64, error)
}

// kgoGroup adapts a *kgo.Client to GroupClient.
type kgoGroup struct{ *kgo.Client }

func (c kgoGroup) CommitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	c.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
					cerr = fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return cerr
}

// kgoTxn adapts a *kgo.GroupTransactSession to Transactions.
type kgoTxn struct{ *kgo.GroupTransactSession }

func (s kgoTxn) InitProducer(ctx context.Context) error {
	_, _, err := s.Client().ProducerID(ctx)
	return err
}

// kadmAdmin adapts a *kadm.Client to Admin.
type kadmAdmin struct{ *kadm.Client }

func (a kadmAdmin) EndOffsets(ctx context.Context, committedOnly bool, topics ...string) (map[TopicPartition]int64, map[TopicPartition]error, error) {
	list := a.ListEndOffsets
	if committedOnly {
		list = a.ListCommittedOffsets
	}
	ends, err := list(ctx, topics...)
	if err != nil {
		return nil, nil, err
	}
	out, errs := map[TopicPartition]int64{}, map[TopicPartition]error{}
	ends.Each(func(o kadm.ListedOffset) {
		tp := TopicPartition{Topic: o.Topic, Partition: o.Partition}
		if o.Err != nil {
			errs[tp] = o.Err
			return
		}
		out[tp] = o.Offset
	})
	return out, errs, nil
}

func (a kadmAdmin) CommittedOffsets(ctx context.Context, group string, topics ...string) (map[TopicPartition]int64, error) {
	resp, err := a.FetchOffsetsForTopics(ctx, group, topics...)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, err
	}
	out := map[TopicPartition]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
		}
	})
	return out, nil
}

func (a kadmAdmin) NumPartitions(ctx context.Context, topic string) (int, error) {
	d, err := a.ListTopics(ctx, topic)
	if err == nil {
		err = d[topic].Err
	}
	if err != nil {
		return 0, err
	}
	return len(d[topic].Partitions), nil
}
