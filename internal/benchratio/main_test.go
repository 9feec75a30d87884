package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const output = `goos: linux
pkg: github.com/gostreams/streams/sink/postgres
BenchmarkSink/ExactlyOnce/Queue-2   	   50000	     11253 ns/op	     90000 rows/s	    1162 B/op	      14 allocs/op
BenchmarkSink/Hand/Batch-2          	   50000	     11150 ns/op	    100000 rows/s	    1112 B/op	      13 allocs/op
PASS
ok  	github.com/gostreams/streams/sink/postgres	5.1s
BenchmarkSink/ExactlyOnce/Queue-2   	   50000	     11253 ns/op	     80000 rows/s	    1162 B/op	      14 allocs/op
BenchmarkSink/Hand/Batch-2          	   50000	     11150 ns/op	     80000 rows/s	    1112 B/op	      13 allocs/op
BenchmarkSink/ExactlyOnce/Queue-2   	   50000	     11253 ns/op	    120000 rows/s	    1162 B/op	      14 allocs/op
BenchmarkSink/Hand/Batch-2          	   50000	     11150 ns/op	    100000 rows/s	    1112 B/op	      13 allocs/op
PASS
`

func TestRatiosPairTheRunsInOrder(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(strings.NewReader(output), &out, "rows/s", []string{"Sink/ExactlyOnce/Queue=Sink/Hand/Batch"}))
	require.True(t, strings.HasPrefix(out.String(), output), "the input is copied through")
	table := strings.Fields(strings.TrimPrefix(out.String(), output))
	// medians 90000 and 100000; ratios 0.9, 1.0, 1.2.
	require.Equal(t, []string{"Sink/ExactlyOnce/Queue", "90000", "Sink/Hand/Batch", "100000", "1.00", "0.90", "1.20", "3"}, table[8:16])
}

func TestAFailedRunOrAMissingResultIsAnError(t *testing.T) {
	var out strings.Builder
	err := run(strings.NewReader(output+"--- FAIL: BenchmarkSink/Hand/CopyFrom\nFAIL\n"), &out, "rows/s", []string{"Sink/ExactlyOnce/Queue=Sink/Hand/Batch"})
	require.ErrorContains(t, err, "the benchmarks failed: --- FAIL: BenchmarkSink/Hand/CopyFrom")

	err = run(strings.NewReader(output), &out, "rows/s", []string{"Sink/ExactlyOnce/Copy=Sink/Hand/CopyFrom"})
	require.ErrorContains(t, err, "no rows/s result for Sink/ExactlyOnce/Copy, Sink/Hand/CopyFrom")

	err = run(strings.NewReader(output), &out, "rows/s", []string{"Sink/ExactlyOnce/Queue"})
	require.ErrorContains(t, err, "want system=baseline")
}
