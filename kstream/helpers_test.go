package kstream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

// strs is the Consumed of string keys and values.
var strs = kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}

// t0 is the time of the first piped record.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// drive builds what build adds and returns a driver of it, closed with the
// test.
func drive(t *testing.T, build func(sb *kstream.StreamsBuilder)) *testdriver.Driver {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	build(sb)
	topo, err := sb.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// input is a string topic fed from t0, one millisecond a record.
func input(d *testdriver.Driver, topic string) *testdriver.InputTopic[string, string] {
	return testdriver.CreateInputTopic(d, topic, serde.String(), serde.String(),
		testdriver.WithStartTime(t0), testdriver.WithAutoAdvance(time.Millisecond))
}

// kvs reads every key-value of out.
func kvs[K, V any](t *testing.T, out *testdriver.OutputTopic[K, V]) []testdriver.KeyValue[K, V] {
	t.Helper()
	if out.IsEmpty() {
		return nil
	}
	got, err := out.ReadKeyValues()
	require.NoError(t, err)
	return got
}

func kv[K, V any](k K, v V) testdriver.KeyValue[K, V] {
	return testdriver.KeyValue[K, V]{Key: k, Value: v}
}

// records are string records with the given keys and empty values, one
// millisecond apart from t0.
func records(keys ...string) []processor.Record[string, string] {
	var out []processor.Record[string, string]
	for i, k := range keys {
		out = append(out, processor.NewRecord(k, "", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}
