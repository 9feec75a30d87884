package kstream

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// An answer that comes back after its left row changed is stale and
// dropped: the row's value hash it carries is not the current value's.
// The test driver answers every subscription before the next record, so
// the stale answer is piped onto the response topic by hand, as a late
// one would arrive on a cluster.
func TestForeignKeyJoinDropsStaleAnswers(t *testing.T) {
	strs := Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}
	sb := NewStreamsBuilder()
	l, r := Table(sb, "left", strs), Table(sb, "right", strs)
	ForeignKeyJoin(l, r, func(v string) string { return v[len(v)-2:] }, func(_, v, o string) string { return v + "+" + o }).
		ToStream().To("output")
	topo, err := sb.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "app"})
	require.NoError(t, err)
	defer d.Close()
	left := testdriver.CreateInputTopic(d, "left", serde.String(), serde.String())
	right := testdriver.CreateInputTopic(d, "right", serde.String(), serde.String())
	// Names: left 0-2, right 3-5, the response topic 14 (as in Kafka
	// Streams' describe of this program).
	responses := testdriver.CreateInputTopic(d, "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic", serde.String(), serde.Serde[response[string]](responseSerde[string]{serde.String()}))
	out := testdriver.CreateOutputTopic(d, "output", serde.String(), serde.String())

	require.NoError(t, right.PipeKeyValue("r1", "x"))
	require.NoError(t, left.PipeKeyValue("k", "old r1"))
	require.NoError(t, left.PipeKeyValue("k", "new r1"))
	got, err := out.ReadValues()
	require.NoError(t, err)
	require.Equal(t, []string{"old r1+x", "new r1+x"}, got)

	stale := response[string]{Hash: hashOf([]byte("old r1")), HasHash: true, Value: "late", HasValue: true}
	require.NoError(t, responses.PipeKeyValue("k", stale))
	require.True(t, out.IsEmpty(), "the answer to the old value is dropped")
	deleted := response[string]{Value: "late", HasValue: true} // the answer to a deletion, for a row that is there
	require.NoError(t, responses.PipeKeyValue("k", deleted))
	require.True(t, out.IsEmpty())
	current := response[string]{Hash: hashOf([]byte("new r1")), HasHash: true, Value: "y", HasValue: true}
	require.NoError(t, responses.PipeKeyValue("k", current))
	got, err = out.ReadValues()
	require.NoError(t, err)
	require.Equal(t, []string{"new r1+y"}, got, "an answer to the current value is joined")
}

func TestForeignKeyJoinEncodings(t *testing.T) {
	ss := subscriptionSerde[string]{serde.String()}
	for _, s := range []subscription[string]{
		{}, {Instruction: subscribeAndAnswerIfFound, Hash: hashOf([]byte("v")), HasHash: true, HasForeignKey: true, Partition: 7, PrimaryKey: "pk"},
		{Instruction: unsubscribeAndAnswer, Partition: -1, PrimaryKey: ""},
	} {
		b, err := ss.Serialize(s)
		require.NoError(t, err)
		got, err := ss.Deserialize(b)
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	rs := responseSerde[string]{serde.String()}
	for _, r := range []response[string]{
		{}, {Hash: hashOf([]byte("v")), HasHash: true, Value: "x", HasValue: true}, {HasValue: true}, {HasHash: true},
	} {
		b, err := rs.Serialize(r)
		require.NoError(t, err)
		got, err := rs.Deserialize(b)
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	for _, bad := range [][]byte{nil, {0}, {1, 0, 0, 0, 0, 0, 0}, {0, 4, 0, 0, 0, 0, 0}, {0, 0, 4, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0, 1, 2}} {
		_, err := ss.Deserialize(bad)
		require.True(t, errors.Is(err, serde.ErrMalformed), "%v: %v", bad, err)
	}
	for _, bad := range [][]byte{nil, {0}, {1, 0}, {0, 4}, {0, 1, 1}, {0, 0, 'x'}} {
		_, err := rs.Deserialize(bad)
		require.True(t, errors.Is(err, serde.ErrMalformed), "%v: %v", bad, err)
	}
	// The store key: a foreign key's prefix finds only its own rows, even
	// when another foreign key starts with the same bytes.
	require.Equal(t, []byte{0, 0, 0, 2, 'r', '1', 'p', 'k'}, subscriptionKey([]byte("r1"), []byte("pk")))
	require.NotEqual(t, fkPrefix([]byte("r1"), 0), subscriptionKey([]byte("r10"), nil)[:6])
}

func FuzzSubscriptionSerde(f *testing.F) {
	ss := subscriptionSerde[string]{serde.String()}
	f.Add([]byte{0, 3, 3, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 'k'})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ss.Deserialize(b)
		if err != nil {
			return
		}
		again, err := ss.Serialize(s)
		require.NoError(t, err)
		s2, err := ss.Deserialize(again)
		require.NoError(t, err)
		require.Equal(t, s, s2)
	})
}

func FuzzResponseSerde(f *testing.F) {
	rs := responseSerde[string]{serde.String()}
	f.Add([]byte{0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 'v'})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := rs.Deserialize(b)
		if err != nil {
			return
		}
		again, err := rs.Serialize(r)
		require.NoError(t, err)
		r2, err := rs.Deserialize(again)
		require.NoError(t, err)
		require.Equal(t, r, r2)
	})
}
