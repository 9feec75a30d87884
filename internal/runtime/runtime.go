package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/topology"
)

// ErrApplicationShutdown is wrapped by the error of an instance that
// stopped because an instance of the app asked every instance to
// (ShutdownApplication).
var ErrApplicationShutdown = errors.New("streams: an instance of the application asked every instance to shut down")

// Runtime runs a topology for one instance of an app, as Kafka Streams'
// KafkaStreams client: it checks and creates the app's topics, runs
// Config.NumStreamThreads stream threads, keeps the app's state, and
// decides what happens when a thread fails (Hooks.OnUncaughtError).
type Runtime struct {
	cfg      Config
	prog     *graph.Program
	log      *slog.Logger
	balancer *taskBalancer
	metrics  *Metrics
	// appDir is <StateDir>/<ApplicationID>.
	appDir string
	// subOf maps a source topic (cluster name) to its sub-topology;
	// patterns are the sub-topologies with pattern sources.
	subOf    map[string]int
	patterns []subSources
	// resets are the sources that set their own OffsetReset.
	resets []sourceReset

	// Set by Run before any thread starts.
	admin     Admin
	processID string

	partitionCounts sync.Map // topic -> int, for sinks with a partitioner
	// subParts is the task count of each sub-topology, once Run planned
	// the topics.
	subParts atomic.Pointer[[]int32]
	// shutdownSeen is closed when an assignment says the application is
	// shutting down.
	shutdownSeen     chan struct{}
	shutdownSeenOnce sync.Once
	// stateMu orders the app's state changes and their hook calls; it
	// comes before mu.
	stateMu sync.Mutex

	// global is the global thread, set by Run before any stream thread
	// starts (nil without global stores); globalFailed carries its
	// failure to the supervisor.
	global       *GlobalStreamThread
	globalFailed <-chan error

	mu struct {
		sync.Mutex
		state   State
		threads map[int]*StreamThread
	}
}

type sourceReset struct {
	topics  []string
	pattern *regexp.Regexp
	reset   topology.OffsetReset
}

// New returns the runtime of prog; cfg is complete and valid.
func New(cfg Config, prog *graph.Program) *Runtime {
	rt := &Runtime{cfg: cfg, prog: prog, log: cfg.Logger, metrics: &Metrics{}, subOf: map[string]int{},
		appDir: filepath.Join(cfg.StateDir, cfg.ApplicationID), shutdownSeen: make(chan struct{})}
	rt.mu.threads = map[int]*StreamThread{}
	rt.balancer = &taskBalancer{server: cfg.ApplicationServer, onShutdown: rt.sawShutdown, log: cfg.Logger,
		changelogs: map[int][]string{},
		ha:         haConfig{standbys: cfg.NumStandbyReplicas, maxWarmups: cfg.MaxWarmupReplicas, acceptableLag: cfg.AcceptableRecoveryLag}}
	rt.balancer.endOffsets = func(ctx context.Context, topics []string) (map[TopicPartition]int64, error) {
		if rt.admin == nil {
			return nil, errors.New("no admin client yet")
		}
		ends, _, err := rt.admin.EndOffsets(ctx, cfg.Guarantee == eos.ExactlyOnce, topics...)
		return ends, err
	}
	rt.clientMetrics()
	for _, st := range prog.Subtopologies {
		s := subSources{id: st.ID, patterns: st.Patterns}
		for _, topic := range st.SourceTopics {
			name := prog.TopicName(cfg.ApplicationID, topic)
			s.topics = append(s.topics, name)
			rt.subOf[name] = st.ID
		}
		rt.balancer.subs = append(rt.balancer.subs, s)
		for _, name := range st.Stores {
			// A standby follows the changelogs it writes, not a source
			// topic a table restores from (see ChangelogReader.RegisterStandby).
			if def := prog.Stores[name]; def.SourceTopic == "" && def.Builder.LoggingEnabled() {
				rt.balancer.changelogs[st.ID] = append(rt.balancer.changelogs[st.ID], graph.ChangelogTopic(cfg.ApplicationID, name))
			}
		}
		if len(st.Patterns) > 0 {
			rt.patterns = append(rt.patterns, s)
		}
		for _, n := range st.Nodes {
			if n.Kind == graph.SourceKind && n.OffsetReset != "" {
				r := sourceReset{pattern: n.Pattern, reset: topology.OffsetReset(n.OffsetReset)}
				for _, t := range n.Topics {
					r.topics = append(r.topics, prog.TopicName(cfg.ApplicationID, t))
				}
				rt.resets = append(rt.resets, r)
			}
		}
	}
	return rt
}

// Metrics returns the app's counters.
func (rt *Runtime) Metrics() *Metrics { return rt.metrics }

// State returns the app's state.
func (rt *Runtime) State() State {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.mu.state
}

// setState moves the app to s if Kafka Streams allows it, and tells the
// hook; it reports whether it moved.
func (rt *Runtime) setState(s State) bool {
	rt.stateMu.Lock()
	defer rt.stateMu.Unlock()
	return rt.setStateLocked(s)
}

