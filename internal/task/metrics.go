package task

import (
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/state"
)

// Kafka Streams' metric groups and tags (its docs' "Built-in metrics").
const (
	GroupTask = "stream-task-metrics"
	GroupNode = "stream-processor-node-metrics"
	TagThread = "thread-id"
	TagTask   = "task-id"
	TagNode   = "processor-node-id"
)

// taskSensors are a task's sensors in the app's registry; each is nil when
// the registry does not record it.
type taskSensors struct {
	// processed is the task's process-total (debug), dropped its
	// dropped-records-total (info).
	processed, dropped *metrics.Counter
	// byNode are the nodes' end-to-end latencies and dropped records,
	// made on first use.
	byNode map[string]*nodeSensors
	// lastSink caches the last sink's latency, as a task usually writes
	// to one sink after another.
	lastSink     string
	lastSinkStat *metrics.Local
	// e2es are the nodes' latencies, gathered without atomic operations
	// and handed to the registry after each round of processing
	// (flush).
	e2es []*metrics.Local
}

type nodeSensors struct {
	e2e     *metrics.Local
	dropped *metrics.Counter
}

func (t *Task) tags(more ...metrics.Tag) []metrics.Tag {
	return append([]metrics.Tag{{Key: TagThread, Value: t.cfg.ThreadID}, {Key: TagTask, Value: t.cfg.ID.String()}}, more...)
}

func (t *Task) initSensors() {
	r := t.cfg.Metrics
	if r == nil {
		return
	}
	t.sensors.processed = r.Counter(metrics.Debug, GroupTask, "process", "records the task processed", t.tags()...)
	t.sensors.dropped = r.Counter(metrics.Info, GroupTask, "dropped-records", "records the task dropped (late, unreadable, skipped)", t.tags()...)
	t.sensors.byNode = map[string]*nodeSensors{}
}

func (s *taskSensors) node(t *Task, name string) *nodeSensors {
	n := s.byNode[name]
	if n == nil {
		n = &nodeSensors{}
		s.byNode[name] = n
	}
	return n
}

// e2e is a source or sink node's record-e2e-latency: how old a record is
// (system time less its timestamp) when it reaches the node.
func (s *taskSensors) e2e(t *Task, node string) *metrics.Local {
	if t.cfg.Metrics == nil {
		return nil
	}
	n := s.node(t, node)
	if n.e2e == nil {
		n.e2e = metrics.NewLocal(t.cfg.Metrics.Latency(metrics.Info, GroupNode, "record-e2e-latency",
			"the time from a record's timestamp until the node saw it", true, t.tags(metrics.Tag{Key: TagNode, Value: node})...))
		if n.e2e != nil {
			s.e2es = append(s.e2es, n.e2e)
		}
	}
	return n.e2e
}

// flush hands the latencies gathered since the last flush to the
// registry.
func (s *taskSensors) flush() {
	for _, l := range s.e2es {
		l.Flush()
	}
}

func (s *taskSensors) sinkE2E(t *Task, sink string) *metrics.Local {
	if sink != s.lastSink || s.lastSinkStat == nil {
		s.lastSink, s.lastSinkStat = sink, s.e2e(t, sink)
	}
	return s.lastSinkStat
}

func (s *taskSensors) nodeDropped(t *Task, node string) *metrics.Counter {
	n := s.node(t, node)
	if n.dropped == nil {
		n.dropped = t.cfg.Metrics.Counter(metrics.Info, GroupNode, "dropped-records",
			"records the node dropped (a windowed aggregation's late records)", t.tags(metrics.Tag{Key: TagNode, Value: node})...)
	}
	return n.dropped
}

// RemoveSensors drops the task's sensors from the registry, when it
// closes.
func (t *Task) RemoveSensors() {
	t.cfg.Metrics.Remove(t.tags()...)
}

// meter gives a store its sensors when the registry records debug
// metrics.
func (t *Task) meter(name string, st state.Store) {
	m, ok := st.(stateproto.Metered)
	if !ok || !t.cfg.Metrics.Records(metrics.Debug) {
		return
	}
	kind := "in-memory"
	if st.Persistent() {
		kind = "rocksdb"
	}
	m.SetSensors(metrics.NewStoreSensors(t.cfg.Metrics, name, kind, m.Caching(), t.tags()))
}
