package kstream_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// A record older than its window store's retention (window size plus
// grace) behind its stream's latest is not kept, and is counted, as Kafka
// Streams counts the store's "expired segment" puts; it still meets what
// the other stream keeps. Grace keeps a record in the store for longer.
func TestStreamJoinCountsRecordsTooLateForTheStore(t *testing.T) {
	t.Parallel()
	// B at 79 comes when the left stream is at 100, retention 20: it is
	// dropped from the store (counted) but joins the right records kept; a
	// right record coming later does not find it.
	r := newJoinRun(t, inner(window.JoinTimeDifferenceWithNoGrace(msd(10))))
	r.play(t,
		"R 0:a@70 =>",
		"L 0:A@100 =>",
		"L 0:B@79 => 0:B+a@79",
		"R 0:b@85 =>",
	)
	require.Equal(t, int64(1), r.d.DroppedRecords())

	// With 30ms of grace the store keeps B, and b finds it.
	r = newJoinRun(t, inner(window.JoinTimeDifferenceAndGrace(msd(10), msd(30))))
	r.play(t,
		"R 0:a@70 =>",
		"L 0:A@100 =>",
		"L 0:B@79 => 0:B+a@79",
		"R 0:b@85 => 0:B+b@85",
	)
	require.Zero(t, r.d.DroppedRecords())
}

// Records with a nil value, or a nil key, are dropped and counted: they
// can join nothing, and the stores' serdes never see them. In a left or
// outer join, a record of an outer side with a nil key gets its result at
// once (Kafka Streams' KIP-962).
func TestStreamJoinNilKeysAndValues(t *testing.T) {
	t.Parallel()
	type order struct{ ID string }
	keys := serde.Nullable(serde.String())
	values := serde.Nullable(serde.JSON[order]())
	id := func(o *order) string {
		if o == nil {
			return "null"
		}
		return o.ID
	}
	str := func(k *string) string {
		if k == nil {
			return "<nil>"
		}
		return *k
	}
	type result struct{ key, value string }
	for _, kind := range []string{"Join", "LeftJoin", "OuterJoin"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			sb := kstream.NewStreamsBuilder()
			c := kstream.Consumed[*string, *order]{KeySerde: keys, ValueSerde: values}
			l, r := kstream.Stream(sb, []string{"l"}, c), kstream.Stream(sb, []string{"r"}, c)
			w := window.JoinTimeDifferenceWithNoGrace(time.Second)
			var joined kstream.KStream[*string, string]
			switch kind {
			case "Join":
				joined = kstream.Join(l, r, func(_ *string, a, b *order) string { return id(a) + "+" + id(b) }, w)
			case "LeftJoin":
				joined = kstream.LeftJoin(l, r, func(_ *string, a, b *order, _ bool) string { return id(a) + "+" + id(b) }, w)
			default:
				joined = kstream.OuterJoin(l, r, func(_ *string, a *order, _ bool, b *order, _ bool) string { return id(a) + "+" + id(b) }, w)
			}
			joined.To("out")
			topo, err := sb.Build()
			require.NoError(t, err)
			d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
			require.NoError(t, err)
			defer d.Close()
			lin := testdriver.CreateInputTopic(d, "l", keys, values, testdriver.WithStartTime(t0))
			rin := testdriver.CreateInputTopic(d, "r", keys, values, testdriver.WithStartTime(t0))
			out := testdriver.CreateOutputTopic(d, "out", keys, serde.String())
			k := "k"
			require.NoError(t, lin.PipeKeyValue(&k, nil))              // nil value: dropped
			require.NoError(t, rin.PipeKeyValue(&k, nil))              // nil value: dropped
			require.NoError(t, lin.PipeKeyValue(nil, &order{ID: "L"})) // nil key
			require.NoError(t, rin.PipeKeyValue(nil, &order{ID: "R"})) // nil key
			require.NoError(t, rin.PipeKeyValue(&k, &order{ID: "r"}))  // meets nothing yet
			require.NoError(t, lin.PipeKeyValue(&k, &order{ID: "l"}))  // meets r only
			var got []result
			for !out.IsEmpty() {
				kv, err := out.ReadKeyValue()
				require.NoError(t, err)
				got = append(got, result{str(kv.Key), kv.Value})
			}
			want := map[string][]result{
				"Join":      {{"k", "l+r"}},
				"LeftJoin":  {{"<nil>", "L+null"}, {"k", "l+r"}},
				"OuterJoin": {{"<nil>", "L+null"}, {"<nil>", "null+R"}, {"k", "l+r"}},
			}[kind]
			require.Equal(t, want, got)
			dropped := map[string]int64{"Join": 4, "LeftJoin": 3, "OuterJoin": 2}[kind]
			require.Equal(t, dropped, d.DroppedRecords(), "the nil values, and the nil keys of inner sides")
		})
	}
}

