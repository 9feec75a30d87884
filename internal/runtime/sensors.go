package runtime

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
)

// Kafka Streams' metric groups above the task (see task's for the task and
// node groups), and the consumer's lag metric.
const (
	groupClient   = "stream-metrics"
	groupThread   = "stream-thread-metrics"
	groupConsumer = "consumer-fetch-manager-metrics"
)

// threadSensors are a stream thread's sensors, each nil when the registry
// does not record it. Only the thread's loop records them.
type threadSensors struct {
	id                                         string
	process, poll, commit, punctuate           *metrics.Counter
	processLatency, pollLatency, commitLatency *metrics.Stat
	punctuateLatency, pollRecords              *metrics.Stat
	taskCreated, taskClosed                    *metrics.Counter
	reg                                        *metrics.Registry
	lag                                        *partitionLag
	// nextLag is when the loop next refreshes the lag (refreshLag).
	nextLag time.Time
}

// threadID is how the metrics name the thread idx: its client id.
func threadID(appID string, idx int) string { return appID + "-thread-" + strconv.Itoa(idx) }

func newThreadSensors(reg *metrics.Registry, appID string, idx int) *threadSensors {
	id := threadID(appID, idx)
	tag := metrics.Tag{Key: task.TagThread, Value: id}
	s := &threadSensors{id: id, reg: reg, lag: &partitionLag{reg: reg, clientID: id}}
	s.process = reg.Counter(metrics.Info, groupThread, "process", "records the thread processed", tag)
	s.processLatency = reg.Latency(metrics.Info, groupThread, "process-latency", "the time to process a record, averaged over each round of processing", false, tag)
	s.poll = reg.Counter(metrics.Info, groupThread, "poll", "polls of the thread's consumer", tag)
	s.pollLatency = reg.Latency(metrics.Info, groupThread, "poll-latency", "the time a poll took", false, tag)
	s.pollRecords = reg.Stat(metrics.Info, groupThread, "poll-records", "the records a poll returned", false, tag)
	s.commit = reg.Counter(metrics.Info, groupThread, "commit", "commits of the thread's tasks", tag)
	s.commitLatency = reg.Latency(metrics.Info, groupThread, "commit-latency", "the time a commit took", false, tag)
	s.punctuate = reg.Counter(metrics.Info, groupThread, "punctuate", "punctuations the thread's tasks ran", tag)
	s.punctuateLatency = reg.Latency(metrics.Info, groupThread, "punctuate-latency", "the time a punctuation took", false, tag)
	s.taskCreated = reg.Counter(metrics.Info, groupThread, "task-created", "tasks the thread created", tag)
	s.taskClosed = reg.Counter(metrics.Info, groupThread, "task-closed", "tasks the thread closed", tag)
	return s
}

// remove drops the thread's sensors, and its tasks', when it ends.
func (s *threadSensors) remove() {
	s.reg.Remove(metrics.Tag{Key: task.TagThread, Value: s.id})
	s.lag.removeAll()
}

// polled records a poll: its time, its records, and each partition's lag
// behind its end (the last stable offset under read_committed).
func (s *threadSensors) polled(start time.Time, fetches kgo.Fetches, committed bool) {
	s.poll.Inc()
	s.pollLatency.Since(start)
	if s.pollRecords != nil {
		s.pollRecords.Record(int64(fetches.NumRecords()))
	}
	if s.reg == nil {
		return
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			return
		}
		tp := TopicPartition{Topic: p.Topic, Partition: p.Partition}
		if len(p.Records) == 0 {
			// A fetch that found nothing (or only transaction markers,
			// which move the position too) is at the end.
			s.lag.set(tp, 0)
			return
		}
		end := p.HighWatermark
		if committed {
			end = p.LastStableOffset
		}
		s.lag.set(tp, end-(p.Records[len(p.Records)-1].Offset+1))
	})
}

// partitionLag is the records-lag of a thread's partitions, as the Kafka
// consumer reports it: the partition's end less the position after the
// last record fetched.
type partitionLag struct {
	reg      *metrics.Registry
	clientID string
	mu       struct {
		sync.Mutex
		lag map[TopicPartition]int64
	}
}

func (l *partitionLag) set(tp TopicPartition, lag int64) {
	l.mu.Lock()
	_, known := l.mu.lag[tp]
	if l.mu.lag == nil {
		l.mu.lag = map[TopicPartition]int64{}
	}
	l.mu.lag[tp] = max(lag, 0)
	l.mu.Unlock()
	if !known {
		l.reg.Gauge(metrics.Info, groupConsumer, "records-lag", "how many records the partition's end is ahead of the consumer's position",
			func() float64 {
				l.mu.Lock()
				defer l.mu.Unlock()
				return float64(l.mu.lag[tp])
			}, l.tags(tp)...)
	}
}

func (l *partitionLag) tags(tp TopicPartition) []metrics.Tag {
	return []metrics.Tag{{Key: "client-id", Value: l.clientID}, {Key: "topic", Value: tp.Topic}, {Key: "partition", Value: strconv.Itoa(int(tp.Partition))}}
}

