package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/processor"
)

// heldProducer keeps each produced record and its promise, for the test to
// look at and acknowledge.
type heldProducer struct {
	*fakeGroup
	recs     []*kgo.Record
	promises []func(*kgo.Record, error)
}

func (p *heldProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.recs = append(p.recs, r)
	p.promises = append(p.promises, promise)
}

// The collector reuses its records (issue 12): Send copies the key and
// value it is given, which the caller reuses at once, into a record of its
// own (header values are not copied: they are the processed record's); a record comes back for reuse only once the client
// acknowledged it, and a rejected one never does, since the production
// handler gets it. nil (a Kafka null) and empty stay apart.
func TestCollectorCopiesWhatItSends(t *testing.T) {
	t.Parallel()
	p := &heldProducer{fakeGroup: newFakeGroup()}
	c := &RecordCollector{client: p, metrics: &Metrics{}}
	scratch := []byte("key1value1")
	hdr := []processor.Header{{Key: "h", Value: []byte("hv")}}
	out := graph.Output{Topic: "out", Partition: 2, Key: scratch[:4], Value: scratch[4:], Headers: hdr, Timestamp: time.UnixMilli(5)}
	require.NoError(t, c.Send(&out))
	copy(scratch, "XXXXXXXXXX")
	hdr[0].Value[0] = 'X'
	r := p.recs[0]
	require.Equal(t, "key1", string(r.Key))
	require.Equal(t, "value1", string(r.Value))
	require.Equal(t, "out", r.Topic)
	require.Equal(t, int32(2), r.Partition)
	require.True(t, r.Timestamp.Equal(time.UnixMilli(5)))
	require.Equal(t, []kgo.RecordHeader{{Key: "h", Value: []byte("Xv")}}, r.Headers,
		"header values are the record's own, as before; only the slice is the collector's")

	// A tombstone with no key, and an empty key and value.
	require.NoError(t, c.Send(&graph.Output{Topic: "out", Partition: -1}))
	require.NoError(t, c.Send(&graph.Output{Topic: "out", Partition: -1, Key: []byte{}, Value: []byte{}}))
	require.Nil(t, p.recs[1].Key)
	require.Nil(t, p.recs[1].Value)
	require.NotNil(t, p.recs[2].Key)
	require.NotNil(t, p.recs[2].Value)
	require.Empty(t, p.recs[2].Key)
	require.Empty(t, p.recs[2].Value)

	// The first is rejected, the others acknowledged; more records follow.
	boom := errors.New("boom")
	p.promises[0](p.recs[0], boom)
	p.promises[1](p.recs[1], nil)
	p.promises[2](p.recs[2], nil)
	for i := range 10 {
		require.NoError(t, c.Send(&graph.Output{Topic: "other", Partition: int32(i), Key: []byte("k"), Value: []byte("v")}))
	}
	failed := c.TakeFailures()
	require.Len(t, failed, 1)
	require.ErrorIs(t, failed[0].err, boom)
	require.Equal(t, "key1", string(failed[0].rec.Key))
	require.Equal(t, "value1", string(failed[0].rec.Value))
	require.Equal(t, "out", failed[0].rec.Topic)
	for i, r := range p.recs[3:] {
		require.Equal(t, int32(i), r.Partition)
		require.Equal(t, "k", string(r.Key))
		require.Equal(t, "v", string(r.Value))
		require.Nil(t, r.Headers)
	}
}

// A changelog record's acknowledgement moves the acknowledged end of its
// partition; other records' do not.
func TestCollectorAcksChangelogRecords(t *testing.T) {
	t.Parallel()
	p := &heldProducer{fakeGroup: newFakeGroup()}
	c := &RecordCollector{client: p, metrics: &Metrics{}}
	tp := TopicPartition{Topic: "app-s-changelog", Partition: 1}
	require.Equal(t, int64(-1), c.AckedEnd(tp))
	for range 3 {
		require.NoError(t, c.Send(&graph.Output{Topic: tp.Topic, Partition: tp.Partition, Key: []byte("k"), Changelog: true}))
		require.NoError(t, c.Send(&graph.Output{Topic: "out", Partition: 0, Key: []byte("k")}))
	}
	for i, r := range p.recs {
		r.Offset = int64(i / 2)
		p.promises[i](r, nil)
	}
	require.Equal(t, int64(3), c.AckedEnd(tp))
	require.Equal(t, int64(-1), c.AckedEnd(TopicPartition{Topic: "out", Partition: 0}), "only changelog records count")
}