// A value the stream's serde cannot read (a null for plain JSON) is a
// deserialization error at the source, before the join; a result the
// output's serde cannot write is the sink's error, naming the topic.
func TestStreamJoinNullsTheSerdesCannotTake(t *testing.T) {
	t.Parallel()
	type order struct{ ID string }
	sb := kstream.NewStreamsBuilder()
	c := kstream.Consumed[string, order]{KeySerde: serde.String(), ValueSerde: serde.JSON[order]()}
	kstream.LeftJoin(kstream.Stream(sb, []string{"l"}, c), kstream.Stream(sb, []string{"r"}, c),
		func(_ string, l, r order, hasR bool) *order {
			if !hasR {
				return nil // a null result
			}
			return &l
		}, window.JoinTimeDifferenceWithNoGrace(time.Second)).
		To("out", kstream.Produced[string, *order]{ValueSerde: serde.New("strict", func(o *order) ([]byte, error) {
			if o == nil {
				return nil, errors.New("no nulls here")
			}
			return []byte(o.ID), nil
		}, func([]byte) (*order, error) { return nil, nil })})
	topo, err := sb.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
	require.NoError(t, err)
	defer d.Close()
	lin := testdriver.CreateInputTopic(d, "l", serde.String(), serde.Nullable(serde.JSON[order]()), testdriver.WithStartTime(t0))

	err = lin.PipeKeyValue("k", nil)
	var de *processor.DeserializationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "l", de.Topic)
	require.True(t, errors.Is(err, serde.ErrMalformed))

	// k2 meets nothing: once its window closes, its null result reaches
	// the sink, whose serde refuses it.
	require.NoError(t, lin.PipeKeyValue("k2", &order{ID: "1"}))
	lin.AdvanceTime(time.Hour)
	err = lin.PipeKeyValue("k3", &order{ID: "2"})
	require.ErrorContains(t, err, "no nulls here")
	require.ErrorContains(t, err, `"out"`)
}

// A joiner that panics fails the task with a *FunctionPanicError naming the
// join processor that called it and the operation.
func TestStreamJoinJoinerPanics(t *testing.T) {
	t.Parallel()
	boom := func(v string) {
		if strings.Contains(v, "bad") {
			panic("boom")
		}
	}
	for _, tc := range []struct {
		name      string
		join      func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string]
		script    []string // the last step panics
		processor string
		function  string
	}{
		{"a left record meets a right one", func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
			return kstream.Join(l, r, func(k int32, a, b string) string { boom(a); return innerJoiner(k, a, b) }, window.JoinTimeDifferenceWithNoGrace(msd(10)))
		}, []string{"R 0:a@0 =>", "L 0:bad@0 =>"}, "KSTREAM-JOINTHIS-0000000004", "Join's joiner"},
		{"a right record meets a left one", func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
			return kstream.Join(l, r, func(k int32, a, b string) string { boom(a); return innerJoiner(k, a, b) }, window.JoinTimeDifferenceWithNoGrace(msd(10)))
		}, []string{"L 0:bad@0 =>", "R 0:a@0 =>"}, "KSTREAM-JOINOTHER-0000000005", "Join's joiner"},
		{"a closed window's left record, emitted by the right side", func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
			return kstream.LeftJoin(l, r, func(k int32, a, b string, has bool) string { boom(a); return leftJoiner(k, a, b, has) }, window.JoinTimeDifferenceWithNoGrace(msd(10)))
		}, []string{"L 0:bad@0 =>", "R 1:x@100 =>"}, "KSTREAM-OUTEROTHER-0000000005", "LeftJoin's joiner"},
		{"a right record with no partner", func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
			return kstream.OuterJoin(l, r, func(k int32, a string, ha bool, b string, hb bool) string {
				boom(b)
				return outerJoiner(k, a, ha, b, hb)
			}, window.JoinTimeDifferenceWithNoGrace(msd(10)))
		}, []string{"R 0:x@100 =>", "R 0:bad@10 =>"}, "KSTREAM-OUTEROTHER-0000000005", "OuterJoin's joiner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newJoinRun(t, tc.join)
			r.play(t, tc.script[:len(tc.script)-1]...)
			last := tc.script[len(tc.script)-1]
			fields := strings.Fields(last)
			p := expand(t, fields[1])[0]
			topic := map[string]*testdriver.InputTopic[int32, string]{"L": r.left, "R": r.right}[fields[0]]
			err := topic.Pipe(p.key, p.value, time.UnixMilli(p.at))
			var fe *kstream.FunctionPanicError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.processor, fe.Processor)
			require.Equal(t, tc.function, fe.Function)
			require.Equal(t, "boom", fe.Value)
		})
	}
}

