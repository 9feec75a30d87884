package window

import (
	"errors"
	"fmt"
	"time"
)

// Bounds is a window: [Start, End) for time windows.
type Bounds struct {
	Start, End time.Time
}

// TimeWindows are fixed-size windows aligned to the epoch: tumbling when
// Advance equals Size, hopping (overlapping) when Advance is smaller. Make
// them with Tumbling or Hopping.
type TimeWindows struct {
	// Size is each window's length.
	Size time.Duration
	// Advance is the distance between the starts of consecutive windows.
	Advance time.Duration
	// Grace is how long after a window's end records for it are still
	// accepted: the window closes when stream time reaches End + Grace.
	// Default 0.
	Grace time.Duration
}

// Tumbling returns non-overlapping windows of size: [0, size), [size,
// 2·size), ...
func Tumbling(size time.Duration) TimeWindows { return TimeWindows{Size: size, Advance: size} }

// Hopping returns windows of size starting every advance, so a record falls
// into size/advance windows (rounded up).
func Hopping(size, advance time.Duration) TimeWindows {
	return TimeWindows{Size: size, Advance: advance}
}

// WithGrace returns w with grace period g.
func (w TimeWindows) WithGrace(g time.Duration) TimeWindows {
	w.Grace = g
	return w
}

// Validate reports what is wrong with w, naming the field.
func (w TimeWindows) Validate() error {
	var errs []error
	if w.Size < time.Millisecond {
		errs = append(errs, fmt.Errorf("window: Size is %v; a window must be at least 1ms long", w.Size))
	}
	if w.Advance < time.Millisecond || w.Advance > w.Size {
		errs = append(errs, fmt.Errorf("window: Advance is %v; it must be at least 1ms and at most Size (%v)", w.Advance, w.Size))
	}
	if w.Size%time.Millisecond != 0 || w.Advance%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("window: Size %v and Advance %v must be whole milliseconds, as Kafka timestamps are", w.Size, w.Advance))
	}
	if w.Grace < 0 {
		errs = append(errs, fmt.Errorf("window: Grace is %v; use 0 for none", w.Grace))
	}
	return errors.Join(errs...)
}

// WindowsFor returns the windows that contain ts, oldest first: those with
// Start <= ts < End. ts is taken in whole milliseconds.
func (w TimeWindows) WindowsFor(ts time.Time) []Bounds {
	var out []Bounds
	t, size := ts.UnixMilli(), w.Size.Milliseconds()
	for start := w.firstStart(t); start <= t; start += w.Advance.Milliseconds() {
		out = append(out, Bounds{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(start + size).UTC()})
	}
	return out
}

// firstStart returns the start of the oldest window that contains t (Unix
// ms): the first multiple of the advance after t - size. The windows that
// contain t start there and every advance up to t.
func (w TimeWindows) firstStart(t int64) int64 {
	adv := w.Advance.Milliseconds()
	return floorDiv(t-w.Size.Milliseconds(), adv)*adv + adv
}

// Retention is how long a store must keep a window for w: its size plus
// the grace period.
func (w TimeWindows) Retention() time.Duration { return w.Size + w.Grace }

// Closed reports whether window b has closed at stream time now: its end
// plus the grace period is at or before now.
func (w TimeWindows) Closed(b Bounds, now time.Time) bool {
	return !b.End.Add(w.Grace).After(now)
}

// floorDiv is a/b rounded toward negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// SlidingWindows are the windows of a sliding aggregation, as in Kafka
// Streams' SlidingWindows: two records are in a common window when their
// timestamps differ by at most MaxTimeDifference (d). Windows are made by
// records, both bounds inclusive: [t - d, t] ends at each record time t, and
// [t + 1ms, t + 1ms + d] starts just after it when another record follows
// within d + 1ms. A sliding window closes once stream time is past its end
// + grace.
type SlidingWindows struct {
	MaxTimeDifference time.Duration
	Grace             time.Duration
}

// Sliding returns sliding windows of the given maximum time difference.
func Sliding(maxTimeDifference time.Duration) SlidingWindows {
	return SlidingWindows{MaxTimeDifference: maxTimeDifference}
}

// WithGrace returns w with grace period g.
func (w SlidingWindows) WithGrace(g time.Duration) SlidingWindows {
	w.Grace = g
	return w
}

// Validate reports what is wrong with w, naming the field.
func (w SlidingWindows) Validate() error {
	return validate("MaxTimeDifference", w.MaxTimeDifference, w.Grace)
}

// validate reports what is wrong with the duration d of the field named
// field and with grace.
func validate(field string, d, grace time.Duration) error {
	var errs []error
	if d < time.Millisecond || d%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("window: %s is %v; it must be whole milliseconds, at least 1ms", field, d))
	}
	if grace < 0 {
		errs = append(errs, fmt.Errorf("window: Grace is %v; use 0 for none", grace))
	}
	return errors.Join(errs...)
}

// Contains reports whether t lies in the sliding window that ends at end:
// end - MaxTimeDifference <= t <= end.
func (w SlidingWindows) Contains(end, t time.Time) bool {
	return !t.Before(end.Add(-w.MaxTimeDifference)) && !t.After(end)
}

// SessionWindows group a key's records into sessions: a record within Gap
// of a session (before its start or after its end) joins it, and a record
// that bridges two sessions merges them. A session's bounds are its first
// and last record times, both inclusive.
type SessionWindows struct {
	Gap   time.Duration
	Grace time.Duration
}

// Session returns session windows with the given inactivity gap.
func Session(gap time.Duration) SessionWindows { return SessionWindows{Gap: gap} }

// WithGrace returns w with grace period g.
func (w SessionWindows) WithGrace(g time.Duration) SessionWindows {
	w.Grace = g
	return w
}

// Validate reports what is wrong with w, naming the field.
func (w SessionWindows) Validate() error { return validate("Gap", w.Gap, w.Grace) }

// Closed reports whether a session that ends at end can no longer grow or
// merge at stream time now: end + Gap + Grace is before now, the rule
// AddSessionAggregation applies. At now == end + Gap + Grace a session is
// still open, as in Kafka Streams (KStreamSessionWindowAggregate drops a
// record only when its session's end is before now - gap - grace): a
// record exactly Gap after a session's end still joins it.
func (w SessionWindows) Closed(end, now time.Time) bool {
	return end.UnixMilli() <= w.closedTo(now.UnixMilli())
}

// closedTo returns the latest session end that has closed at stream time
// now, Unix ms: one before now - gap - grace, which is still open.
func (w SessionWindows) closedTo(now int64) int64 {
	return now - w.Gap.Milliseconds() - w.Grace.Milliseconds() - 1
}
