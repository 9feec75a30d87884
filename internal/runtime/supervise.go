package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// threadExit is a thread's end: its index, the error it returned, and how
// many transactions in a row it had failed.
type threadExit struct {
	idx, failures int
	err           error
}

// supervise runs the threads until ctx ends or a failure stops the
// instance. A thread whose transactional producer failed is made anew at
// once (recovery, not a failure); any other failure goes to
// Hooks.OnUncaughtError, whose answer replaces the thread, stops this
// instance, or stops every instance of the app.
func (rt *Runtime) supervise(runCtx context.Context) error {
	// The threads stop when the supervisor says, after it set the state
	// that says why: a thread that stops first must not look like a
	// rebalance.
	ctx, cancel := context.WithCancel(context.WithoutCancel(runCtx))
	defer cancel()
	exits := make(chan threadExit)
	live := 0
	start := func(idx, failures int) error {
		th, err := rt.newThread(idx, failures)
		if err != nil {
			return err
		}
		rt.mu.Lock()
		rt.mu.threads[idx] = th
		rt.mu.Unlock()
		live++
		go func() {
			err := th.Run(ctx)
			exits <- threadExit{idx: idx, failures: th.failures(), err: err}
		}()
		return nil
	}
	var first error
	stop := func(err error) {
		if first == nil && err != nil {
			first = err
			rt.setState(PendingError)
		}
		cancel()
	}
	for i := range rt.cfg.NumStreamThreads {
		if err := start(i, 0); err != nil {
			stop(err)
			break
		}
	}
	var requested chan error // the ShutdownApplication request, while it runs
	done := runCtx.Done()
	shutdownSeen := rt.shutdownSeen
	globalFailed := rt.globalFailed // nil without a global thread
	for live > 0 || requested != nil {
		select {
		case err := <-globalFailed:
			// Nothing replaces the global thread, as in Kafka Streams:
			// the tasks would read stores that no longer follow their
			// topics.
			globalFailed = nil
			stop(err)
		case <-done:
			done = nil
			if first == nil {
				rt.setState(PendingShutdown)
			}
			cancel()
		case <-shutdownSeen:
			shutdownSeen = nil
			rt.log.Error("an instance of the app asked every instance to shut down; stopping")
			stop(ErrApplicationShutdown)
		case err := <-requested:
			requested = nil
			if err != nil {
				rt.log.Error("asking the other instances to shut down", "error", err)
			}
		case ex := <-exits:
			live--
			rt.mu.Lock()
			delete(rt.mu.threads, ex.idx)
			rt.mu.Unlock()
			rt.threadStateChanged()
			err := ex.err
			if errors.Is(err, errRestart) && ctx.Err() != nil {
				// Stopping anyway: what the thread did not commit, the next
				// owner of its tasks does again.
				rt.log.Warn("a stream thread's producer failed while the app stopped", "thread", ex.idx, "error", err)
				err = nil
			}
			if err == nil || ctx.Err() != nil {
				if err != nil {
					rt.log.Warn("a stream thread failed while the app stopped", "thread", ex.idx, "error", err)
				}
				continue
			}
			if errors.Is(err, errRestart) {
				// A thread whose producer cannot go on closed its tasks
				// and left the group; it comes back with a new producer
				// and rejoins, unless it keeps failing without a commit.
				failures := ex.failures + 1
				if failures < maxTxnFailures {
					rt.log.Warn("restarting a stream thread", "thread", ex.idx, "error", err)
					rt.metrics.ThreadRestarts.Add(1)
					if serr := start(ex.idx, failures); serr != nil {
						stop(serr)
					}
					continue
				}
				err = fmt.Errorf("streams: thread %d: restarted %d times in a row without a commit: %w", ex.idx, failures, err)
			}
			rt.metrics.FailedThreads.Add(1)
			switch answer := rt.cfg.Hooks.OnUncaughtError(err); answer {
			case ReplaceThread:
				rt.log.Error("a stream thread failed; replacing it", "thread", ex.idx, "error", err)
				rt.metrics.ThreadsReplaced.Add(1)
				if serr := start(ex.idx, 0); serr != nil {
					stop(serr)
				}
			case ShutdownApplication:
				rt.log.Error("a stream thread failed; shutting the application down", "thread", ex.idx, "error", err)
				requested = make(chan error, 1)
				go func() { requested <- rt.requestApplicationShutdown(context.WithoutCancel(ctx)) }()
				stop(err)
			default:
				rt.log.Error("a stream thread failed; shutting this instance down", "thread", ex.idx, "error", err)
				stop(err)
			}
		}
	}
	return first
}

// sawShutdown is the balancer's onShutdown: an assignment said that the
// application shuts down. It runs on a franz-go goroutine.
func (rt *Runtime) sawShutdown() {
	rt.shutdownSeenOnce.Do(func() { close(rt.shutdownSeen) })
}

// requestApplicationShutdown tells every instance of the app to stop, as
// Kafka Streams does for ShutdownApplication: a member joins the group
// asking for it in its subscription, and the leader, seeing it, assigns no
// task to anyone and marks every member's assignment. It returns once this
// member got its own marked assignment, or after a minute.
func (rt *Runtime) requestApplicationShutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	seen := make(chan struct{})
	var once sync.Once
	b := &taskBalancer{subs: rt.balancer.subs, requestShutdown: true, onShutdown: func() { once.Do(func() { close(seen) }) }}
	topics, regex := rt.consumeTopics()
	opts := []kgo.Opt{
		kgo.SeedBrokers(rt.cfg.Brokers...),
		kgo.ClientID(rt.cfg.ApplicationID + "-shutdown-request"),
		kgo.ConsumerGroup(rt.cfg.ApplicationID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(b),
		kgo.DisableAutoCommit(),
	}
	if regex {
		opts = append(opts, kgo.ConsumeRegex())
	}
	cl, err := kgo.NewClient(append(opts, rt.cfg.ClientOptions...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The member joins as soon as it polls.
	go func() {
		for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
		}
	}()
	select {
	case <-seen:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no assignment carried the shutdown request: %w", ctx.Err())
	}
}
