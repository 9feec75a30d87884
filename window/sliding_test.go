package window_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// slidingTopology sums "in" per key in sliding windows.
func slidingTopology(t *testing.T, name string, w window.SlidingWindows, emit window.Emit) (*testdriver.InputTopic[string, int64], *testdriver.OutputTopic[state.Windowed[string], int64]) {
	t.Helper()
	d, in, out := windowDriver(t, quiet, serde.Int64(), func(b *topology.Builder, src topology.Node[string, int64]) topology.Node[state.Windowed[string], int64] {
		return window.AddSlidingAggregation(b, name, window.SlidingAggregation[string, int64, int64]{
			Windows: w, Store: name + "-store", KeySerde: serde.String(), ValueSerde: serde.Int64(),
			Init: func() int64 { return 0 }, Add: sum, Emit: emit,
		}, src)
	})
	runs(name, d)
	return in, out
}

func slides(t *testing.T, out *testdriver.OutputTopic[state.Windowed[string], int64]) []string {
	t.Helper()
	kvs, err := out.ReadKeyValues()
	require.NoError(t, err)
	got := []string{}
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s@%s..%s=%d", kv.Key.Key, secs(kv.Key.Start), secs(kv.Key.End), kv.Value))
	}
	return got
}

// secs writes t as Unix seconds, with milliseconds when it has any.
func secs(t time.Time) string {
	if ms := t.UnixMilli(); ms%1000 != 0 {
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	}
	return fmt.Sprint(t.Unix())
}

// A record's window ends at it and holds the key's records of the 10 s
// before, both bounds inclusive; a record followed within 10 s + 1 ms by
// another also starts a window 1 ms after it. An out-of-order record
// updates every window it falls into and creates its own two.
func TestSlidingWindowContents(t *testing.T) {
	t.Parallel()
	in, out := slidingTopology(t, "sliding", window.Sliding(10*time.Second).WithGrace(time.Minute), window.EmitOnUpdate)
	require.NoError(t, in.Pipe("a", 1, sec(100)))
	require.Equal(t, []string{"a@90..100=1"}, slides(t, out), "no record after it yet: no window starts after it")
	require.NoError(t, in.Pipe("a", 2, sec(110))) // exactly 10 s later: both in [100,110]
	require.Equal(t, []string{"a@100..110=3", "a@100.001..110.001=2"}, slides(t, out), "110 ends a window and fills the one after 100")
	require.NoError(t, in.Pipe("a", 4, sec(111))) // 100 has left: [101,111] holds 110 and 111
	require.NoError(t, in.Pipe("b", 8, sec(111)))
	require.Equal(t, []string{"a@101..111=6", "a@110.001..120.001=4", "b@101..111=8"}, slides(t, out))
	require.NoError(t, in.Pipe("a", 16, sec(105))) // out of order
	require.Equal(t, []string{
		"a@95..105=17",          // its own window
		"a@100..110=19",         // 110's
		"a@100.001..110.001=18", // the one after 100
		"a@101..111=22",         // 111's
		"a@105.001..115.001=6",  // the one after it: 110 and 111
	}, slides(t, out), "oldest window first")
	require.NoError(t, in.Pipe("a", 32, sec(110))) // a second record at 110: no new window
	require.Equal(t, []string{"a@100..110=51", "a@100.001..110.001=50", "a@101..111=54", "a@105.001..115.001=38"}, slides(t, out))
}

func TestSlidingEmitOnClose(t *testing.T) {
	t.Parallel()
	const name = "sliding-final"
	late := lateSince(name)
	in, out := slidingTopology(t, name, window.Sliding(10*time.Second).WithGrace(5*time.Second), window.EmitOnWindowClose)
	require.NoError(t, in.Pipe("a", 1, sec(100)))
	require.NoError(t, in.Pipe("a", 2, sec(104)))
	require.NoError(t, in.Pipe("a", 4, sec(105)))
	require.Empty(t, slides(t, out), "the window ending at 100 s closes after 105 s")
	require.NoError(t, in.Pipe("a", 8, sec(106)))
	require.Equal(t, []string{"a@90..100=1"}, slides(t, out))
	require.NoError(t, in.Pipe("a", 16, sec(100))) // its own window has closed, but not 104's, 105's, 106's and the one after it
	require.Zero(t, late())
	require.NoError(t, in.Pipe("a", 64, sec(90))) // 90 + 10 + 0.001 + 5 <= 106: every window it could touch has closed
	require.Equal(t, int64(1), late())
	require.Empty(t, slides(t, out))
	require.NoError(t, in.Pipe("a", 32, sec(200)))
	require.Equal(t, []string{
		"a@94..104=19", "a@95..105=23", "a@96..106=31",
		"a@100.001..110.001=14", "a@104.001..114.001=12", "a@105.001..115.001=8",
	}, slides(t, out), "each window once, by end")
}

