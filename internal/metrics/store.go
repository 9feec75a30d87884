package metrics

import "time"

// Kafka Streams' state store and record cache metric groups.
const (
	GroupStore = "stream-state-metrics"
	GroupCache = "stream-record-cache-metrics"
)

// Op is the rate and latency of one kind of store operation.
type Op struct {
	rate *Counter
	lat  *Stat
}

// Start returns the time an operation starts, or the zero time when the
// operation is not recorded.
func (o Op) Start() time.Time {
	if o.lat == nil {
		return time.Time{}
	}
	return time.Now()
}

// Done records an operation that started at start (Start).
func (o Op) Done(start time.Time) {
	if o.lat != nil {
		o.rate.Inc()
		o.lat.Since(start)
	}
}

// On reports whether the operation is recorded.
func (o Op) On() bool { return o.lat != nil }

// StoreSensors are one store's sensors (debug level).
type StoreSensors struct {
	Put, Get, Delete, Range, Flush Op
	// Restore is the rate and latency of the batches restored into the
	// store from its changelog; RestoredRecords counts their records.
	Restore         Op
	RestoredRecords *Counter
	// HitRatio records 1 for each read its cache answered and 0 for each
	// it did not: hit-ratio-avg is the share of hits.
	HitRatio *Stat
}

// NewStoreSensors returns the sensors of the store named store, of a task
// (tags: the thread and the task), or nil when the registry does not
// record debug metrics. kind is its type in the tag's name,
// "<kind>-state-id": "in-memory" or "rocksdb". cached says the store has
// a record cache, whose hit ratio is recorded too.
func NewStoreSensors(r *Registry, store, kind string, cached bool, tags []Tag) *StoreSensors {
	if !r.Records(Debug) {
		return nil
	}
	st := append(append([]Tag{}, tags...), Tag{Key: kind + "-state-id", Value: store})
	op := func(name, what string) Op {
		return Op{
			rate: r.Counter(Debug, GroupStore, name, what+" of the store", st...),
			lat:  r.Latency(Debug, GroupStore, name+"-latency", "the time of "+what, false, st...),
		}
	}
	s := &StoreSensors{
		Put: op("put", "puts"), Get: op("get", "gets"), Delete: op("delete", "deletes"),
		Range: op("range", "range and prefix scans"), Flush: op("flush", "flushes"),
		Restore:         op("restore", "batches restored from the changelog"),
		RestoredRecords: r.Counter(Debug, GroupStore, "restore-records", "records restored into the store from its changelog", st...),
	}
	if cached {
		ct := append(append([]Tag{}, tags...), Tag{Key: "record-cache-id", Value: store})
		s.HitRatio = r.Stat(Debug, GroupCache, "hit-ratio", "the reads the store's cache answered (1 a hit, 0 a miss)", true, ct...)
	}
	return s
}
