package kstream_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// nstrs reads nullable string values: a nil value is a tombstone.
var nstrs = kstream.Consumed[string, *string]{KeySerde: serde.String(), ValueSerde: serde.Nullable(serde.String())}

// A global table alone prints as Kafka Streams prints builder.globalTable:
// store 0, source 1, table source 2, in a global store's sub-topology.
// Derived from Kafka Streams' code (InternalTopologyBuilder.GlobalStore's
// toString and the naming of InternalStreamsBuilder.globalTable, whose
// store name StreamsBuilderTest.shouldUseSpecifiedNameForGlobalTableSource-
// Processor asserts): no Kafka test asserts a global store's description.
func TestDescribeGlobalTable(t *testing.T) {
	t.Parallel()
	sb := kstream.NewStreamsBuilder()
	g := kstream.GlobalTable(sb, "g", strs)
	require.Equal(t, "g-STATE-STORE-0000000000", g.StoreName())
	topo, err := sb.Build()
	require.NoError(t, err)
	require.Equal(t, "Topologies:\n"+
		"   Sub-topology: 0 for global store (will not generate tasks)\n"+
		"    Source: KSTREAM-SOURCE-0000000001 (topics: [g])\n"+
		"      --> KTABLE-SOURCE-0000000002\n"+
		"    Processor: KTABLE-SOURCE-0000000002 (stores: [g-STATE-STORE-0000000000])\n"+
		"      --> none\n"+
		"      <-- KSTREAM-SOURCE-0000000001\n", topo.Describe().String())

	// Consumed.Name names the source "<name>-source" and the processor.
	sb = kstream.NewStreamsBuilder()
	kstream.GlobalTable(sb, "g", kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String(), Name: "users"})
	topo, err = sb.Build()
	require.NoError(t, err)
	require.Contains(t, topo.Describe().String(), "Source: users-source (topics: [g])\n      --> users\n    Processor: users (stores: [g-STATE-STORE-0000000000])")
}

// The description of a stream joined twice with a global table, pinned by
// a golden file (our own output; regenerate with go test ./kstream -run
// TestDescribeGlobalJoinGolden -update). Both joins are KSTREAM-LEFTJOIN-…,
// as Kafka Streams' KStreamImpl.globalTableJoin names inner joins too, and
// neither lists the global store, which needs no connection.
func TestDescribeGlobalJoinGolden(t *testing.T) {
	t.Parallel()
	sb := kstream.NewStreamsBuilder()
	orders := kstream.Stream(sb, []string{"orders"}, strs)
	customers := kstream.GlobalTable(sb, "customers", strs, kstream.Materialized[string, string]{Name: "customers"})
	byValue := func(_, v string) string { return v }
	join := func(_, o, c string) string { return o + "/" + c }
	leftJoin := func(_, o, c string, _ bool) string { return o + "/" + c }
	kstream.JoinGlobal(orders, customers, byValue, join).To("inner")
	kstream.LeftJoinGlobal(orders, customers, byValue, leftJoin, "left").To("left")
	topo, err := sb.Build()
	require.NoError(t, err)
	got := topo.Describe().String()
	require.Contains(t, got, "Processor: KSTREAM-LEFTJOIN-0000000003 (stores: [])")
	require.Contains(t, got, "Sub-topology: 1 for global store (will not generate tasks)")
	path := filepath.Join("testdata", "global-join.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./kstream -run TestDescribeGlobalJoinGolden -update to create %s", path)
	require.Equal(t, string(want), got)
}

// globalJoins is orders joined (inner and left) with the global table of
// customers, keyed by the order's value (its customer's id).
func globalJoins(t *testing.T) (d *testdriver.Driver, orders *testdriver.InputTopic[string, string], customers *testdriver.InputTopic[string, *string], inner, left *testdriver.OutputTopic[string, string]) {
	t.Helper()
	d = drive(t, func(sb *kstream.StreamsBuilder) {
		o := kstream.Stream(sb, []string{"orders"}, strs)
		c := kstream.GlobalTable(sb, "customers", nstrs, kstream.Materialized[string, *string]{Name: "customers"})
		mapper := func(_, customer string) string { return customer }
		kstream.JoinGlobal(o, c, mapper, func(_, o string, c *string) string { return o + "/" + *c }).To("inner")
		kstream.LeftJoinGlobal(o, c, mapper, func(_, o string, c *string, found bool) string {
			if !found {
				return o + "/-"
			}
			return o + "/" + *c
		}).To("left")
	})
	customers = testdriver.CreateInputTopic(d, "customers", serde.String(), serde.Nullable(serde.String()))
	return d, input(d, "orders"), customers,
		testdriver.CreateOutputTopic(d, "inner", serde.String(), serde.String()),
		testdriver.CreateOutputTopic(d, "left", serde.String(), serde.String())
}

