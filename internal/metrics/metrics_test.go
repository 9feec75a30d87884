package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newAt(level Level) (*Registry, *fakeClock) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	r := &Registry{level: level, now: c.now}
	r.mu.counters, r.mu.stats, r.mu.gauges = map[string]*Counter{}, map[string]*Stat{}, map[string]*gauge{}
	r.start = c.t
	return r, c
}

func value(t *testing.T, vs []Value, name string, tags ...Tag) float64 {
	t.Helper()
	for _, v := range vs {
		if v.Name.Name == name && len(v.Name.Tags) == len(tags) {
			same := true
			for i := range tags {
				same = same && v.Name.Tags[i] == tags[i]
			}
			if same {
				return v.Value
			}
		}
	}
	t.Fatalf("no metric %s %v in %v", name, tags, vs)
	return 0
}

func TestCounterTotalAndRateOverTheWindow(t *testing.T) {
	r, clock := newAt(Info)
	c := r.Counter(Info, "g", "process", "records processed", Tag{"thread-id", "t0"})
	require.Same(t, c, r.Counter(Info, "g", "process", "records processed", Tag{"thread-id", "t0"}))
	// 10 events a second for 40 seconds, then 40 a second for 30: the rate
	// is the last 30 seconds'.
	for range 40 {
		c.Add(10)
		clock.t = clock.t.Add(time.Second)
		r.closeSample()
	}
	vs := r.Snapshot()
	require.EqualValues(t, 400, value(t, vs, "process-total", Tag{"thread-id", "t0"}))
	require.InDelta(t, 10, value(t, vs, "process-rate", Tag{"thread-id", "t0"}), 0.01)
	for range 30 {
		c.Add(40)
		clock.t = clock.t.Add(time.Second)
		r.closeSample()
	}
	require.InDelta(t, 40, value(t, r.Snapshot(), "process-rate", Tag{"thread-id", "t0"}), 0.01)
	h := r.History(Name{Name: "process-total", Group: "g", Tags: []Tag{{"thread-id", "t0"}}})
	require.Len(t, h, 70)
	require.EqualValues(t, 10, h[0].Total)
	require.EqualValues(t, 1600, h[69].Total)

	// The tags of a name may come in any order.
	two := r.Counter(Info, "g", "dropped", "", Tag{"thread-id", "t0"}, Tag{"task-id", "0_1"})
	two.Add(3)
	clock.t = clock.t.Add(time.Second)
	r.closeSample()
	h = r.History(Name{Name: "dropped-total", Group: "g", Tags: []Tag{{"task-id", "0_1"}, {"thread-id", "t0"}}})
	require.NotEmpty(t, h)
	require.EqualValues(t, 3, h[len(h)-1].Total)
	require.Nil(t, r.History(Name{Name: "dropped-total", Group: "g", Tags: []Tag{{"task-id", "0_1"}}}), "a subset of the tags names another metric")
}

func TestStatKeepsTheWindowsAverageMinAndMax(t *testing.T) {
	r, clock := newAt(Info)
	s := r.Stat(Info, "g", "latency", "a latency", true)
	s.Record(100)
	s.Record(300)
	vs := r.Snapshot()
	require.EqualValues(t, 200, value(t, vs, "latency-avg"))
	require.EqualValues(t, 100, value(t, vs, "latency-min"))
	require.EqualValues(t, 300, value(t, vs, "latency-max"))
	clock.t = clock.t.Add(time.Second)
	r.closeSample()
	s.Record(50)
	require.EqualValues(t, 50, value(t, r.Snapshot(), "latency-min"), "closed samples count too")
	// Once a Window has passed, the old values are gone.
	for range slots {
		clock.t = clock.t.Add(time.Second)
		r.closeSample()
	}
	require.True(t, math.IsNaN(value(t, r.Snapshot(), "latency-avg")), "no values in the window")
	s.Record(7)
	require.EqualValues(t, 7, value(t, r.Snapshot(), "latency-max"))

	l := r.Latency(Info, "g", "commit-latency", "commits", false)
	l.Record(int64(3 * time.Millisecond))
	require.InDelta(t, 3, value(t, r.Snapshot(), "commit-latency-max"), 1e-9, "recorded in ns, shown in ms")
}

func TestLevelsGaugesAndRemove(t *testing.T) {
	r, _ := newAt(Info)
	require.Nil(t, r.Counter(Debug, "g", "x", ""))
	require.Nil(t, r.Stat(Debug, "g", "y", "", false))
	var nilCounter *Counter
	nilCounter.Add(1) // records nothing, does not panic
	var nilStat *Stat
	nilStat.Record(1)
	r.Gauge(Debug, "g", "z", "", func() float64 { return 1 })
	require.Empty(t, r.Snapshot())

	lag := 5.0
	r.Gauge(Info, "consumer", "records-lag", "lag", func() float64 { return lag }, Tag{"topic", "a"}, Tag{"partition", "0"})
	r.Counter(Info, "task", "dropped-records", "", Tag{"task-id", "0_0"}).Inc()
	r.Counter(Info, "task", "dropped-records", "", Tag{"task-id", "0_1"}).Inc()
	lag = 7
	require.EqualValues(t, 7, value(t, r.Snapshot(), "records-lag", Tag{"topic", "a"}, Tag{"partition", "0"}))
	r.Remove(Tag{"task-id", "0_0"})
	vs := r.Snapshot()
	require.Len(t, vs, 3) // the lag, and 0_1's total and rate
	require.EqualValues(t, 1, value(t, vs, "dropped-records-total", Tag{"task-id", "0_1"}))
}