// slidingRecord is an input record of the model test.
type slidingRecord struct {
	key  string
	t, v int64 // Unix ms
}

// slidingWindow is a window of the model test, bounds in Unix ms.
type slidingWindow struct {
	key        string
	start, end int64
}

// slidingModel computes, straight from the definitions, the final result of
// every sliding window that recs, in arrival order, make: a record is
// dropped when t + 1 + d + grace <= the stream time seen (itself
// included); a window closes when a record moves stream time past its end +
// grace; the windows are those ending at a record and those starting 1 ms
// after a record followed by another within d + 1, made of records that
// came before the window closed; a window's result sums the records in it
// that came before it closed.
func slidingModel(recs []slidingRecord, d, grace int64) map[slidingWindow]int64 {
	observed := int64(math.MinInt64)
	streamTime := make([]int64, len(recs))
	kept := make([]bool, len(recs))
	for i, r := range recs {
		observed = max(observed, r.t)
		streamTime[i] = observed
		kept[i] = r.t+1+d+grace > observed
	}
	closesAt := func(end int64) int {
		for i, st := range streamTime {
			if st > end+grace {
				return i
			}
		}
		return len(recs)
	}
	// before reports whether a kept record of key in [from, to] came before
	// index c.
	before := func(key string, from, to int64, c int) bool {
		for i := range c {
			if kept[i] && recs[i].key == key && recs[i].t >= from && recs[i].t <= to {
				return true
			}
		}
		return false
	}
	out := map[slidingWindow]int64{}
	for i, r := range recs {
		if !kept[i] {
			continue
		}
		for _, end := range []int64{r.t, r.t + 1 + d} {
			w := slidingWindow{r.key, end - d, end}
			c := closesAt(end)
			left := before(r.key, end, end, c)
			right := before(r.key, end-d-1, end-d-1, c) && before(r.key, end-d, end, c)
			if !left && !right {
				continue
			}
			sum := int64(0)
			for j := range c {
				if kept[j] && recs[j].key == r.key && recs[j].t >= w.start && recs[j].t <= end {
					sum += recs[j].v
				}
			}
			out[w] = sum
		}
	}
	return out
}

