package kstream_test

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// ints is the Consumed of Kafka Streams' join tests: int keys, string
// values.
var ints = kstream.Consumed[int32, string]{KeySerde: serde.Int32(), ValueSerde: serde.String()}

// quiet is a logger that drops everything: late records are logged.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The joiners of Kafka Streams' MockValueJoiner.TOSTRING_JOINER: a missing
// side prints as null.
func innerJoiner(_ int32, l, r string) string { return l + "+" + r }

func leftJoiner(_ int32, l, r string, hasR bool) string {
	if !hasR {
		r = "null"
	}
	return l + "+" + r
}

func outerJoiner(_ int32, l string, hasL bool, r string, hasR bool) string {
	if !hasL {
		l = "null"
	}
	return leftJoiner(0, l, r, hasR)
}

// joinRun drives a join of topics "topic1" and "topic2" into "out".
type joinRun struct {
	d           *testdriver.Driver
	left, right *testdriver.InputTopic[int32, string]
	out         *testdriver.OutputTopic[int32, string]
}

func newJoinRun(t *testing.T, join func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string]) *joinRun {
	t.Helper()
	sb := kstream.NewStreamsBuilder()
	join(kstream.Stream(sb, []string{"topic1"}, ints), kstream.Stream(sb, []string{"topic2"}, ints)).To("out")
	topo, err := sb.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return &joinRun{
		d:     d,
		left:  testdriver.CreateInputTopic(d, "topic1", serde.Int32(), serde.String()),
		right: testdriver.CreateInputTopic(d, "topic2", serde.Int32(), serde.String()),
		out:   testdriver.CreateOutputTopic(d, "out", serde.Int32(), serde.String()),
	}
}

// results reads what the join emitted since the last read, each as
// "key:value@ms".
func (r *joinRun) results(t *testing.T) []string {
	t.Helper()
	out := []string{}
	for !r.out.IsEmpty() {
		rec, err := r.out.ReadRecord()
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%d:%s@%d", rec.Key, rec.Value, rec.Timestamp.UnixMilli()))
	}
	return out
}

// play runs a script in the shape of Kafka Streams' join tests, a step a
// line: "L" or "R" (the stream), the records piped, "=>", and what the
// join must emit then. A record is "key:value@ms"; "X*@ms" stands for keys
// 0 to 3 with values X0 to X3 at ms, and "X*@ms+" for the same at ms, ms+1,
// ms+2 and ms+3; "X*2@ms" (and "X*2@ms+") stops before key 2.
func (r *joinRun) play(t *testing.T, script ...string) {
	t.Helper()
	for i, line := range script {
		in, want, ok := strings.Cut(line, "=>")
		require.True(t, ok, "step %d %q has no =>", i, line)
		fields := strings.Fields(in)
		topic := map[string]*testdriver.InputTopic[int32, string]{"L": r.left, "R": r.right}[fields[0]]
		require.NotNil(t, topic, "step %d %q: L or R first", i, line)
		for _, rec := range fields[1:] {
			for _, p := range expand(t, rec) {
				require.NoError(t, topic.Pipe(p.key, p.value, time.UnixMilli(p.at)), "step %d %q", i, line)
			}
		}
		require.Equal(t, append([]string{}, strings.Fields(want)...), r.results(t), "step %d: %s", i, line)
	}
}

type piped struct {
	key   int32
	value string
	at    int64
}

func expand(t *testing.T, rec string) []piped {
	t.Helper()
	kv, at, ok := strings.Cut(rec, "@")
	require.True(t, ok, "record %q has no @", rec)
	step := int64(0)
	if strings.HasSuffix(at, "+") {
		at, step = strings.TrimSuffix(at, "+"), 1
	}
	ms, err := strconv.ParseInt(at, 10, 64)
	require.NoError(t, err, rec)
	if prefix, n, ok := strings.Cut(kv, "*"); ok {
		keys := 4
		if n != "" {
			keys, err = strconv.Atoi(n)
			require.NoError(t, err, rec)
		}
		var out []piped
		for i := range keys {
			out = append(out, piped{int32(i), prefix + strconv.Itoa(i), ms + int64(i)*step})
		}
		return out
	}
	k, v, ok := strings.Cut(kv, ":")
	require.True(t, ok, "record %q has no key", rec)
	key, err := strconv.Atoi(k)
	require.NoError(t, err, rec)
	return []piped{{int32(key), v, ms}}
}

func inner(w window.JoinWindows) func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
	return func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
		return kstream.Join(l, r, innerJoiner, w)
	}
}

