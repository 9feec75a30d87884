package topology_test

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

type order struct {
	ID        string    `json:"orderId"`
	EventTime time.Time `json:"eventTime"`
}

// eventTimes runs orders through a source whose extractor takes eventTime
// from the value, and returns the timestamps the records carry past it.
func eventTimes(t *testing.T, onInvalid topology.InvalidTimestamp, orders ...order) ([]string, error) {
	got, _, _, err := eventTimesLogged(t, onInvalid, orders...)
	return got, err
}

// eventTimesLogged is eventTimes that also returns what the driver logged
// and how many records it dropped.
func eventTimesLogged(t *testing.T, onInvalid topology.InvalidTimestamp, orders ...order) ([]string, string, int64, error) {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "orders", topology.Source[string, order]{
		Topics: []string{"orders"}, KeySerde: serde.String(), ValueSerde: serde.JSON[order](),
		TimestampExtractor: topology.ValueTimestamp[string, order](func(o order) (time.Time, error) { return o.EventTime, nil }, onInvalid),
	})
	stamp := topology.AddProcessor(b, "stamp", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, order]) error {
		return ctx.Forward(processor.Derive(rec, rec.Key, rec.Value.ID+"@"+rec.Timestamp.UTC().Format("15:04:05")))
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, stamp)
	topo, err := b.Build()
	require.NoError(t, err)
	var logs bytes.Buffer
	d, err := testdriver.New(topo, testdriver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer d.Close()
	in := testdriver.CreateInputTopic(d, "orders", serde.String(), serde.JSON[order]())
	out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
	var pipeErr error
	for _, o := range orders {
		if err := in.Pipe(o.ID, o, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			pipeErr = err
			break
		}
	}
	got, err := out.ReadValues()
	require.NoError(t, err)
	return got, logs.String(), d.DroppedRecords(), pipeErr
}

func TestValueTimestampExtractor(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 22, h, m, 0, 0, time.UTC) }
	orders := []order{{"o1", at(10, 0)}, {"o2", time.Time{}}, {"o3", at(9, 30)}}

	got, logs, dropped, err := eventTimesLogged(t, topology.SkipOnInvalidTimestamp, orders...)
	require.NoError(t, err)
	require.Equal(t, []string{"o1@10:00:00", "o3@09:30:00"}, got, "the event time, not the record's; the invalid one skipped")
	require.Contains(t, logs, "skipping a record")
	require.Contains(t, logs, "topic=orders partition=0 offset=1", "the log names the record")
	require.Contains(t, logs, "task=0_0")
	require.Equal(t, int64(1), dropped, "counted as dropped")

	got, err = eventTimes(t, topology.UsePartitionTimeOnInvalidTimestamp, orders...)
	require.NoError(t, err)
	require.Equal(t, []string{"o1@10:00:00", "o2@10:00:00", "o3@09:30:00"}, got, "the invalid one gets the partition's time")

	_, err = eventTimes(t, topology.UsePartitionTimeOnInvalidTimestamp, order{"first", time.Time{}})
	require.ErrorIs(t, err, processor.ErrInvalidTimestamp, "no partition time yet")

	got, err = eventTimes(t, topology.FailOnInvalidTimestamp, orders...)
	require.Equal(t, []string{"o1@10:00:00"}, got)
	var de *processor.DeserializationError
	require.True(t, errors.As(err, &de), "%v", err)
	require.ErrorIs(t, err, processor.ErrInvalidTimestamp)
	require.Equal(t, int64(1), de.Offset, "the error names the record")
}