// Both emit strategies agree with slidingModel on random input (records
// out of order, some late beyond grace, several at the same time or 1 ms
// past a window's bound), and EmitOnUpdate forwards for each record what
// slidingUpdatesModel says.
func TestSlidingMatchesDefinition(t *testing.T) {
	t.Parallel()
	const d, grace = 1000, 300
	for seed := range int64(20) {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		var recs []slidingRecord
		now := int64(1_000_000)
		for range 150 {
			now += rng.Int64N(400)
			at := now - rng.Int64N(1600) // within grace, or late
			switch rng.IntN(4) {         // shared times, and times just past a window's bound
			case 0:
				at -= at % 250
			case 1:
				at += 1 - at%250
			}
			recs = append(recs, slidingRecord{key: fmt.Sprint("k", rng.IntN(3)), t: at, v: 1 << rng.IntN(20)})
		}
		// A last record of another key closes every window of the others.
		recs = append(recs, slidingRecord{key: "flush", t: now + 10*d, v: 0})
		want := slidingModel(recs, d, grace)
		delete(want, slidingWindow{"flush", now + 9*d, now + 10*d})
		require.Greater(t, len(want), 100, "seed %d", seed)

		for _, emit := range []window.Emit{window.EmitOnUpdate, window.EmitOnWindowClose} {
			name := fmt.Sprintf("sliding-model-%d-%d", seed, emit)
			in, out := slidingTopology(t, name, window.Sliding(d*time.Millisecond).WithGrace(grace*time.Millisecond), emit)
			var kvs []testdriver.KeyValue[state.Windowed[string], int64]
			for i, r := range recs {
				require.NoError(t, in.Pipe(r.key, r.v, time.UnixMilli(r.t)))
				step, err := out.ReadKeyValues()
				require.NoError(t, err)
				if emit == window.EmitOnUpdate && r.key != "flush" {
					var updates []string
					for _, kv := range step {
						updates = append(updates, fmt.Sprintf("%s@%d..%d=%d", kv.Key.Key, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli(), kv.Value))
					}
					require.Equal(t, slidingUpdatesModel(recs[:i+1], d, grace), updates, "seed %d, record %d", seed, i)
				}
				kvs = append(kvs, step...)
			}
			got := map[slidingWindow]int64{}
			lastEnd := int64(math.MinInt64)
			for _, kv := range kvs {
				w := slidingWindow{kv.Key.Key, kv.Key.Start.UnixMilli(), kv.Key.End.UnixMilli()}
				if w.key == "flush" {
					continue
				}
				if emit == window.EmitOnWindowClose {
					_, again := got[w]
					require.False(t, again, "seed %d: window %v emitted twice", seed, w)
					require.GreaterOrEqual(t, w.end, lastEnd, "seed %d: final results by end", seed)
					lastEnd = w.end
				}
				got[w] = kv.Value // the last update is the result
			}
			require.Empty(t, windowDiff(want, got), "seed %d, emit %d", seed, emit)
		}
	}
}

// windowDiff lists the windows where got differs from want, oldest first.
func windowDiff(want, got map[slidingWindow]int64) []string {
	var diff []string
	for w, v := range want {
		if g, ok := got[w]; !ok || g != v {
			diff = append(diff, fmt.Sprintf("%s@%d..%d: want %d, got %d (ok %v)", w.key, w.start, w.end, v, g, ok))
		}
	}
	for w, g := range got {
		if _, ok := want[w]; !ok {
			diff = append(diff, fmt.Sprintf("%s@%d..%d: want none, got %d", w.key, w.start, w.end, g))
		}
	}
	slices.Sort(diff)
	return diff
}

// slidingUpdatesModel returns, from the definitions, what EmitOnUpdate
// forwards for the last of recs (in arrival order): the open windows (end +
// grace at or after the stream time) that hold it, and the windows it
// makes, each with its sum of the records that came, oldest end first.
func slidingUpdatesModel(recs []slidingRecord, d, grace int64) []string {
	observed := int64(math.MinInt64)
	kept := make([]bool, len(recs))
	for i, r := range recs {
		observed = max(observed, r.t)
		kept[i] = r.t+1+d+grace > observed
	}
	last := len(recs) - 1
	r := recs[last]
	if !kept[last] {
		return nil
	}
	// exists reports whether the window ending at end exists, given the
	// kept records of r's key before index n.
	has := func(from, to int64, n int) bool {
		for i := range n {
			if kept[i] && recs[i].key == r.key && recs[i].t >= from && recs[i].t <= to {
				return true
			}
		}
		return false
	}
	exists := func(end int64, n int) bool {
		return has(end, end, n) || has(end-d-1, end-d-1, n) && has(end-d, end, n)
	}
	var ends []int64 // every window end a record defines, in [r.t, r.t+1+d]
	for i, q := range recs {
		for _, end := range []int64{q.t, q.t + 1 + d} {
			if kept[i] && q.key == r.key && end >= r.t && end <= r.t+1+d {
				ends = append(ends, end)
			}
		}
	}
	slices.Sort(ends)
	var out []string
	for _, end := range slices.Compact(ends) {
		holds := end-d <= r.t
		if end+grace < observed || !exists(end, len(recs)) || !holds && exists(end, last) {
			continue
		}
		sum := int64(0)
		for i := range recs {
			if kept[i] && recs[i].key == r.key && recs[i].t >= end-d && recs[i].t <= end {
				sum += recs[i].v
			}
		}
		out = append(out, fmt.Sprintf("%s@%d..%d=%d", r.key, end-d, end, sum))
	}
	return out
}