// setStateLocked is setState for a caller that holds stateMu, which keeps
// the hook hearing the changes in the order they were made.
func (rt *Runtime) setStateLocked(s State) bool {
	rt.mu.Lock()
	old := rt.mu.state
	if old == s || !validTransition(stateTransitions, old, s) {
		rt.mu.Unlock()
		return false
	}
	rt.mu.state = s
	rt.mu.Unlock()
	rt.log.Info("app state", "from", old.String(), "to", s.String())
	rt.cfg.Hooks.OnStateChange(old, s)
	return true
}

// threadStateChanged moves the app between Rebalancing and Running as its
// threads move: Running once every live thread is. A thread on its way out
// (PendingShutdown, Dead) takes part in no rebalance: it neither keeps the
// app Rebalancing nor makes it so, as in Kafka Streams; why the app stops
// is the supervisor's to say (PendingShutdown or PendingError), and a
// replacement thread makes the app Rebalancing itself when it starts.
func (rt *Runtime) threadStateChanged() {
	rt.stateMu.Lock()
	defer rt.stateMu.Unlock()
	rt.mu.Lock()
	state := rt.mu.state
	live, running := 0, 0
	for _, th := range rt.mu.threads {
		switch th.State() {
		case ThreadPendingShutdown, ThreadDead:
		case ThreadRunning:
			live++
			running++
		default:
			live++
		}
	}
	rt.mu.Unlock()
	switch {
	case state == Rebalancing && live > 0 && running == live:
		rt.setStateLocked(Running)
	case state == Running && running < live:
		rt.setStateLocked(Rebalancing)
	}
}

// ThreadStates returns the state of each live thread, by index.
func (rt *Runtime) ThreadStates() map[int]ThreadState {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[int]ThreadState{}
	for i, th := range rt.mu.threads {
		out[i] = th.State()
	}
	return out
}

// Run runs the app until ctx is cancelled, or a failure stops this
// instance, and returns that failure. The caller runs it once.
func (rt *Runtime) Run(ctx context.Context) error {
	rt.setState(Rebalancing)
	// The registry closes a sample of its rates every second while the app
	// runs.
	sampling, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		rt.cfg.Metrics.Run(sampling)
	}()
	defer func() {
		stopSampling()
		<-sampled
	}()
	err := rt.run(ctx)
	if err != nil {
		rt.setState(PendingError)
		rt.setState(Error)
		return err
	}
	rt.setState(PendingShutdown)
	rt.setState(NotRunning)
	return nil
}