// Stream–global-table joins in the test driver: a row piped to the global
// topic is joined from the next order on; an order whose mapped key has no
// row is dropped by the inner join and joined with nil by the left one; a
// tombstone deletes the row; the result keeps the order's key and
// timestamp.
func TestJoinGlobal(t *testing.T) {
	t.Parallel()
	d, orders, customers, inner, left := globalJoins(t)
	require.NoError(t, orders.PipeKeyValue("o1", "alice")) // no row yet
	require.NoError(t, customers.PipeKeyValue("alice", new("Alice A.")))
	require.NoError(t, orders.PipeKeyValue("o2", "alice"))
	require.NoError(t, orders.PipeKeyValue("o3", "bob")) // the mapper returns a key with no row
	require.NoError(t, customers.PipeKeyValue("alice", nil))
	require.NoError(t, orders.PipeKeyValue("o4", "alice"))

	require.Equal(t, []testdriver.KeyValue[string, string]{kv("o2", "alice/Alice A.")}, kvs(t, inner))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("o1", "alice/-"), kv("o2", "alice/Alice A."), kv("o3", "bob/-"), kv("o4", "alice/-")}, kvs(t, left))

	// The table is the store, with the row's timestamp.
	rows, err := testdriver.TimestampedKeyValueStore[string, *string](d, "customers")
	require.NoError(t, err)
	_, ok, err := rows.Get("alice")
	require.NoError(t, err)
	require.False(t, ok, "the tombstone deleted the row")
}

// The result has the stream record's timestamp, not the row's.
func TestJoinGlobalKeepsTheRecordsTimestamp(t *testing.T) {
	t.Parallel()
	_, orders, customers, inner, _ := globalJoins(t)
	require.NoError(t, customers.PipeKeyValue("alice", new("A")))
	require.NoError(t, orders.PipeKeyValue("o1", "alice"))
	rec, err := inner.ReadRecord()
	require.NoError(t, err)
	require.Equal(t, t0, rec.Timestamp)
	require.Equal(t, "o1", rec.Key)
}

// A nil mapped key or value drops the record from both joins, counted as
// dropped, except that a left join keeps a record with a nil key and a
// value (Kafka Streams' relaxed null-key join, KIP-962), joined with the
// zero row.
func TestJoinGlobalNilKeys(t *testing.T) {
	t.Parallel()
	nkeys := serde.Nullable(serde.String())
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		o := kstream.Stream(sb, []string{"orders"}, kstream.Consumed[*string, string]{KeySerde: nkeys, ValueSerde: serde.String()})
		c := kstream.GlobalTable(sb, "customers", kstream.Consumed[*string, string]{KeySerde: nkeys, ValueSerde: serde.String()})
		mapper := func(_ *string, v string) *string {
			if v == "" {
				return nil
			}
			return &v
		}
		joiner := func(_ *string, o, c string) string { return o + "/" + c }
		leftJoiner := func(_ *string, o, c string, _ bool) string { return o + "/" + c }
		produced := kstream.Produced[*string, string]{KeySerde: nkeys, ValueSerde: serde.String()}
		kstream.JoinGlobal(o, c, mapper, joiner).To("inner", produced)
		kstream.LeftJoinGlobal(o, c, mapper, leftJoiner).To("left", produced)
	})
	orders := testdriver.CreateInputTopic(d, "orders", nkeys, serde.String())
	customers := testdriver.CreateInputTopic(d, "customers", nkeys, serde.String())
	inner := testdriver.CreateOutputTopic(d, "inner", nkeys, serde.String())
	left := testdriver.CreateOutputTopic(d, "left", nkeys, serde.String())
	require.NoError(t, customers.PipeKeyValue(new("alice"), "A"))
	require.NoError(t, orders.PipeKeyValue(new("o1"), ""))    // nil mapped key: dropped twice
	require.NoError(t, orders.PipeKeyValue(nil, ""))          // nil key, nil mapped key: the left join keeps it
	require.NoError(t, orders.PipeKeyValue(nil, "alice"))     // nil key: both join
	require.NoError(t, orders.PipeKeyValue(new("o2"), "bob")) // no row: left only
	require.Equal(t, int64(3), d.DroppedRecords())

	var gotInner, gotLeft []string
	for _, r := range kvs(t, inner) {
		gotInner = append(gotInner, show(r.Key)+"="+r.Value)
	}
	for _, r := range kvs(t, left) {
		gotLeft = append(gotLeft, show(r.Key)+"="+r.Value)
	}
	require.Equal(t, []string{"nil=alice/A"}, gotInner)
	require.Equal(t, []string{"nil=/", "nil=alice/A", "o2=bob/"}, gotLeft)
}

