package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/topology"
)

// ErrClosed is returned by Run on an App that was closed.
var ErrClosed = errors.New("streams: app closed")

// ErrRunning is returned by Run on an App that is already running.
var ErrRunning = errors.New("streams: app already running")

// App runs a topology against a Kafka cluster: it joins the consumer group
// ApplicationID with Config.NumStreamThreads members, turns the partitions
// it is assigned into tasks (one per sub-topology and partition), processes
// their records and commits.
type App struct {
	cfg      Config
	prog     *graph.Program
	log      *slog.Logger
	balancer *taskBalancer
	// subOf maps a source topic (cluster name) to its sub-topology.
	subOf    map[string]int
	patterns []subSources
	metrics  metrics
	// processID identifies this instance in its threads' transactional ids
	// (ExactlyOnce); set by Run.
	processID string
	// progressEvery is how often a long restore logs its progress;
	// defaultProgressEvery but for tests.
	progressEvery time.Duration

	mu struct {
		sync.Mutex
		running bool
		closed  bool
		cancel  context.CancelFunc
		done    chan struct{}
	}
	partitionCounts sync.Map // topic -> int, for sinks with a partitioner
	admin           *kadm.Client
	local           localStores
	subs            subscriptions
	// subParts is the task count of each sub-topology, once Run planned
	// the topics.
	subParts atomic.Pointer[[]int32]
}

func (a *App) setSubPartitions(n []int32) { a.subParts.Store(&n) }

func (a *App) subPartitions(sub int) int {
	p := a.subParts.Load()
	if p == nil || sub >= len(*p) {
		return 0
	}
	return int((*p)[sub])
}

// New returns an app that runs t with cfg. It checks cfg and reports every
// field that is wrong; it does not connect to the cluster (Run does).
func New(t *topology.Topology, cfg Config) (*App, error) {
	if t == nil {
		return nil, errors.New("streams: New was given a nil topology")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, prog: graph.ProgramOf(t), log: cfg.Logger.With("app", cfg.ApplicationID), subOf: map[string]int{},
		progressEvery: defaultProgressEvery}
	a.balancer = &taskBalancer{server: cfg.ApplicationServer}
	for _, st := range a.prog.Subtopologies {
		s := subSources{id: st.ID, patterns: st.Patterns}
		for _, topic := range st.SourceTopics {
			name := a.prog.TopicName(cfg.ApplicationID, topic)
			s.topics = append(s.topics, name)
			a.subOf[name] = st.ID
		}
		a.balancer.subs = append(a.balancer.subs, s)
		if len(st.Patterns) > 0 {
			a.patterns = append(a.patterns, s)
		}
	}
	return a, nil
}

// subtopologyOf returns the sub-topology that reads topic.
func (a *App) subtopologyOf(topic string) (int, bool) {
	if id, ok := a.subOf[topic]; ok {
		return id, true
	}
	for _, s := range a.patterns {
		for _, p := range s.patterns {
			if fullMatch(p, topic) {
				return s.id, true
			}
		}
	}
	return 0, false
}