func (rt *Runtime) run(ctx context.Context) error {
	if err := os.MkdirAll(rt.appDir, 0o755); err != nil {
		return fmt.Errorf("streams: state directory %s: %w", rt.appDir, err)
	}
	lock, err := lockDir(rt.appDir)
	if err != nil {
		return fmt.Errorf("streams: %w; give each instance its own Config.StateDir", err)
	}
	defer lock.unlock()

	// The admin client asks about topics it has just created; with the
	// default minimum metadata age (5s) each of those answers would wait
	// out the age of the previous refresh.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(rt.cfg.Brokers...), kgo.MetadataMinAge(100 * time.Millisecond)}, rt.cfg.ClientOptions...)...)
	if err != nil {
		return fmt.Errorf("streams: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	rt.admin = kadmAdmin{adm}
	plan, err := planTopics(ctx, adm, rt.prog, rt.cfg.ApplicationID)
	if err == nil {
		err = ensureInternalTopics(ctx, adm, plan)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop, as at any other time
		}
		return err
	}
	for t, n := range plan.partitions {
		rt.partitionCounts.Store(t, int(n))
	}
	rt.subParts.Store(&plan.subPartitions)
	// The process id names the instance in the group's assignment (its
	// standbys go elsewhere) and, under exactly-once, its producers.
	if rt.processID, err = processID(rt.appDir); err != nil {
		return err
	}
	rt.balancer.process = rt.processID
	// The global stores are restored before any task runs, and closed
	// after the stream threads, which read them, stopped.
	stopGlobal, globalFailed, err := rt.runGlobal(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer stopGlobal()
	rt.globalFailed = globalFailed
	return rt.supervise(ctx)
}

// SubPartitions returns the task count of a sub-topology, 0 before Run
// planned the topics.
func (rt *Runtime) SubPartitions(sub int) int {
	p := rt.subParts.Load()
	if p == nil || sub >= len(*p) {
		return 0
	}
	return int((*p)[sub])
}

// Owner returns the server that runs task (sub, p), as of the last
// rebalance.
func (rt *Runtime) Owner(sub int, p int32) (string, bool) { return rt.balancer.owner(sub, p) }

// Replicas returns the servers that hold standby replicas of task (sub,
// p), as of the last rebalance.
func (rt *Runtime) Replicas(sub int, p int32) []string { return rt.balancer.replicas(sub, p) }

// Hosts returns each server's active and standby tasks, as of the last
// rebalance.
func (rt *Runtime) Hosts() (active, standby map[string][]processor.TaskID) {
	a, s := rt.balancer.hosts()
	conv := func(m map[string][]taskKey) map[string][]processor.TaskID {
		out := make(map[string][]processor.TaskID, len(m))
		for server, ks := range m {
			for _, k := range ks {
				out[server] = append(out[server], processor.TaskID{Subtopology: k.sub, Partition: k.partition})
			}
		}
		return out
	}
	return conv(a), conv(s)
}

// TaskPosition is where one of this instance's tasks is in its stores'
// changelogs.
type TaskPosition struct {
	Task processor.TaskID
	// Running is an active task that processes: its stores are the
	// changelogs' source. Standby is a standby task; neither, an active
	// task being restored.
	Running, Standby bool
	// Changelogs maps each logged store to its changelog topic;
	// Positions, the offset the reader reads next in each changelog
	// partition it follows (restoring and standby tasks).
	Changelogs map[string]string
	Positions  map[TopicPartition]int64
}

// LocalPositions returns where every task of this instance is.
func (rt *Runtime) LocalPositions() []TaskPosition {
	rt.mu.Lock()
	threads := slices.Collect(maps.Values(rt.mu.threads))
	rt.mu.Unlock()
	var out []TaskPosition
	for _, th := range threads {
		out = append(out, th.tm.positions()...)
	}
	slices.SortFunc(out, func(a, b TaskPosition) int { return CompareTaskIDs(a.Task, b.Task) })
	return out
}

// EndOffsets returns the end offsets of topics' partitions (the last
// stable offsets under exactly-once).
func (rt *Runtime) EndOffsets(ctx context.Context, topics ...string) (map[TopicPartition]int64, error) {
	if rt.admin == nil {
		return nil, errors.New("streams: the app has not started")
	}
	ends, _, err := rt.admin.EndOffsets(ctx, rt.cfg.Guarantee == eos.ExactlyOnce, topics...)
	return ends, err
}

// numPartitions returns the partition count of topic, asking the cluster
// the first time.
func (rt *Runtime) numPartitions(topic string) (int, error) {
	if n, ok := rt.partitionCounts.Load(topic); ok {
		return n.(int), nil
	}
	n, err := rt.admin.NumPartitions(context.Background(), topic)
	if err != nil {
		return 0, fmt.Errorf("streams: partitions of topic %q: %w", topic, err)
	}
	rt.partitionCounts.Store(topic, n)
	return n, nil
}

// subtopologyOf returns the sub-topology that reads topic.
func (rt *Runtime) subtopologyOf(topic string) (int, bool) {
	if id, ok := rt.subOf[topic]; ok {
		return id, true
	}
	for _, s := range rt.patterns {
		for _, p := range s.patterns {
			if fullMatch(p, topic) {
				return s.id, true
			}
		}
	}
	return 0, false
}

// consumeTopics are the arguments of kgo.ConsumeTopics for the app's
// sources: with any pattern source, every topic as an anchored regex.
func (rt *Runtime) consumeTopics() (topics []string, regex bool) {
	for _, s := range rt.balancer.subs {
		topics = append(topics, s.topics...)
	}
	if len(rt.patterns) == 0 {
		return topics, false
	}
	for i, t := range topics {
		topics[i] = "^" + regexp.QuoteMeta(t) + "$"
	}
	for _, s := range rt.patterns {
		for _, p := range s.patterns {
			topics = append(topics, "^(?:"+p.String()+")$")
		}
	}
	return topics, true
}

func resetOffset(r topology.OffsetReset) kgo.Offset {
	if r == topology.Latest {
		return kgo.NewOffset().AtEnd()
	}
	return kgo.NewOffset().AtStart()
}

// sourceResets is the group's AdjustFetchOffsetsFn: a partition with no
// committed offset starts where its source's OffsetReset says. franz-go
// gives such a partition the client's reset offset (Config.OffsetReset),
// which is never a real offset (negative); a committed one is kept.
// franz-go's own reset after an out-of-range offset uses the app's
// default.
func (rt *Runtime) sourceResets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if len(rt.resets) == 0 {
		return offsets, nil
	}
	for topic, ps := range offsets {
		reset, ok := rt.resetOf(topic)
		if !ok {
			continue
		}
		for p, o := range ps {
			if o.EpochOffset().Offset < 0 {
				ps[p] = resetOffset(reset)
			}
		}
	}
	return offsets, nil
}

func (rt *Runtime) resetOf(topic string) (topology.OffsetReset, bool) {
	for _, r := range rt.resets {
		for _, t := range r.topics {
			if t == topic {
				return r.reset, true
			}
		}
		if r.pattern != nil && fullMatch(r.pattern, topic) {
			return r.reset, true
		}
	}
	return "", false
}

// clientMetrics registers the instance's own metrics (Kafka Streams'
// client level).
func (rt *Runtime) clientMetrics() {
	reg, tag := rt.cfg.Metrics, metrics.Tag{Key: "client-id", Value: rt.cfg.ApplicationID}
	reg.Gauge(metrics.Info, groupClient, "alive-stream-threads", "the stream threads running", func() float64 {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return float64(len(rt.mu.threads))
	}, tag)
	reg.Gauge(metrics.Info, groupClient, "failed-stream-threads", "the stream threads that failed since the instance started", func() float64 {
		return float64(rt.metrics.FailedThreads.Load())
	}, tag)
}
