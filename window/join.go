package window

import (
	"errors"
	"fmt"
	"time"
)

// JoinWindows are the windows of a stream-stream join, as Kafka Streams'
// JoinWindows since 3.0 (KIP-633): a record of the left stream at time t
// joins every record of the right stream with the same key whose time lies
// in [t - Before, t + After], both bounds inclusive; seen from the right
// stream, a record at t joins the left records in [t - After, t + Before].
// Grace is how long after a window's end records are still accepted: a
// left or outer join emits a record that found no partner once stream time
// is past t + After + Grace (t + Before + Grace for a right record).
//
// Make them with JoinTimeDifferenceWithNoGrace or
// JoinTimeDifferenceAndGrace, and shape them with WithBefore, WithAfter and
// WithGrace. Before or After may be negative, which moves the window off
// the record's time (WithBefore(-5ms) with After 10ms joins [t+5ms, t+10ms]),
// as long as the window is not empty: Before + After >= 0.
type JoinWindows struct {
	// Before is how far before a left record's time the window reaches.
	Before time.Duration
	// After is how far after a left record's time the window reaches.
	After time.Duration
	// Grace is how long after a window's end records for it are still
	// accepted. Default 0.
	Grace time.Duration
}

// JoinTimeDifferenceWithNoGrace returns the windows in which two records
// join when their times differ by at most d, with no grace period: Kafka
// Streams' JoinWindows.ofTimeDifferenceWithNoGrace.
func JoinTimeDifferenceWithNoGrace(d time.Duration) JoinWindows {
	return JoinWindows{Before: d, After: d}
}

// JoinTimeDifferenceAndGrace is JoinTimeDifferenceWithNoGrace with grace
// period grace: Kafka Streams' JoinWindows.ofTimeDifferenceAndGrace.
func JoinTimeDifferenceAndGrace(d, grace time.Duration) JoinWindows {
	return JoinWindows{Before: d, After: d, Grace: grace}
}

// WithBefore returns w reaching d before a left record's time (Kafka
// Streams' JoinWindows.before).
func (w JoinWindows) WithBefore(d time.Duration) JoinWindows {
	w.Before = d
	return w
}

// WithAfter returns w reaching d after a left record's time (Kafka
// Streams' JoinWindows.after).
func (w JoinWindows) WithAfter(d time.Duration) JoinWindows {
	w.After = d
	return w
}

// WithGrace returns w with grace period g.
func (w JoinWindows) WithGrace(g time.Duration) JoinWindows {
	w.Grace = g
	return w
}

// Size is the length of a window, Before + After: Kafka Streams' size(),
// the window size of the join's stores.
func (w JoinWindows) Size() time.Duration { return w.Before + w.After }

// Retention is how long the join's stores keep a record: the window size
// plus the grace period, as in Kafka Streams.
func (w JoinWindows) Retention() time.Duration { return w.Size() + w.Grace }

// Validate reports what is wrong with w, naming the field.
func (w JoinWindows) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Before", w.Before}, {"After", w.After}, {"Grace", w.Grace}} {
		if f.d%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("window: JoinWindows.%s is %v; it must be whole milliseconds, as Kafka timestamps are", f.name, f.d))
		}
	}
	if w.Before+w.After < 0 {
		errs = append(errs, fmt.Errorf("window: JoinWindows.Before (%v) + After (%v) is negative, so no record can join: a negative time difference, or a window moved past its other bound; make Before + After at least 0",
			w.Before, w.After))
	}
	if w.Grace < 0 {
		errs = append(errs, fmt.Errorf("window: JoinWindows.Grace is %v; use 0 for none", w.Grace))
	}
	return errors.Join(errs...)
}
