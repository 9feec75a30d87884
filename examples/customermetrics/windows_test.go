package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// The sample's outputs, all four topics, are pinned by a golden file: one
// partition, so the run is deterministic. Regenerate with -update after a
// change that is meant to change them, and read the diff.
func TestSampleOutputGolden(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{appID: "customermetrics-golden", partitions: 1, timeout: time.Minute, grace: DefaultGrace}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	golden := filepath.Join("testdata", "sample.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, stdout.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), stdout.String())
	// The sample has late orders, and they are reported: o-1005 for its
	// 5-minute window; o-1011, o-1013 and o-1017 for every window and session.
	require.Contains(t, stderr.String(), "late orders dropped: 4 from the 5-minute windows, 3 from the hourly windows, 3 from the sessions")
	require.Contains(t, stderr.String(), "10 records dropped by the app's processors (Metrics.DroppedRecords)")
}

// windowedLine is a line of a windowed topic, parsed.
type windowedLine struct {
	Topic       string          `json:"topic"`
	Key         string          `json:"key"`
	WindowStart time.Time       `json:"windowStart"`
	WindowEnd   time.Time       `json:"windowEnd"`
	Value       json.RawMessage `json:"value"`
}

func (l windowedLine) String() string {
	var v any
	_ = json.Unmarshal(l.Value, &v)
	b, _ := json.Marshal(v) // normalized: sorted keys
	return fmt.Sprintf("%s %s [%s, %s] %s", l.Topic, l.Key, l.WindowStart.Format(time.RFC3339), l.WindowEnd.Format(time.RFC3339), b)
}

// For random orders whose out-of-order ones stay within the grace period,
// the three windowed outputs equal a plain recomputation of their
// definitions: every window (and session) closed by the final stream time,
// exactly once, with its values.
func TestWindowedOutputsEqualARecomputation(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 4))
	grace := 2 * time.Minute
	customers := []string{"alice", "bob", "carol", "dave"}
	categories := []string{"books", "games", "food"}
	type ord struct {
		customer, category string
		cents              int64
		at                 time.Time
	}
	var orders []ord
	var sb strings.Builder
	now := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	maxSoFar := now
	for i := range 400 {
		now = now.Add(time.Duration(rng.IntN(240)) * time.Second)
		at := now
		if rng.IntN(4) == 0 { // out of order, but later than max - grace
			at = maxSoFar.Add(-grace + time.Second + time.Duration(rng.Int64N(int64(grace-time.Second))))
		}
		if at.After(maxSoFar) {
			maxSoFar = at
		}
		o := ord{customers[rng.IntN(len(customers))], categories[rng.IntN(len(categories))], 1 + rng.Int64N(20000), at}
		orders = append(orders, o)
		fmt.Fprintf(&sb, `{"orderId":"o-%d","customerId":%q,"amount":%d.%02d,"category":%q,"eventTime":%q}`+"\n",
			i, o.customer, o.cents/100, o.cents%100, o.category, at.Format(time.RFC3339))
	}
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o644))
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{input: path, appID: "customermetrics-recompute", partitions: 1, timeout: time.Minute, grace: grace}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stderr.String(), "late orders dropped: 0 from the 5-minute windows, 0 from the hourly windows, 0 from the sessions")

	var got []string
	for line := range strings.Lines(stdout.String()) {
		if strings.HasPrefix(line, `{"topic": "customer-metrics"`) {
			continue
		}
		var l windowedLine
		require.NoError(t, json.Unmarshal([]byte(line), &l), line)
		got = append(got, l.String())
	}

	// The recomputation.
	type agg struct{ n, cents int64 }
	line := func(topic, key string, start, end time.Time, v any) string {
		b, _ := json.Marshal(v)
		return windowedLine{Topic: topic, Key: key, WindowStart: start, WindowEnd: end, Value: b}.String()
	}
	var want []string
	timeWindows := func(topic string, size, advance time.Duration, value func(agg) any) {
		byWindow := map[string]map[time.Time]agg{}
		for _, o := range orders {
			for start := o.at.Truncate(advance); start.After(o.at.Add(-size)); start = start.Add(-advance) {
				if byWindow[o.category] == nil {
					byWindow[o.category] = map[time.Time]agg{}
				}
				a := byWindow[o.category][start]
				a.n++
				a.cents += o.cents
				byWindow[o.category][start] = a
			}
		}
		for cat, ws := range byWindow {
			for start, a := range ws {
				if end := start.Add(size); !end.Add(grace).After(maxSoFar) {
					want = append(want, line(topic, cat, start, end, value(a)))
				}
			}
		}
	}
	timeWindows(CategoryRevenue5mTopic, 5*time.Minute, 5*time.Minute, func(a agg) any {
		return CategoryRevenue{OrderCount: a.n, TotalRevenue: float64(a.cents) / 100, AvgOrderValue: float64(a.cents) / 100 / float64(a.n)}
	})
	timeWindows(CategoryRevenue1hTopic, time.Hour, 10*time.Minute, func(a agg) any {
		return MovingRevenue{OrderCount: a.n, MovingAvgRevenue: float64(a.cents) / 100 / float64(a.n)}
	})
	for _, c := range customers {
		var mine []ord
		for _, o := range orders {
			if o.customer == c {
				mine = append(mine, o)
			}
		}
		sort.SliceStable(mine, func(i, j int) bool { return mine[i].at.Before(mine[j].at) })
		for i := 0; i < len(mine); {
			j, a := i, agg{}
			for ; j < len(mine) && (j == i || mine[j].at.Sub(mine[j-1].at) <= 30*time.Minute); j++ {
				a.n++
				a.cents += mine[j].cents
			}
			start, end := mine[i].at, mine[j-1].at
			if !end.Add(30 * time.Minute).Add(grace).After(maxSoFar) {
				want = append(want, line(CustomerSessionsTopic, c, start, end, CustomerSession{
					OrdersInSession: a.n, SessionTotal: float64(a.cents) / 100, SessionDurationMinutes: int64(end.Sub(start) / time.Minute)}))
			}
			i = j
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	require.Greater(t, len(want), 300, "the test must check many windows")
	require.Equal(t, want, got)
}
