// Package metrics is an app's registry of metrics, named as Kafka Streams
// names them (a name, a group and tags: process-rate in
// stream-thread-metrics with thread-id), recorded on the hot path with a
// few uncontended atomic operations and read as a snapshot.
//
// Three kinds of sensor record: a Counter (its total and its rate per
// second over the last Window), a Stat (the average, minimum and maximum of
// the values recorded in the last Window, as Kafka's latency metrics), and
// a gauge function evaluated when a snapshot is taken. A sensor asked for
// at a level the registry does not record is nil, and a nil sensor records
// nothing: its methods cost one comparison.
//
// Rates and windowed statistics need time to pass in samples: Run, which
// the app runs for as long as it runs, closes a sample every second and
// keeps the totals of the last History for graphs.
package metrics

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level is a recording level, as Kafka Streams' metrics.recording.level.
type Level int8

const (
	// Info records the metrics every app should have (the default).
	Info Level = iota
	// Debug adds per-task, per-node and per-store metrics.
	Debug
	// Trace adds what is costly to record.
	Trace
)

func (l Level) String() string {
	switch l {
	case Info:
		return "INFO"
	case Debug:
		return "DEBUG"
	case Trace:
		return "TRACE"
	}
	return "Level(" + string(rune('0'+l)) + ")"
}

// Window is the span of rates and windowed statistics, History how far
// back the per-second totals go.
const (
	Window  = 30 * time.Second
	History = 10 * time.Minute
	tick    = time.Second
	slots   = int(Window / tick)
	points  = int(History / tick)
)

// Tag is one tag of a metric's name.
type Tag struct{ Key, Value string }

// Name names a metric: Kafka's MetricName.
type Name struct {
	Name, Group string
	Tags        []Tag
}

