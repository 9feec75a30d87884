// Package window holds event-time windowed aggregations for Processor API
// topologies: the window specs TimeWindows (tumbling and hopping),
// SlidingWindows and SessionWindows, each with a grace period; the
// aggregations AddTimeAggregation, AddSlidingAggregation and
// AddSessionAggregation (count, reduce, or aggregate from an initial
// value), each over a window or session store it adds; and the serdes of
// windowed keys.
//
// Time windows are aligned to the epoch and half-open, [Start, End): a
// record whose timestamp is exactly a window's end belongs to the next
// window. A window closes when the stream time the aggregation has seen
// reaches its end plus the grace period; a record for a closed window is
// late. Sliding windows and sessions have inclusive bounds: a sliding
// window closes once stream time is past its end plus the grace period, a
// session once stream time is past its end plus the gap and the grace
// period (so a record exactly the gap after a session joins it). A record late for every window it would change is dropped,
// logged (processor.Context.Logger) and counted (the app's
// Metrics.DroppedRecords, and the dropped-records metric of the aggregation's node,
// testdriver's DroppedRecordsOf).
//
// An aggregation forwards every change of a window (EmitOnUpdate), or each
// window's final result once, when it closes (EmitOnWindowClose; also once
// across restarts). Stream time moves only with records, so while the input
// is idle windows stay open; WallClockClose closes them by the wall clock
// too.
//
// Windowed keys are state.Windowed[K]: the key and the window bounds.
package window
