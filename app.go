package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/metrics"
	"github.com/gostreams/streams/internal/runtime"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// ErrClosed is returned by Run on an App that was closed or has run
// already: an App runs once, as Kafka Streams' KafkaStreams starts once.
var ErrClosed = errors.New("streams: app closed")

// ErrRunning is returned by Run on an App that is already running, and by
// CleanUp on an App that is running.
var ErrRunning = errors.New("streams: app already running")

// ErrApplicationShutdown is wrapped by the error Run returns when an
// instance of the app (this one or another) answered a failure with
// ShutdownApplication: every instance stops.
var ErrApplicationShutdown = runtime.ErrApplicationShutdown

// ErrStateDirLocked is wrapped by the error Run and CleanUp return when
// another running instance holds the app's state directory
// (<StateDir>/<ApplicationID>); the error names the directory. Under
// ExactlyOnce two instances on one directory would share transactional ids
// and fence each other, and any two would overwrite each other's stores.
var ErrStateDirLocked = runtime.ErrStateDirLocked

// App runs a topology against a Kafka cluster: it joins the consumer group
// ApplicationID with Config.NumStreamThreads members, turns the partitions
// it is assigned into tasks (one per sub-topology and partition), processes
// their records and commits.
type App struct {
	cfg   Config
	prog  *graph.Program
	rt    *runtime.Runtime
	local localStores
	subs  subscriptions
	// registry holds the app's metrics.
	registry *metrics.Registry

	mu struct {
		sync.Mutex
		ran, running, closed bool
		cancel               context.CancelFunc
		done                 chan struct{}
	}
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
	a := &App{cfg: cfg, prog: graph.ProgramOf(t), registry: metrics.New(metrics.Level(cfg.MetricsRecordingLevel))}
	a.rt = runtime.New(a.runtimeConfig(), a.prog)
	return a, nil
}

// runtimeConfig is cfg for the runtime, with the hooks that reach the
// user's handlers and the app's queries and subscriptions.
func (a *App) runtimeConfig() runtime.Config {
	c := a.cfg
	hooks := runtime.Hooks{
		OnDeserializationError: func(ctx context.Context, rec *kgo.Record, err *processor.DeserializationError) runtime.Response {
			return runtime.Response(c.OnDeserializationError(ctx, rec, err))
		},
		OnProcessingError: func(ctx context.Context, err *processor.ProcessingError) runtime.Response {
			return runtime.Response(c.OnProcessingError(ctx, err))
		},
		OnProductionError: func(ctx context.Context, rec *kgo.Record, err error) runtime.Response {
			return runtime.Response(c.OnProductionError(ctx, rec, err))
		},
		OnUncaughtError: func(err error) runtime.UncaughtErrorResponse {
			return runtime.UncaughtErrorResponse(c.OnUncaughtError(err))
		},
		OnStateChange: func(old, new runtime.State) {
			if c.OnStateChange != nil {
				c.OnStateChange(State(old), State(new))
			}
		},
		TaskRunning:    func(tk *task.Task) { a.taskRunning(tk.ID(), tk.Stores()) },
		TaskClosing:    func(tk *task.Task) { a.local.remove(tk.ID(), tk.Stores()) },
		TaskRestoring:  func(tk *task.Task) { a.local.addAs(tk.ID(), tk.Stores(), Restoring) },
		StandbyOpened:  func(tk *task.Task) { a.local.addAs(tk.ID(), tk.Stores(), Standby) },
		StandbyClosing: func(tk *task.Task) { a.local.remove(tk.ID(), tk.Stores()) },
		// A global store is queryable on every instance, once restored.
		GlobalRunning: func(stores map[string]state.Store) { a.taskRunning(task.GlobalTaskID, stores) },
		GlobalClosing: func(stores map[string]state.Store) { a.local.remove(task.GlobalTaskID, stores) },
	}
	if c.RestoreListener != nil {
		hooks.Restore = restoreListener{c.RestoreListener}
	}
	return runtime.Config{
		ApplicationID: c.ApplicationID, Brokers: c.Brokers, StateDir: c.StateDir, NumStreamThreads: c.NumStreamThreads,
		CommitInterval: c.CommitInterval, Guarantee: c.Guarantee, TransactionTimeout: c.TransactionTimeout,
		OffsetReset: c.OffsetReset, MaxPollRecords: c.MaxPollRecords, Logger: c.Logger.With("app", c.ApplicationID),
		ApplicationServer: c.ApplicationServer, StoreCacheMaxBytes: c.StoreCacheMaxBytes, GroupInstanceID: c.GroupInstanceID,
		ClientOptions: c.ClientOptions, RestoreProgressEvery: c.restoreProgressEvery,
		NumStandbyReplicas: c.NumStandbyReplicas, AcceptableRecoveryLag: c.AcceptableRecoveryLag,
		MaxWarmupReplicas: c.MaxWarmupReplicas, ProbingRebalanceInterval: c.ProbingRebalanceInterval,
		TaskTimeout: c.TaskTimeout, Metrics: a.registry, Hooks: hooks,
	}
}

// Run runs the app until ctx is cancelled or Close is called, then
// commits what it processed, closes its tasks and leaves the group; it
// returns nil. It returns an error when a failure stops the instance: a
// thread failed (a processing, deserialization or production error the
// handlers did not skip, or a failure to reach or use the cluster) and
// Config.OnUncaughtError answered ShutdownClient or ShutdownApplication, or
// another instance answered ShutdownApplication (ErrApplicationShutdown).
// An App runs once.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	switch {
	case a.mu.closed || a.mu.ran:
		a.mu.Unlock()
		return ErrClosed
	case a.mu.running:
		a.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	a.mu.running, a.mu.ran, a.mu.cancel, a.mu.done = true, true, cancel, make(chan struct{})
	done := a.mu.done
	a.mu.Unlock()
	defer func() {
		cancel()
		a.mu.Lock()
		a.mu.running = false
		a.mu.Unlock()
		close(done)
	}()
	return a.rt.Run(ctx)
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

// ApplicationServer returns the instance's Config.ApplicationServer, ""
// if it advertises none.
func (a *App) ApplicationServer() string { return a.cfg.ApplicationServer }

// State returns the app's state. It is safe to call from any goroutine.
func (a *App) State() State { return State(a.rt.State()) }

// CleanUp removes the app's local state, <StateDir>/<ApplicationID>: every
// task's stores and checkpoints, and the instance's id. Their next start
// restores the stores from their changelogs. It may be called before Run
// or after Run returned, not while the app runs (ErrRunning), and fails
// with ErrStateDirLocked while another instance uses the directory.
func (a *App) CleanUp() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.running {
		return ErrRunning
	}
	dir := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := runtime.LockAppDir(dir)
	if err != nil {
		return err
	}
	err = os.RemoveAll(dir)
	unlock()
	if err != nil {
		return fmt.Errorf("streams: cleaning up %s: %w", dir, err)
	}
	return nil
}