// Tag returns the value of the tag key, or "".
func (n Name) Tag(key string) string {
	for _, t := range n.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func (n Name) key() string {
	var sb strings.Builder
	sb.WriteString(n.Group)
	sb.WriteByte(0)
	sb.WriteString(n.Name)
	for _, t := range n.Tags {
		sb.WriteByte(0)
		sb.WriteString(t.Key)
		sb.WriteByte('=')
		sb.WriteString(t.Value)
	}
	return sb.String()
}

// Kind says what a metric measures, for exporters: a Gauge can go up and
// down, a Total only grows.
type Kind int8

const (
	Gauge Kind = iota
	Total
)

// Value is one metric in a snapshot.
type Value struct {
	Name        Name
	Description string
	Level       Level
	Kind        Kind
	Value       float64
}

// Registry holds an app's sensors. It is safe for concurrent use.
type Registry struct {
	level Level
	now   func() time.Time
	start time.Time
	mu    struct {
		sync.Mutex
		counters map[string]*Counter
		stats    map[string]*Stat
		gauges   map[string]*gauge
		// head is the index of the sample being filled; samples counts
		// the closed ones, up to points.
		head, samples int
		// times are the closing times of the samples, by index.
		times [points]time.Time
	}
}

// New returns an empty registry that records sensors of level and below.
func New(level Level) *Registry {
	r := &Registry{level: level, now: time.Now}
	r.mu.counters = map[string]*Counter{}
	r.mu.stats = map[string]*Stat{}
	r.mu.gauges = map[string]*gauge{}
	r.start = r.now()
	return r
}

// Level is the registry's recording level.
func (r *Registry) Level() Level { return r.level }

// Records reports whether the registry records sensors of level.
func (r *Registry) Records(level Level) bool { return r != nil && level <= r.level }

// Counter counts events: its total, and its rate per second over the last
// Window. A nil *Counter counts nothing.
type Counter struct {
	name, rate  Name
	description string
	level       Level
	total       atomic.Int64
	// totals are the total at the close of each sample, guarded by the
	// registry's mu.
	totals [points]int64
}

// Add counts n events.
func (c *Counter) Add(n int64) {
	if c != nil {
		c.total.Add(n)
	}
}

// Inc counts one event.
func (c *Counter) Inc() {
	if c != nil {
		c.total.Add(1)
	}
}

// Total is the count so far.
func (c *Counter) Total() int64 {
	if c == nil {
		return 0
	}
	return c.total.Load()
}

// Counter returns the counter group/name-total (and name-rate) with tags,
// made on the first call; nil if the registry does not record level.
func (r *Registry) Counter(level Level, group, name, description string, tags ...Tag) *Counter {
	if !r.Records(level) {
		return nil
	}
	n := Name{Name: name + "-total", Group: group, Tags: tags}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := n.key()
	if c, ok := r.mu.counters[k]; ok {
		return c
	}
	c := &Counter{name: n, rate: Name{Name: name + "-rate", Group: group, Tags: tags}, description: description, level: level}
	r.mu.counters[k] = c
	return c
}

// Stat is the average, minimum and maximum of values recorded over the
// last Window (latencies, in the unit the caller records). A nil *Stat
// records nothing.
type Stat struct {
	names       [3]Name // avg, min, max
	description string
	level       Level
	withMin     bool
	// scale turns what is recorded into what is shown (1e-6 for
	// nanoseconds shown in milliseconds).
	scale float64
	cur   sample
	// window are the closed samples, guarded by the registry's mu.
	window [slots]struct{ count, sum, min, max int64 }
}

type sample struct {
	count, sum atomic.Int64
	min, max   atomic.Int64
}

// Record records v.
func (s *Stat) Record(v int64) {
	if s == nil {
		return
	}
	s.cur.count.Add(1)
	s.cur.sum.Add(v)
	for m := s.cur.max.Load(); v > m && !s.cur.max.CompareAndSwap(m, v); m = s.cur.max.Load() {
	}
	if s.withMin {
		for m := s.cur.min.Load(); v < m && !s.cur.min.CompareAndSwap(m, v); m = s.cur.min.Load() {
		}
	}
}

// merge records count values of sum sum, smallest lo and largest hi.
func (s *Stat) merge(count, sum, lo, hi int64) {
	s.cur.count.Add(count)
	s.cur.sum.Add(sum)
	for m := s.cur.max.Load(); hi > m && !s.cur.max.CompareAndSwap(m, hi); m = s.cur.max.Load() {
	}
	if s.withMin {
		for m := s.cur.min.Load(); lo < m && !s.cur.min.CompareAndSwap(m, lo); m = s.cur.min.Load() {
		}
	}
}

// Local gathers values for a Stat on one goroutine, without atomic
// operations, until Flush hands them over: for values recorded once per
// record on the hot path. A Local of a nil Stat records nothing.
type Local struct {
	s                  *Stat
	count, sum, lo, hi int64
}

// NewLocal returns a Local for s.
func NewLocal(s *Stat) *Local {
	if s == nil {
		return nil
	}
	return &Local{s: s, lo: math.MaxInt64, hi: math.MinInt64}
}

// Record records v.
func (l *Local) Record(v int64) {
	if l == nil {
		return
	}
	l.count++
	l.sum += v
	l.lo, l.hi = min(l.lo, v), max(l.hi, v)
}

// Flush hands what was recorded to the Stat.
func (l *Local) Flush() {
	if l == nil || l.count == 0 {
		return
	}
	l.s.merge(l.count, l.sum, l.lo, l.hi)
	l.count, l.sum, l.lo, l.hi = 0, 0, math.MaxInt64, math.MinInt64
}

// Since records the time since start, in nanoseconds.
func (s *Stat) Since(start time.Time) {
	if s != nil {
		s.Record(int64(time.Since(start)))
	}
}

// Stat returns the statistic group/name-avg and name-max (and name-min
// with withMin), made on the first call; nil if the registry does not
// record level.
func (r *Registry) Stat(level Level, group, name, description string, withMin bool, tags ...Tag) *Stat {
	return r.stat(level, group, name, description, withMin, 1, tags)
}

// Latency is a Stat of durations, recorded in nanoseconds (Since) and
// shown in milliseconds, as Kafka's latency metrics.
func (r *Registry) Latency(level Level, group, name, description string, withMin bool, tags ...Tag) *Stat {
	return r.stat(level, group, name, description+", in milliseconds", withMin, 1e-6, tags)
}

func (r *Registry) stat(level Level, group, name, description string, withMin bool, scale float64, tags []Tag) *Stat {
	if !r.Records(level) {
		return nil
	}
	avg := Name{Name: name + "-avg", Group: group, Tags: tags}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := avg.key()
	if s, ok := r.mu.stats[k]; ok {
		return s
	}
	s := &Stat{description: description, level: level, withMin: withMin, scale: scale}
	s.names = [3]Name{avg, {Name: name + "-min", Group: group, Tags: tags}, {Name: name + "-max", Group: group, Tags: tags}}
	s.cur.min.Store(math.MaxInt64)
	s.cur.max.Store(math.MinInt64)
	for i := range s.window {
		s.window[i].min, s.window[i].max = math.MaxInt64, math.MinInt64
	}
	r.mu.stats[k] = s
	return s
}

type gauge struct {
	name        Name
	description string
	level       Level
	fn          func() float64
}

// Gauge registers fn as the value of group/name with tags, replacing an
// earlier one of that name; it does nothing if the registry does not
// record level. fn runs when a snapshot is taken, on the snapshot's
// goroutine, without the registry's lock.
func (r *Registry) Gauge(level Level, group, name, description string, fn func() float64, tags ...Tag) {
	if !r.Records(level) {
		return
	}
	n := Name{Name: name, Group: group, Tags: tags}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.gauges[n.key()] = &gauge{name: n, description: description, level: level, fn: fn}
}

// Remove drops every sensor and gauge that has all of tags, as when a
// task closes or a thread ends.
func (r *Registry) Remove(tags ...Tag) {
	if r == nil || len(tags) == 0 {
		return
	}
	has := func(n Name) bool {
		for _, t := range tags {
			if n.Tag(t.Key) != t.Value {
				return false
			}
		}
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.mu.counters {
		if has(c.name) {
			delete(r.mu.counters, k)
		}
	}
	for k, s := range r.mu.stats {
		if has(s.names[0]) {
			delete(r.mu.stats, k)
		}
	}
	for k, g := range r.mu.gauges {
		if has(g.name) {
			delete(r.mu.gauges, k)
		}
	}
}

// Run closes a sample every second until ctx ends.
func (r *Registry) Run(ctx context.Context) {
	if r == nil {
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.closeSample()
		}
	}
}

// closeSample ends the current sample: each counter's total and each
// stat's values go into the history.
func (r *Registry) closeSample() {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.mu.head
	for _, c := range r.mu.counters {
		c.totals[h] = c.total.Load()
	}
	slot := h % slots
	for _, s := range r.mu.stats {
		w := &s.window[slot]
		w.count, w.sum = s.cur.count.Swap(0), s.cur.sum.Swap(0)
		w.min, w.max = s.cur.min.Swap(math.MaxInt64), s.cur.max.Swap(math.MinInt64)
	}
	r.mu.times[h] = r.now()
	r.mu.head = (h + 1) % points
	r.mu.samples = min(r.mu.samples+1, points)
}

// at returns the index of the sample closed back samples ago (1 = the
// last), and whether there is one.
func (r *Registry) at(back int) (int, bool) {
	if back > r.mu.samples {
		return 0, false
	}
	return ((r.mu.head-back)%points + points) % points, true
}

// Snapshot returns every metric's value now, sorted by group, name and
// tags.
func (r *Registry) Snapshot() []Value {
	if r == nil {
		return nil
	}
	now := r.now()
	var out []Value
	var gauges []*gauge
	r.mu.Lock()
	// The rate's base is the total a Window ago; in the first Window, zero
	// at the registry's start.
	baseTime, haveBase := r.start, false
	baseIdx, ok := r.at(slots)
	if ok {
		baseTime, haveBase = r.mu.times[baseIdx], true
	}
	span := now.Sub(baseTime).Seconds()
	for _, c := range r.mu.counters {
		total := c.total.Load()
		base := int64(0)
		if haveBase {
			base = c.totals[baseIdx]
		}
		rate := 0.0
		if span > 0 {
			rate = float64(total-base) / span
		}
		out = append(out,
			Value{Name: c.name, Description: c.description, Level: c.level, Kind: Total, Value: float64(total)},
			Value{Name: c.rate, Description: "the rate of " + c.description + ", per second", Level: c.level, Kind: Gauge, Value: rate})
	}
	for _, s := range r.mu.stats {
		count, sum := s.cur.count.Load(), s.cur.sum.Load()
		lo, hi := s.cur.min.Load(), s.cur.max.Load()
		for back := 1; back < slots; back++ {
			i, ok := r.at(back)
			if !ok {
				break
			}
			w := s.window[i%slots]
			count, sum = count+w.count, sum+w.sum
			lo, hi = min(lo, w.min), max(hi, w.max)
		}
		avg, mn, mx := math.NaN(), math.NaN(), math.NaN()
		if count > 0 {
			avg, mn, mx = s.scale*float64(sum)/float64(count), s.scale*float64(lo), s.scale*float64(hi)
		}
		out = append(out,
			Value{Name: s.names[0], Description: "the average of " + s.description, Level: s.level, Value: avg},
			Value{Name: s.names[2], Description: "the maximum of " + s.description, Level: s.level, Value: mx})
		if s.withMin {
			out = append(out, Value{Name: s.names[1], Description: "the minimum of " + s.description, Level: s.level, Value: mn})
		}
	}
	for _, g := range r.mu.gauges {
		gauges = append(gauges, g)
	}
	r.mu.Unlock()
	for _, g := range gauges {
		out = append(out, Value{Name: g.name, Description: g.description, Level: g.level, Value: g.fn()})
	}
	slices.SortFunc(out, func(a, b Value) int { return strings.Compare(a.Name.key(), b.Name.key()) })
	return out
}

// Point is a counter's total at a time.
type Point struct {
	Time  time.Time
	Total int64
}

// History returns the totals of the counter named name (group, name-total
// and tags, in any order) at the close of each of the last History's
// samples, oldest first; nil if there is no such counter.
func (r *Registry) History(n Name) []Point {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var c *Counter
	for _, x := range r.mu.counters {
		if x.name.Name == n.Name && x.name.Group == n.Group && sameTags(x.name.Tags, n.Tags) {
			c = x
			break
		}
	}
	if c == nil {
		return nil
	}
	out := make([]Point, 0, r.mu.samples)
	for back := r.mu.samples; back >= 1; back-- {
		i, _ := r.at(back)
		out = append(out, Point{Time: r.mu.times[i], Total: c.totals[i]})
	}
	return out
}

// sameTags reports whether a and b hold the same tags, in any order.
func sameTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}
