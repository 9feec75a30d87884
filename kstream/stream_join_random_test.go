package kstream_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/window"
)

// Random streams, joined three ways, against a brute-force recomputation:
// every pair of a key's records within the window, and (left, outer) every
// record with no such pair, once, with the other side missing.
//
// The records come out of order, up to disorder behind the latest time
// either stream has seen. The recomputation is what the join must give as
// long as no record is late: grace is more than the disorder (a record
// comes before any window it belongs to closes, and before its partner
// leaves its store), and Before and After are at least the disorder (a
// record that meets nothing is held until its window closes, not emitted
// at once as one whose window ended before it came).
func TestStreamJoinAgainstBruteForce(t *testing.T) {
	t.Parallel()
	total := 0
	for _, cfg := range []struct {
		before, after, grace, disorder int64
		seed                           uint64
	}{
		{20, 20, 11, 10, 1},
		{5, 40, 16, 5, 2},    // asymmetric
		{30, 8, 9, 8, 3},     // the other way
		{0, 25, 1, 0, 4},     // in order, the window after the left record only
		{15, 15, 100, 15, 5}, // grace far beyond the disorder
	} {
		for _, kind := range []string{"Join", "LeftJoin", "OuterJoin"} {
			name := fmt.Sprintf("%s/before=%d,after=%d,grace=%d,disorder=%d", kind, cfg.before, cfg.after, cfg.grace, cfg.disorder)
			w := window.JoinWindows{Before: msd(cfg.before), After: msd(cfg.after), Grace: msd(cfg.grace)}
			rng := rand.New(rand.NewPCG(cfg.seed, 7))
			type rec struct {
				left       bool
				key, value string
				at         int64
			}
			var recs []rec
			now := int64(1_000_000)
			for i := range 600 {
				now += rng.Int64N(4) // several records a millisecond, sometimes
				at := now - rng.Int64N(cfg.disorder+1)
				left := rng.IntN(2) == 0
				side := "R"
				if left {
					side = "L"
				}
				recs = append(recs, rec{left, fmt.Sprint("k", rng.IntN(6)), fmt.Sprint(side, i), at})
			}

			// The brute force.
			var want []string
			matched := map[int]bool{}
			for i, l := range recs {
				for j, r := range recs {
					if l.left && !r.left && l.key == r.key && r.at >= l.at-cfg.before && r.at <= l.at+cfg.after {
						want = append(want, fmt.Sprintf("%s:%s+%s@%d", l.key, l.value, r.value, max(l.at, r.at)))
						matched[i], matched[j] = true, true
					}
				}
			}
			for i, x := range recs {
				switch {
				case matched[i]:
				case x.left && kind != "Join":
					want = append(want, fmt.Sprintf("%s:%s+null@%d", x.key, x.value, x.at))
				case !x.left && kind == "OuterJoin":
					want = append(want, fmt.Sprintf("%s:null+%s@%d", x.key, x.value, x.at))
				}
			}

			sb := kstream.NewStreamsBuilder()
			l, r := kstream.Stream(sb, []string{"l"}, strs), kstream.Stream(sb, []string{"r"}, strs)
			show := func(v string, has bool) string {
				if !has {
					return "null"
				}
				return v
			}
			var joined kstream.KStream[string, string]
			switch kind {
			case "Join":
				joined = kstream.Join(l, r, func(_ string, a, b string) string { return a + "+" + b }, w)
			case "LeftJoin":
				joined = kstream.LeftJoin(l, r, func(_ string, a, b string, hasB bool) string { return a + "+" + show(b, hasB) }, w)
			default:
				joined = kstream.OuterJoin(l, r, func(_ string, a string, hasA bool, b string, hasB bool) string {
					return show(a, hasA) + "+" + show(b, hasB)
				}, w)
			}
			joined.To("out")
			topo, err := sb.Build()
			require.NoError(t, err)
			d, err := testdriver.New(topo, testdriver.Options{Logger: quiet})
			require.NoError(t, err)
			lin := testdriver.CreateInputTopic(d, "l", serde.String(), serde.String())
			rin := testdriver.CreateInputTopic(d, "r", serde.String(), serde.String())
			out := testdriver.CreateOutputTopic(d, "out", serde.String(), serde.String())
			for _, x := range recs {
				in := rin
				if x.left {
					in = lin
				}
				require.NoError(t, in.Pipe(x.key, x.value, time.UnixMilli(x.at)), name)
			}
			// Past every window: what is held comes out.
			flush := now + cfg.before + cfg.after + cfg.grace + 1
			require.NoError(t, lin.Pipe("flush", "L", time.UnixMilli(flush)))
			require.NoError(t, rin.Pipe("flush", "R", time.UnixMilli(flush)))

			var got []string
			for !out.IsEmpty() {
				rec, err := out.ReadRecord()
				require.NoError(t, err)
				if rec.Key != "flush" {
					got = append(got, fmt.Sprintf("%s:%s@%d", rec.Key, rec.Value, rec.Timestamp.UnixMilli()))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			require.Equal(t, want, got, name)
			require.Zero(t, d.DroppedRecords(), name)
			total += len(got)
			require.NoError(t, d.Close())
		}
	}
	require.Greater(t, total, 5000, "enough results to mean something")
	t.Logf("%d results compared", total)
}
