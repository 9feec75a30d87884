// Package window holds the window specs of event-time aggregations:
// TimeWindows (tumbling and hopping), SlidingWindows and SessionWindows,
// each with a grace period, and the serdes of windowed keys.
//
// Time windows are aligned to the epoch and half-open, [Start, End): a
// record whose timestamp is exactly a window's end belongs to the next
// window. A window closes when the stream time the aggregation has seen
// reaches its end plus the grace period; a record for a closed window is
// late. Sliding windows and sessions have inclusive bounds: a sliding
// window closes once stream time is past its end plus the grace period, a
// session when stream time reaches its end plus the gap and the grace
// period.
//
// Windowed keys are state.Windowed[K]: the key and the window bounds.
package window