// Run runs the app until ctx is cancelled, then commits what it processed,
// closes its tasks and leaves the group; it returns nil. It returns an
// error, after stopping every thread, when a thread fails: a processing,
// deserialization or production error the handlers did not skip, or a
// failure to reach or use the cluster.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	switch {
	case a.mu.closed:
		a.mu.Unlock()
		return ErrClosed
	case a.mu.running:
		a.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	a.mu.running, a.mu.cancel, a.mu.done = true, cancel, make(chan struct{})
	done := a.mu.done
	a.mu.Unlock()
	defer func() {
		cancel()
		a.mu.Lock()
		a.mu.running = false
		a.mu.Unlock()
		close(done)
	}()

	// The admin client asks about topics it has just created; with the
	// default minimum metadata age (5s) each of those answers would wait
	// out the age of the previous refresh.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(a.cfg.Brokers...), kgo.MetadataMinAge(100 * time.Millisecond)}, a.cfg.ClientOptions...)...)
	if err != nil {
		return fmt.Errorf("streams: admin client: %w", err)
	}
	defer cl.Close()
	a.admin = kadm.NewClient(cl)
	plan, err := planTopics(ctx, a.admin, a.prog, a.cfg.ApplicationID)
	if err == nil {
		err = ensureInternalTopics(ctx, a.admin, plan)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop, as at any other time
		}
		return err
	}
	for t, n := range plan.partitions {
		a.partitionCounts.Store(t, int(n))
	}
	a.setSubPartitions(plan.subPartitions)

	if a.cfg.Guarantee == eos.ExactlyOnce {
		if a.processID, err = processID(a.cfg.StateDir, a.cfg.ApplicationID); err != nil {
			return err
		}
	}
	threads := make([]*thread, a.cfg.NumStreamThreads)
	for i := range threads {
		if threads[i], err = newThread(a, i, plan); err != nil {
			for _, th := range threads[:i] {
				th.cl.Close()
				th.restore.Close()
			}
			return err
		}
	}
	errs := make(chan error, len(threads))
	for i, th := range threads {
		go func() {
			err := th.run(ctx)
			// A thread whose producer cannot go on has closed its tasks
			// and left the group; it comes back with a new producer and
			// rejoins, unless it keeps failing without a commit.
			for errors.Is(err, errRestart) && ctx.Err() == nil {
				failures := th.txnFailures + 1
				if failures >= maxTxnFailures {
					err = fmt.Errorf("streams: thread %d: restarted %d times in a row without a commit: %w", i, failures, err)
					break
				}
				a.log.Warn("restarting a stream thread", "thread", i, "error", err)
				a.metrics.restarts.Add(1)
				if th, err = newThread(a, i, plan); err == nil {
					th.txnFailures = failures
					err = th.run(ctx)
				}
			}
			if errors.Is(err, errRestart) && ctx.Err() != nil {
				// Stopping anyway: what the thread did not commit, the
				// next owner of its tasks does again.
				a.log.Warn("a stream thread's producer failed while the app stopped", "thread", i, "error", err)
				err = nil
			}
			if err != nil {
				cancel() // one thread failing stops the app
			}
			errs <- err
		}()
	}
	var first error
	for range threads {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close stops a running app as cancelling Run's context does, and waits
// for Run to return. It is idempotent; after Close, Run returns ErrClosed.
func (a *App) Close() error {
	a.mu.Lock()
	a.mu.closed = true
	cancel, done := a.mu.cancel, a.mu.done
	running := a.mu.running
	a.mu.Unlock()
	if running {
		cancel()
		<-done
	}
	a.endSubscriptions(ErrClosed)
	return nil
}

// numPartitions returns the partition count of topic, asking the cluster
// the first time.
func (a *App) numPartitions(ctx context.Context, topic string) (int, error) {
	if n, ok := a.partitionCounts.Load(topic); ok {
		return n.(int), nil
	}
	d, err := a.admin.ListTopics(ctx, topic)
	if err == nil {
		err = d[topic].Err
	}
	if err != nil {
		return 0, fmt.Errorf("streams: partitions of topic %q: %w", topic, err)
	}
	n := len(d[topic].Partitions)
	a.partitionCounts.Store(topic, n)
	return n, nil
}

// Metrics are the app's counters since it was made.
type Metrics struct {
	// RecordsProcessed counts the input records processed.
	RecordsProcessed int64
	// DeserializationErrors counts records that could not be deserialized,
	// whatever the handler decided.
	DeserializationErrors int64
	// ProcessingErrors counts failures of processors and punctuators.
	ProcessingErrors int64
	// ProductionErrors counts records the broker rejected.
	ProductionErrors int64
	// DeadLetters counts records sent to a dead-letter topic.
	DeadLetters int64
	// Commits counts successful commits.
	Commits int64
	// DroppedRecords counts the records processors dropped on purpose
	// (processor.Context.DroppedRecord), such as late records of windowed
	// aggregations.
	DroppedRecords int64
	// Aborts counts transactions that aborted (ExactlyOnce): their work was
	// dropped and redone.
	Aborts int64
	// ThreadRestarts counts stream threads made anew because their
	// transactional producer could not go on (fenced, or a transaction
	// that ended in an unknown way).
	ThreadRestarts int64
}

type metrics struct {
	processed, deserErrors, procErrors, prodErrors, deadLetters, commits, aborts, restarts, dropped atomic.Int64
}

// Metrics returns the app's counters. It is safe to call from any
// goroutine.
func (a *App) Metrics() Metrics {
	m := &a.metrics
	return Metrics{
		RecordsProcessed:      m.processed.Load(),
		DeserializationErrors: m.deserErrors.Load(),
		ProcessingErrors:      m.procErrors.Load(),
		ProductionErrors:      m.prodErrors.Load(),
		DeadLetters:           m.deadLetters.Load(),
		Commits:               m.commits.Load(),
		Aborts:                m.aborts.Load(),
		DroppedRecords:        m.dropped.Load(),
		ThreadRestarts:        m.restarts.Load(),
	}
}

// consumeTopics are the arguments of kgo.ConsumeTopics for the app's
// sources: with any pattern source, every topic as an anchored regex.
func (a *App) consumeTopics() (topics []string, regex bool) {
	for _, s := range a.balancer.subs {
		topics = append(topics, s.topics...)
	}
	if len(a.patterns) == 0 {
		return topics, false
	}
	for i, t := range topics {
		topics[i] = "^" + regexp.QuoteMeta(t) + "$"
	}
	for _, s := range a.patterns {
		for _, p := range s.patterns {
			topics = append(topics, "^(?:"+p.String()+")$")
		}
	}
	return topics, true
}