// forget drops the lag of partitions the thread no longer reads.
func (l *partitionLag) forget(tps []TopicPartition) {
	for _, tp := range tps {
		l.mu.Lock()
		_, known := l.mu.lag[tp]
		delete(l.mu.lag, tp)
		l.mu.Unlock()
		if known {
			l.reg.Remove(l.tags(tp)...)
		}
	}
}

func (l *partitionLag) removeAll() {
	l.mu.Lock()
	tps := make([]TopicPartition, 0, len(l.mu.lag))
	for tp := range l.mu.lag {
		tps = append(tps, tp)
	}
	l.mu.Unlock()
	l.forget(tps)
}

// ThreadInfo is what a stream thread runs (Runtime.Threads).
type ThreadInfo struct {
	Index int
	// Name is the thread's client id, its thread-id in the metrics.
	Name  string
	State ThreadState
	// Active are its active tasks, Standby its standby tasks, by id.
	Active, Standby []TaskInfo
}

// TaskInfo is one task of a thread.
type TaskInfo struct {
	ID processor.TaskID
	// State is the task's: Created, Restoring, Running, Suspended.
	State string
	// Partitions are the task's input partitions.
	Partitions []TopicPartition
	// Committed is, per input partition that processed a record, the
	// offset after the last one processed.
	Committed map[TopicPartition]int64
}

// Threads describes the instance's live stream threads, by index.
func (rt *Runtime) Threads() []ThreadInfo {
	rt.mu.Lock()
	threads := make([]*StreamThread, 0, len(rt.mu.threads))
	for _, th := range rt.mu.threads {
		threads = append(threads, th)
	}
	rt.mu.Unlock()
	slices.SortFunc(threads, func(a, b *StreamThread) int { return a.idx - b.idx })
	out := make([]ThreadInfo, 0, len(threads))
	for _, th := range threads {
		info := ThreadInfo{Index: th.idx, Name: threadID(rt.cfg.ApplicationID, th.idx), State: th.State()}
		if tm := th.tm; tm != nil {
			tm.mu.Lock()
			for _, tk := range tm.allTasks() {
				ti := TaskInfo{ID: tk.ID(), State: tk.State().String(), Committed: tk.ConsumedOffsets()}
				for topic, ps := range tm.mu.inputs[tk.ID()] {
					for _, p := range ps {
						ti.Partitions = append(ti.Partitions, TopicPartition{Topic: topic, Partition: p})
					}
				}
				slices.SortFunc(ti.Partitions, func(a, b TopicPartition) int {
					return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
				})
				info.Active = append(info.Active, ti)
			}
			for _, tk := range tm.standbyTasks() {
				info.Standby = append(info.Standby, TaskInfo{ID: tk.ID(), State: "Standby"})
			}
			tm.mu.Unlock()
		}
		out = append(out, info)
	}
	return out
}

// lagRefresh is how often a thread asks the cluster for its partitions'
// ends, for the lag of partitions that fetched nothing (a fetch with no
// records never reaches the loop).
const lagRefresh = 5 * time.Second

// refreshLag sets the records-lag of the thread's input partitions from
// their ends and the thread's position on them: the offset after the last
// record processed, or the group's committed offset before the first.
// Under exactly-once the end is the last stable offset, which a
// transaction's commit marker puts one past the last record: an idle
// partition of a transactional topic shows a lag of 1.
func (tm *TaskManager) refreshLag(ctx context.Context, now time.Time) {
	s := tm.sensors
	if s.reg == nil || now.Before(s.nextLag) || tm.rt.admin == nil {
		return
	}
	s.nextLag = now.Add(lagRefresh)
	tm.mu.Lock()
	positions := map[TopicPartition]int64{}
	var topics []string
	for id, in := range tm.mu.inputs {
		tk := tm.mu.tasks[id]
		if tk == nil {
			continue
		}
		consumed := tk.ConsumedOffsets()
		for topic, ps := range in {
			if !slices.Contains(topics, topic) {
				topics = append(topics, topic)
			}
			for _, p := range ps {
				tp := TopicPartition{Topic: topic, Partition: p}
				if off, ok := consumed[tp]; ok {
					positions[tp] = off
				} else {
					positions[tp] = -1
				}
			}
		}
	}
	tm.mu.Unlock()
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ends, _, err := tm.rt.admin.EndOffsets(ctx, tm.rt.cfg.Guarantee == eos.ExactlyOnce, topics...)
	if err != nil {
		return
	}
	committed, err := tm.rt.admin.CommittedOffsets(ctx, tm.rt.cfg.ApplicationID, topics...)
	if err != nil {
		return
	}
	for tp, pos := range positions {
		end, ok := ends[tp]
		if !ok {
			continue
		}
		pos = max(pos, committed[tp])
		s.lag.set(tp, end-pos)
	}
}
