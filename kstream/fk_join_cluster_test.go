package kstream_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
)

// On the embedded cluster, a foreign-key join of a table of three
// partitions with one of two: the subscriptions cross to the right
// table's partitions and the answers come back to the left rows'. The
// subscription topic gets the right table's partition count and the
// response topic the left's, and after random updates and deletes on both
// sides the output holds the join of the final rows.
func TestForeignKeyJoinOnKafka(t *testing.T) {
	t.Parallel()
	ctx, c := startCluster(t, 3, "fk-left", "fk-out")
	require.NoError(t, c.CreateTopic(ctx, "fk-right", 2))
	ns := serde.Nullable(serde.String())

	rng := rand.New(rand.NewPCG(11, 12))
	lrows, rrows := map[string]string{}, map[string]string{}
	var recs []*kgo.Record
	for i := range 400 {
		r := &kgo.Record{Topic: "fk-left", Key: []byte(fmt.Sprint("l", rng.IntN(30)))}
		rows := lrows
		v := fmt.Sprintf("v%d|r%d", i, rng.IntN(10))
		if rng.IntN(2) == 0 {
			r.Topic, r.Key, rows, v = "fk-right", []byte(fmt.Sprint("r", rng.IntN(10))), rrows, fmt.Sprint("w", i)
		}
		if rng.IntN(5) == 0 {
			delete(rows, string(r.Key))
		} else {
			rows[string(r.Key)], r.Value = v, []byte(v)
		}
		recs = append(recs, r)
	}
	require.NoError(t, c.Produce(ctx, recs...))
	want := map[string]string{}
	for k, v := range lrows {
		if o, ok := rrows[fkOf(v)]; ok {
			want[k] = paren(v, o)
		}
	}

	sb := kstream.NewStreamsBuilder()
	kstream.ForeignKeyJoin(kstream.Table(sb, "fk-left", strs), kstream.Table(sb, "fk-right", strs), fkOf,
		func(_, v, o string) *string { return new(paren(v, o)) },
		kstream.Materialized[string, *string]{Name: "joined", ValueSerde: ns}).
		ToStream().To("fk-out", kstream.Produced[string, *string]{ValueSerde: ns})
	topo, err := sb.Build()
	require.NoError(t, err)
	const appID = "fk-join"
	app, err := streams.New(topo, appConfig(t, c, appID, eos.ExactlyOnce))
	require.NoError(t, err)
	subscriptions := appID + "-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"
	responses := appID + "-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"
	require.NoError(t, c.RunUntilCaughtUp(ctx, app, appID, "fk-left", "fk-right", subscriptions, responses))

	topics, err := c.Admin().ListTopics(ctx, subscriptions, responses)
	require.NoError(t, err)
	require.Len(t, topics[subscriptions].Partitions, 2, "partitioned as the right table")
	require.Len(t, topics[responses].Partitions, 3, "partitioned as the left table")
	// The answers came back across partitions: some subscription's
	// partition is not its answer's.
	subs, err := c.ReadAll(ctx, subscriptions)
	require.NoError(t, err)
	crossed := false
	for _, r := range subs {
		if r.Partition != int32(r.Value[6]) { // the subscription's left partition, its last byte
			crossed = true
		}
	}
	require.True(t, crossed)

	out, err := c.ReadAll(ctx, "fk-out")
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range out {
		if r.Value == nil {
			delete(got, string(r.Key))
		} else {
			got[string(r.Key)] = string(r.Value)
		}
	}
	require.Equal(t, want, got)
}