func show(p *string) string {
	if p == nil {
		return "nil"
	}
	return *p
}

// Errors in the user's functions are *FunctionPanicError, naming the
// function.
func TestJoinGlobalPanics(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"key mapper", "joiner"} {
		t.Run(which, func(t *testing.T) {
			t.Parallel()
			d := drive(t, func(sb *kstream.StreamsBuilder) {
				o := kstream.Stream(sb, []string{"orders"}, strs)
				c := kstream.GlobalTable(sb, "customers", strs)
				kstream.JoinGlobal(o, c, func(_, v string) string {
					if which == "key mapper" {
						panic("boom")
					}
					return v
				}, func(_, o, c string) string { panic("boom") }).To("out")
			})
			require.NoError(t, input(d, "customers").PipeKeyValue("alice", "A"))
			err := input(d, "orders").PipeKeyValue("o1", "alice")
			var fp *kstream.FunctionPanicError
			require.True(t, errors.As(err, &fp), "%v", err)
			require.Equal(t, "JoinGlobal's "+which, fp.Function)
			require.True(t, strings.HasPrefix(fp.Processor, "KSTREAM-LEFTJOIN-"))
		})
	}
}

// A global table needs its serdes, and takes no offset reset or changelog
// settings.
func TestGlobalTableProblems(t *testing.T) {
	t.Parallel()
	sb := kstream.NewStreamsBuilder()
	kstream.GlobalTable(sb, "a", kstream.Consumed[string, string]{})
	kstream.GlobalTable(sb, "b", kstream.Consumed[string, string]{KeySerde: serde.String(), ValueSerde: serde.String(), OffsetReset: "latest"})
	kstream.GlobalTable(sb, "c", strs, kstream.Materialized[string, string]{LogConfig: map[string]string{"x": "y"}})
	s := kstream.Stream(sb, []string{"c"}, strs) // c feeds the global table
	s.To("out")
	_, err := sb.Build()
	require.Error(t, err)
	for _, want := range []string{
		`GlobalTable("a") needs a key serde and a value serde`,
		`GlobalTable("b"): Consumed.OffsetReset does not apply`,
		`GlobalTable("c"): store "c-STATE-STORE-0000000006" has no changelog`,
		`topic "c" feeds global store "c-STATE-STORE-0000000006" and is also read by source "KSTREAM-SOURCE-0000000009"`,
	} {
		require.ErrorContains(t, err, want)
	}
}

// A record the topology itself writes to a global table's topic is in the
// table before the next record of any task, in the test driver as in an
// app once the global thread read it back.
func TestJoinGlobalWithRowsTheTopologyWrites(t *testing.T) {
	t.Parallel()
	d := drive(t, func(sb *kstream.StreamsBuilder) {
		kstream.Stream(sb, []string{"signups"}, strs).To("customers")
		c := kstream.GlobalTable(sb, "customers", strs)
		o := kstream.Stream(sb, []string{"orders"}, strs)
		kstream.JoinGlobal(o, c, func(_, v string) string { return v }, func(_, o, c string) string { return o + "/" + c }).To("out")
	})
	require.NoError(t, input(d, "signups").PipeKeyValue("c1", "Alice"))
	require.NoError(t, input(d, "orders").PipeKeyValue("o1", "c1"))
	require.Equal(t, []testdriver.KeyValue[string, string]{kv("o1", "c1/Alice")},
		kvs(t, testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())))
}
