package processor_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

func TestTaskIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, id := range []processor.TaskID{{0, 0}, {3, 17}, {12, 2147483647}} {
		got, err := processor.ParseTaskID(id.String())
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
	require.Equal(t, "1_5", processor.TaskID{Subtopology: 1, Partition: 5}.String())
	for _, bad := range []string{"", "1", "1_", "_1", "a_1", "1_b", "-1_0", "0_-1", "0_99999999999"} {
		_, err := processor.ParseTaskID(bad)
		require.ErrorContains(t, err, "want <subtopology>_<partition>", bad)
	}
}

func TestRecordCopies(t *testing.T) {
	t.Parallel()
	h := []processor.Header{{Key: "a", Value: []byte("1")}}
	r := processor.Record[string, int]{Key: "k", Value: 1, Timestamp: time.Unix(5, 0), Headers: h}
	r2 := r.WithKey("k2").WithValue(2).WithTimestamp(time.Unix(6, 0)).WithHeaders(nil)
	require.Equal(t, processor.Record[string, int]{Key: "k", Value: 1, Timestamp: time.Unix(5, 0), Headers: h}, r, "With… returns copies")
	require.Equal(t, processor.Record[string, int]{Key: "k2", Value: 2, Timestamp: time.Unix(6, 0)}, r2)
	d := processor.Derive(r, 7, "seven")
	require.Equal(t, processor.Record[int, string]{Key: 7, Value: "seven", Timestamp: time.Unix(5, 0), Headers: h}, d)
}

type getter struct {
	st  state.Store
	err error
}

func (g getter) StateStore(string) (state.Store, error) { return g.st, g.err }

func TestGetStore(t *testing.T) {
	t.Parallel()
	st := state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("s"), serde.String(), serde.Int64()).Build()

	kv, err := processor.GetStore[state.KeyValueStore[string, int64]](getter{st: st}, "s")
	require.NoError(t, err)
	require.NotNil(t, kv)

	_, err = processor.GetStore[state.KeyValueStore[string, string]](getter{st: st}, "s")
	require.ErrorContains(t, err, `store "s" is a`)
	require.ErrorContains(t, err, `which is not a state.KeyValueStore[string,string]; check the store's builder and its serdes`)

	boom := errors.New("boom")
	_, err = processor.GetStore[state.KeyValueStore[string, int64]](getter{err: boom}, "s")
	require.ErrorIs(t, err, boom)
}

func TestPunctuationTypeString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "StreamTime", processor.StreamTime.String())
	require.Equal(t, "WallClockTime", processor.WallClockTime.String())
	require.Equal(t, "PunctuationType(7)", processor.PunctuationType(7).String())
}