// Build reports bad join windows, missing serdes and store functions that
// do not make what a join needs, each naming the join or the store.
func TestStreamJoinBuildErrors(t *testing.T) {
	t.Parallel()
	type point struct{ X int }
	for _, tc := range []struct {
		name  string
		build func(sb *kstream.StreamsBuilder)
		want  []string
	}{
		{"negative window", func(sb *kstream.StreamsBuilder) {
			s := kstream.Stream(sb, []string{"a"}, strs)
			kstream.Join(s, kstream.Stream(sb, []string{"b"}, strs), concat3, window.JoinTimeDifferenceWithNoGrace(-time.Second))
		}, []string{`Join "KSTREAM-MERGE-0000000006": window: JoinWindows.Before (-1s) + After (-1s) is negative`}},
		{"negative grace", func(sb *kstream.StreamsBuilder) {
			s := kstream.Stream(sb, []string{"a"}, strs)
			kstream.OuterJoin(s, kstream.Stream(sb, []string{"b"}, strs), func(string, string, bool, string, bool) string { return "" },
				window.JoinTimeDifferenceAndGrace(time.Second, -time.Millisecond), kstream.StreamJoined[string, string, string]{Name: "j"})
		}, []string{`OuterJoin "j-merge": window: JoinWindows.Grace is -1ms`}},
		{"missing value serde", func(sb *kstream.StreamsBuilder) {
			s := kstream.MapValues(kstream.Stream(sb, []string{"a"}, strs), func(string) point { return point{} })
			kstream.Join(s, kstream.Stream(sb, []string{"b"}, strs), func(string, point, string) string { return "" }, window.JoinTimeDifferenceWithNoGrace(time.Second))
		}, []string{"KSTREAM-JOINTHIS-0000000005-store needs a value serde", "give ValueSerde in its StreamJoined"}},
		{"store without duplicates", func(sb *kstream.StreamsBuilder) {
			s := kstream.Stream(sb, []string{"a"}, strs)
			kstream.Join(s, kstream.Stream(sb, []string{"b"}, strs), concat3, window.JoinTimeDifferenceWithNoGrace(time.Second),
				kstream.StreamJoined[string, string, string]{StoreName: "s", OtherStore: func(name string, retention, size time.Duration, _ bool) state.WindowBytesStoreSupplier {
					return state.InMemoryWindowStore(name, retention, size, false)
				}})
		}, []string{`Join: store "s-other-join-store" does not retain duplicates`}},
		{"store of other windows", func(sb *kstream.StreamsBuilder) {
			s := kstream.Stream(sb, []string{"a"}, strs)
			kstream.Join(s, kstream.Stream(sb, []string{"b"}, strs), concat3, window.JoinTimeDifferenceWithNoGrace(time.Second),
				kstream.StreamJoined[string, string, string]{StoreName: "s", ThisStore: func(name string, _, size time.Duration, dups bool) state.WindowBytesStoreSupplier {
					return state.InMemoryWindowStore(name, time.Hour, size, dups)
				}})
		}, []string{`Join: store "s-this-join-store" has retention 1h0m0s and window size 2s, but the join windows need 2s and 2s`}},
		{"two joins of one name", func(sb *kstream.StreamsBuilder) {
			// RepartitionTopicNamingTest.shouldFailWithSameRepartitionTopicNameInJoin
			s := kstream.SelectKey(kstream.Stream(sb, []string{"a"}, strs), func(k, _ string) string { return k })
			j := kstream.StreamJoined[string, string, string]{StoreName: "join-store", Name: "join-repartition"}
			kstream.Join(s, kstream.Stream(sb, []string{"b"}, strs), concat3, window.JoinTimeDifferenceWithNoGrace(time.Second), j)
			kstream.Join(s, kstream.Stream(sb, []string{"c"}, strs), concat3, window.JoinTimeDifferenceWithNoGrace(time.Second), j)
		}, []string{`repartition topic "join-repartition-left-repartition" is made twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := kstream.NewStreamsBuilder()
			tc.build(sb)
			_, err := sb.Build()
			var be *kstream.BuildError
			require.ErrorAs(t, err, &be)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func concat3(_ string, a, b string) string { return a + b }

// The nodes and stores of left and outer joins, named or not, are those
// Kafka Streams' StreamsBuilderTest lists (shouldUse…NameFor…Join…
// BetweenKStreamAndKStream); the other join stores' are named after their
// StreamJoined.StoreName.
func TestStreamJoinNames(t *testing.T) {
	t.Parallel()
	const op = "stream-operation"
	for _, tc := range []struct {
		name      string
		kind      string
		joined    kstream.StreamJoined[string, string, string]
		nodes     []string
		stores    []string
		joinStore map[string][]string // a join processor's stores, in Describe's order
	}{
		{"shouldUseSpecifiedNameForLeftJoinOperationBetweenKStreamAndKStream", "left",
			kstream.StreamJoined[string, string, string]{Name: op, StoreName: op},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", op + "-this-windowed", op + "-other-windowed", op + "-this-join", op + "-outer-other-join", op + "-merge"},
			[]string{op + "-this-join-store", op + "-outer-other-join-store", op + "-left-shared-join-store"},
			map[string][]string{
				op + "-this-join":        {op + "-outer-other-join-store", op + "-left-shared-join-store"},
				op + "-outer-other-join": {op + "-left-shared-join-store", op + "-this-join-store"}, // Java's HashSet order: not sorted
			}},
		{"shouldUseGeneratedStoreNamesForLeftJoinOperationBetweenKStreamAndKStream", "left",
			kstream.StreamJoined[string, string, string]{Name: op},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", op + "-this-windowed", op + "-other-windowed", op + "-this-join", op + "-outer-other-join", op + "-merge"},
			[]string{"KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store", "KSTREAM-OUTERSHARED-0000000004-store"},
			map[string][]string{op + "-outer-other-join": {"KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-OUTERSHARED-0000000004-store"}}},
		{"shouldUseSpecifiedNameForOuterJoinOperationBetweenKStreamAndKStream", "outer",
			kstream.StreamJoined[string, string, string]{Name: op, StoreName: op},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", op + "-this-windowed", op + "-other-windowed", op + "-outer-this-join", op + "-outer-other-join", op + "-merge"},
			[]string{op + "-outer-this-join-store", op + "-outer-other-join-store", op + "-outer-shared-join-store"},
			// Java's HashSet order: not sorted.
			map[string][]string{op + "-outer-this-join": {op + "-outer-shared-join-store", op + "-outer-other-join-store"}}},
		{"shouldUseGeneratedStoreNamesForOuterJoinOperationBetweenKStreamAndKStream", "outer",
			kstream.StreamJoined[string, string, string]{Name: op},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", op + "-this-windowed", op + "-other-windowed", op + "-outer-this-join", op + "-outer-other-join", op + "-merge"},
			[]string{"KSTREAM-OUTERTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store", "KSTREAM-OUTERSHARED-0000000004-store"}, nil},
		{"shouldUseGeneratedNameForJoinOperationBetweenKStreamAndKStream", "inner",
			kstream.StreamJoined[string, string, string]{Name: op},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", op + "-this-windowed", op + "-other-windowed", op + "-this-join", op + "-other-join", op + "-merge"},
			[]string{"KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store"}, nil},
		{"unnamed outer join", "outer", kstream.StreamJoined[string, string, string]{},
			[]string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", "KSTREAM-WINDOWED-0000000002", "KSTREAM-WINDOWED-0000000003", "KSTREAM-OUTERTHIS-0000000004", "KSTREAM-OUTEROTHER-0000000005", "KSTREAM-MERGE-0000000006"},
			[]string{"KSTREAM-OUTERTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store", "KSTREAM-OUTERSHARED-0000000004-store"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := kstream.NewStreamsBuilder()
			a, b := kstream.Stream(sb, []string{"a"}, strs), kstream.Stream(sb, []string{"b"}, strs)
			w := window.JoinTimeDifferenceWithNoGrace(time.Hour)
			switch tc.kind {
			case "inner":
				kstream.Join(a, b, concat3, w, tc.joined)
			case "left":
				kstream.LeftJoin(a, b, func(_ string, l, _ string, _ bool) string { return l }, w, tc.joined)
			default:
				kstream.OuterJoin(a, b, func(_ string, l string, _ bool, _ string, _ bool) string { return l }, w, tc.joined)
			}
			topo, err := sb.Build()
			require.NoError(t, err)
			var nodes, stores []string
			byName := map[string][]string{}
			for _, st := range topo.Describe().Subtopologies {
				for _, n := range st.Nodes {
					nodes = append(nodes, n.Name)
					byName[n.Name] = n.Stores
					for _, s := range n.Stores {
						if !contains(stores, s) {
							stores = append(stores, s)
						}
					}
				}
			}
			require.ElementsMatch(t, tc.nodes, nodes)
			require.ElementsMatch(t, tc.stores, stores)
			for n, want := range tc.joinStore {
				require.Equal(t, want, byName[n], n)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The join's stores log to changelogs, the window stores' deleting
// (cleanup.policy=delete, as Kafka Streams sets it), the shared store's
// entries tombstoned once emitted or joined; LoggingDisabled turns all
// three off; persistent suppliers reach the stores.
func TestStreamJoinStoreSettings(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, j kstream.StreamJoined[int32, string, string]) (*testdriver.Driver, *testdriver.InputTopic[int32, string], *testdriver.InputTopic[int32, string]) {
		sb := kstream.NewStreamsBuilder()
		kstream.LeftJoin(kstream.Stream(sb, []string{"l"}, ints), kstream.Stream(sb, []string{"r"}, ints), leftJoiner,
			window.JoinTimeDifferenceWithNoGrace(msd(10)), j).To("out")
		topo, err := sb.Build()
		require.NoError(t, err)
		d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
		require.NoError(t, err)
		t.Cleanup(func() { d.Close() })
		return d, testdriver.CreateInputTopic(d, "l", serde.Int32(), serde.String()), testdriver.CreateInputTopic(d, "r", serde.Int32(), serde.String())
	}
	changelog := func(d *testdriver.Driver, store string) *testdriver.OutputTopic[[]byte, []byte] {
		return testdriver.CreateOutputTopic(d, "test-app-"+store+"-changelog", serde.Bytes(), serde.Bytes())
	}
	values := func(t *testing.T, out *testdriver.OutputTopic[[]byte, []byte]) (puts, tombstones int) {
		for !out.IsEmpty() {
			kv, err := out.ReadKeyValue()
			require.NoError(t, err)
			if kv.Value == nil {
				tombstones++
			} else {
				puts++
			}
		}
		return puts, tombstones
	}

	t.Run("logged", func(t *testing.T) {
		d, l, r := run(t, kstream.StreamJoined[int32, string, string]{StoreName: "j"})
		this, other, shared := changelog(d, "j-this-join-store"), changelog(d, "j-outer-other-join-store"), changelog(d, "j-left-shared-join-store")
		require.NoError(t, l.Pipe(0, "A", time.UnixMilli(100)))
		require.NoError(t, l.Pipe(1, "B", time.UnixMilli(100)))
		require.NoError(t, r.Pipe(0, "a", time.UnixMilli(105))) // A joins: its entry goes
		require.NoError(t, r.Pipe(2, "x", time.UnixMilli(200))) // B's window closes: out it goes
		puts, tombs := values(t, this)
		require.Equal(t, [2]int{2, 0}, [2]int{puts, tombs})
		puts, tombs = values(t, other)
		require.Equal(t, [2]int{2, 0}, [2]int{puts, tombs})
		puts, tombs = values(t, shared)
		require.Equal(t, [2]int{2, 2}, [2]int{puts, tombs}, "A and B held, then both removed")
	})
	t.Run("unlogged", func(t *testing.T) {
		d, l, r := run(t, kstream.StreamJoined[int32, string, string]{StoreName: "j", LoggingDisabled: true})
		var logs []*testdriver.OutputTopic[[]byte, []byte]
		for _, s := range []string{"j-this-join-store", "j-outer-other-join-store", "j-left-shared-join-store"} {
			logs = append(logs, changelog(d, s))
		}
		require.NoError(t, l.Pipe(0, "A", time.UnixMilli(100)))
		require.NoError(t, r.Pipe(2, "x", time.UnixMilli(200)))
		for _, log := range logs {
			require.True(t, log.IsEmpty())
		}
	})
	t.Run("persistent", func(t *testing.T) {
		onDisk := func(name string, retention, size time.Duration, dups bool) state.WindowBytesStoreSupplier {
			return rocksdb.WindowStore(name, rocksdb.Options{}, retention, size, dups)
		}
		d, l, r := run(t, kstream.StreamJoined[int32, string, string]{StoreName: "j", ThisStore: onDisk, OtherStore: onDisk,
			OuterStore: func(name string) state.KeyValueBytesStoreSupplier {
				return rocksdb.KeyValueStore(name, rocksdb.Options{})
			}})
		out := testdriver.CreateOutputTopic(d, "out", serde.Int32(), serde.String())
		require.NoError(t, l.Pipe(0, "A", time.UnixMilli(100)))
		require.NoError(t, l.Pipe(1, "B", time.UnixMilli(100)))
		require.NoError(t, r.Pipe(0, "a", time.UnixMilli(105)))
		require.NoError(t, r.Pipe(2, "x", time.UnixMilli(200)))
		got, err := out.ReadValues()
		require.NoError(t, err)
		require.Equal(t, []string{"A+a", "B+null"}, got)
		for _, s := range []string{"j-this-join-store", "j-outer-other-join-store", "j-left-shared-join-store"} {
			st, err := testdriver.GetStore[state.Store](d, s)
			require.NoError(t, err)
			require.True(t, st.Persistent(), s)
		}
	})
}

// Sides whose key changed are repartitioned through topics named after the
// join (RepartitionTopicNamingTest.shouldKeepRepartitionTopicNameForJoins:
// "my-join-left-repartition", "my-join-right-repartition"); the joined
// stream's key is the sides' own, so joining it again repartitions nothing.
func TestStreamJoinRepartitionNames(t *testing.T) {
	t.Parallel()
	sb := kstream.NewStreamsBuilder()
	rekey := func(s kstream.KStream[string, string]) kstream.KStream[string, string] {
		return kstream.SelectKey(s, func(k, v string) string { return k + v })
	}
	one, two := rekey(kstream.Stream(sb, []string{"one"}, strs)), rekey(kstream.Stream(sb, []string{"two"}, strs))
	w := window.JoinTimeDifferenceWithNoGrace(time.Second)
	joined := kstream.Join(one, two, concat3, w, kstream.StreamJoined[string, string, string]{Name: "my-join"})
	kstream.Join(joined, kstream.Stream(sb, []string{"three"}, strs), concat3, w).To("out")
	topo, err := sb.Build()
	require.NoError(t, err)
	desc := topo.Describe().String()
	require.Contains(t, desc, "(topic: my-join-left-repartition)")
	require.Contains(t, desc, "(topic: my-join-right-repartition)")
	require.Equal(t, 2, strings.Count(desc, "-repartition)"), "no repartition for the second join")
}