func left(w window.JoinWindows) func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
	return func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
		return kstream.LeftJoin(l, r, leftJoiner, w)
	}
}

func outer(w window.JoinWindows) func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
	return func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string] {
		return kstream.OuterJoin(l, r, outerJoiner, w)
	}
}

func msd(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// The input and output tables of Kafka Streams' own join tests
// (streams/src/test/java/org/apache/kafka/streams/kstream/internals/
// KStreamKStreamJoinTest, KStreamKStreamLeftJoinTest and
// KStreamKStreamOuterJoinTest, trunk of 2024-10), each case named after
// its test. Their right values are numbers in some tests; here they are
// the same numbers as strings.
func TestStreamJoinAsKafkaStreamsTests(t *testing.T) {
	t.Parallel()
	noGrace := window.JoinTimeDifferenceWithNoGrace
	for _, tc := range []struct {
		name   string
		join   func(l, r kstream.KStream[int32, string]) kstream.KStream[int32, string]
		script []string
	}{
		{"JoinTest.testJoin", inner(noGrace(msd(100))), []string{
			"L A*2@0 =>",
			"R a*2@0 => 0:A0+a0@0 1:A1+a1@0",
			"L B*@0 => 0:B0+a0@0 1:B1+a1@0",
			"R b*@0 => 0:A0+b0@0 0:B0+b0@0 1:A1+b1@0 1:B1+b1@0 2:B2+b2@0 3:B3+b3@0",
			"L C*@0 => 0:C0+a0@0 0:C0+b0@0 1:C1+a1@0 1:C1+b1@0 2:C2+b2@0 3:C3+b3@0",
			"R c*2@0 => 0:A0+c0@0 0:B0+c0@0 0:C0+c0@0 1:A1+c1@0 1:B1+c1@0 1:C1+c1@0",
		}},
		{"JoinTest.testOuterJoin", outer(window.JoinTimeDifferenceAndGrace(msd(100), 24*time.Hour)), []string{
			"L A*2@0 =>",
			"R a*2@0 => 0:A0+a0@0 1:A1+a1@0",
			"L B*@0 => 0:B0+a0@0 1:B1+a1@0",
			"R b*@0 => 0:A0+b0@0 0:B0+b0@0 1:A1+b1@0 1:B1+b1@0 2:B2+b2@0 3:B3+b3@0",
			"L C*@0 => 0:C0+a0@0 0:C0+b0@0 1:C1+a1@0 1:C1+b1@0 2:C2+b2@0 3:C3+b3@0",
			"R c*2@0 => 0:A0+c0@0 0:B0+c0@0 0:C0+c0@0 1:A1+c1@0 1:B1+c1@0 1:C1+c1@0",
		}},
		{"JoinTest.testAsymmetricWindowingAfter", inner(noGrace(0).WithAfter(msd(100))), []string{
			"L A*@1000+ =>",
			"R a*@999 =>",
			"R b*@1000 => 0:A0+b0@1000",
			"R c*@1001 => 0:A0+c0@1001 1:A1+c1@1001",
			"R d*@1002 => 0:A0+d0@1002 1:A1+d1@1002 2:A2+d2@1002",
			"R e*@1003 => 0:A0+e0@1003 1:A1+e1@1003 2:A2+e2@1003 3:A3+e3@1003",
			"R f*@1100 => 0:A0+f0@1100 1:A1+f1@1100 2:A2+f2@1100 3:A3+f3@1100",
			"R g*@1101 => 1:A1+g1@1101 2:A2+g2@1101 3:A3+g3@1101",
			"R h*@1102 => 2:A2+h2@1102 3:A3+h3@1102",
			"R i*@1103 => 3:A3+i3@1103",
			"R j*@1104 =>",
		}},
		{"JoinTest.testAsymmetricWindowingBefore", inner(noGrace(0).WithBefore(msd(100))), []string{
			"L A*@1000+ =>",
			"R a*@899 =>",
			"R b*@900 => 0:A0+b0@1000",
			"R c*@901 => 0:A0+c0@1000 1:A1+c1@1001",
			"R d*@902 => 0:A0+d0@1000 1:A1+d1@1001 2:A2+d2@1002",
			"R e*@903 => 0:A0+e0@1000 1:A1+e1@1001 2:A2+e2@1002 3:A3+e3@1003",
			"R f*@1000 => 0:A0+f0@1000 1:A1+f1@1001 2:A2+f2@1002 3:A3+f3@1003",
			"R g*@1001 => 1:A1+g1@1001 2:A2+g2@1002 3:A3+g3@1003",
			"R h*@1002 => 2:A2+h2@1002 3:A3+h3@1003",
			"R i*@1003 => 3:A3+i3@1003",
			"R j*@1004 =>",
		}},
		{"LeftJoinTest.testLeftJoinDuplicates", left(window.JoinTimeDifferenceAndGrace(msd(100), msd(10))), []string{
			"L 0:A0@0 0:A0-0@0 =>",
			"R 1:a0@111 2:dummy@500 => 0:A0+null@0 0:A0-0+null@0",
			"L 2:A2@1000 2:A2-0@1000 =>",
			"R 2:a2@1001 => 2:A2+a2@1001 2:A2-0+a2@1001",
			"R 3:a3@315 =>",
		}},
		{"LeftJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor", left(window.JoinTimeDifferenceAndGrace(msd(100), 0)), []string{
			"L 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"R 1:a1@3 => 1:A1+a1@3",
			"L 2:dummy@401 => 0:A0+null@1 0:A0-0+null@3",
			"R 2:dummy@401 => 2:dummy+dummy@401",
		}},
		{"LeftJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByTheRightProcessor", left(window.JoinTimeDifferenceAndGrace(msd(100), 0)), []string{
			"L 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"R 1:a1@3 => 1:A1+a1@3",
			"R 2:dummy@401 => 0:A0+null@1 0:A0-0+null@3",
			"L 2:dummy@402 => 2:dummy+dummy@402",
		}},
		{"LeftJoinTest.testRightNonJoinedRecordsAreNeverEmittedByTheLeftProcessor", left(window.JoinTimeDifferenceAndGrace(msd(100), 0)), []string{
			"R 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"L 1:a1@3 => 1:a1+A1@3",
			"L 2:dummy@401 =>",
			"R 2:dummy@402 => 2:dummy+dummy@402",
		}},
		{"LeftJoinTest.testRightNonJoinedRecordsAreNeverEmittedByTheRightProcessor", left(noGrace(msd(100))), []string{
			"R 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"L 1:a1@3 => 1:a1+A1@3",
			"R 2:dummy@401 =>",
			"L 2:dummy@402 => 2:dummy+dummy@402",
		}},
		{"LeftJoinTest.testOrdering", left(noGrace(msd(100))), []string{
			"L 0:A0@0 1:A1@100 =>",
			"R 1:a1@110 => 0:A0+null@0 1:A1+a1@110",
		}},
		{"LeftJoinTest.testGracePeriod", left(window.JoinTimeDifferenceAndGrace(msd(100), msd(10))), []string{
			"L A*2@0 =>",
			"R a*@101 =>",
			"R 0:dummy@1201 => 0:A0+null@0 1:A1+null@0",
		}},
		{"LeftJoinTest.testWindowing (testUpperWindowBound, testLowerWindowBound)", left(noGrace(msd(100))), []string{
			"L A*2@0 =>",
			"R a*@0 => 0:A0+a0@0 1:A1+a1@0",
			// testUpperWindowBound
			"R b*@1000+ =>",
			"L B*@1100 => 0:B0+b0@1100 1:B1+b1@1100 2:B2+b2@1100 3:B3+b3@1100",
			"L C*@1101 => 1:C1+b1@1101 2:C2+b2@1101 3:C3+b3@1101",
			"L D*@1102 => 2:D2+b2@1102 3:D3+b3@1102",
			"L E*@1103 => 3:E3+b3@1103",
			"L F*@1104 =>",
			"L 0:dummy@1405 => 0:C0+null@1101 0:D0+null@1102 1:D1+null@1102 0:E0+null@1103 1:E1+null@1103 2:E2+null@1103 " +
				"0:F0+null@1104 1:F1+null@1104 2:F2+null@1104 3:F3+null@1104",
			// testLowerWindowBound: out of order and past their windows'
			// ends, these get their results at once.
			"L G*@899 => 0:G0+null@899 1:G1+null@899 2:G2+null@899 3:G3+null@899",
			"L H*@900 => 0:H0+b0@1000 1:H1+null@900 2:H2+null@900 3:H3+null@900",
			"L I*@901 => 0:I0+b0@1000 1:I1+b1@1001 2:I2+null@901 3:I3+null@901",
			"L J*@902 => 0:J0+b0@1000 1:J1+b1@1001 2:J2+b2@1002 3:J3+null@902",
			"L K*@903 => 0:K0+b0@1000 1:K1+b1@1001 2:K2+b2@1002 3:K3+b3@1003",
		}},
		{"LeftJoinTest.shouldNotEmitLeftJoinResultForAsymmetricWindow", left(noGrace(msd(100)).WithBefore(0)), []string{
			"L A*2@0+ =>",
			"R 0:a0@100 => 0:A0+a0@100",
			"R 1:a1@102 => 1:A1+null@1",
		}},
		{"OuterJoinTest.testOuterJoinDuplicates", outer(window.JoinTimeDifferenceAndGrace(msd(100), msd(10))), []string{
			"L 0:A0@0 0:A0-0@0 =>",
			"R 1:11@0 1:12@0 1:10@111 3:100@211 => 1:null+11@0 1:null+12@0 0:A0+null@0 0:A0-0+null@0",
			"L 2:A2@200 2:A2-0@200 =>",
			"R 2:13@201 2:14@201 => 2:A2+13@201 2:A2-0+13@201 2:A2+14@201 2:A2-0+14@201",
			"R 3:100@1500 => 1:null+10@111 3:null+100@211",
		}},
		{"OuterJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor", outer(noGrace(msd(100))), []string{
			"L 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"R 1:11@3 => 1:A1+11@3",
			"L 2:dummy@401 => 0:A0+null@1 0:A0-0+null@3",
			"R 2:100@401 => 2:dummy+100@401",
		}},
		{"OuterJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByTheRightProcessor", outer(noGrace(msd(100))), []string{
			"L 0:A0@1 1:A1@2 0:A0-0@3 =>",
			"R 1:11@3 => 1:A1+11@3",
			"R 2:100@401 => 0:A0+null@1 0:A0-0+null@3",
			"L 2:dummy@402 => 2:dummy+100@402",
		}},
		{"OuterJoinTest.testRightExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor", outer(noGrace(msd(100))), []string{
			"R 0:10@1 1:11@2 0:12@3 =>",
			"L 1:A1@3 => 1:A1+11@3",
			"L 2:dummy@401 => 0:null+10@1 0:null+12@3",
			"R 2:100@402 => 2:dummy+100@402",
		}},
		{"OuterJoinTest.testRightExpiredNonJoinedRecordsAreEmittedByTheRightProcessor", outer(noGrace(msd(100))), []string{
			"R 0:10@1 1:11@2 0:12@3 =>",
			"L 1:A1@3 => 1:A1+11@3",
			"R 2:100@401 => 0:null+10@1 0:null+12@3",
			"L 2:dummy@402 => 2:dummy+100@402",
		}},
		{"OuterJoinTest.testOrdering", outer(noGrace(msd(100))), []string{
			"L 0:A0@0 1:A1@100 =>",
			"R 1:11@110 => 0:A0+null@0 1:A1+11@110",
		}},
		{"OuterJoinTest.testGracePeriod", outer(window.JoinTimeDifferenceAndGrace(msd(100), msd(10))), []string{
			"L 0:A0@0 =>",
			"R 1:11@0 =>",
			"L 1:A1@101 =>",
			"R 0:10@101 =>",
			"R 0:100@112 => 1:null+11@0 0:A0+null@0",
		}},
		{"OuterJoinTest.testEmitAllNonJoinedResultsForAsymmetricWindow", outer(noGrace(msd(5)).WithAfter(msd(20))), []string{
			"L 0:A0@29 =>",
			"L 1:A1@30 =>",
			"R 2:12@31 =>",
			"R 3:13@36 =>",
			"R 4:14@37 => 2:null+12@31",
			"R 5:15@50 => 0:A0+null@29 3:null+13@36 4:null+14@37",
		}},
		{"OuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricBeforeWindow", outer(noGrace(msd(100)).WithBefore(0)), []string{
			"L A*2@0+ =>",
			"R 0:10@100 => 0:A0+10@100",
			"R 1:11@102 => 1:A1+null@1",
			"R 2:12@103 => 1:null+11@102",
			"L 2:A2@103 => 2:A2+12@103",
		}},
		{"OuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricAfterWindow", outer(noGrace(msd(100)).WithAfter(0)), []string{
			"L A*2@0+ => 0:A0+null@0",
			"R 1:11@1 => 1:A1+11@1",
			"R 2:12@101 =>",
			"R 3:13@101 =>",
			"L 2:A2@201 => 2:A2+12@201",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			newJoinRun(t, tc.join).play(t, tc.script...)
		})
	}
}
