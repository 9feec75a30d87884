package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// GlobalThreadState is where the global thread is in its life, with Kafka
// Streams' GlobalStreamThread names:
//
//	Created ──bootstrap──▶ Running ──▶ PendingShutdown ──▶ Dead
type GlobalThreadState int

const (
	// GlobalCreated: made; its stores are being restored (bootstrapped).
	GlobalCreated GlobalThreadState = iota
	// GlobalRunning: the stores caught up with their topics; the thread
	// keeps them up to date.
	GlobalRunning
	// GlobalPendingShutdown: stopping.
	GlobalPendingShutdown
	// GlobalDead: stopped, its stores closed.
	GlobalDead
)

var globalStateNames = [...]string{"Created", "Running", "PendingShutdown", "Dead"}

func (s GlobalThreadState) String() string {
	if s >= 0 && int(s) < len(globalStateNames) {
		return globalStateNames[s]
	}
	return fmt.Sprintf("GlobalThreadState(%d)", int(s))
}

// GlobalStreamThread keeps the app's global stores, as Kafka Streams'
// GlobalStreamThread: every instance reads every partition of the global
// topics with a consumer of its own, outside the group. Before any stream
// thread starts, bootstrap restores the stores to the topics' end offsets
// (the last stable offsets under exactly-once, whose consumer reads
// committed records only, so an aborted transaction's writes are never
// applied). Then Run, on its own goroutine, keeps them up to date by
// running each record through its store's processor (task.GlobalTask),
// flushing after each poll so that the tasks and queries see it.
//
// Its stores and task belong to the goroutine that runs bootstrap, Run and
// close in turn; State may be called from any.
type GlobalStreamThread struct {
	rt  *Runtime
	log *slog.Logger
	cl  *kgo.Client
	adm *kadm.Client
	tk  *task.GlobalTask
	mgr *globalStateManager
	raw graph.RawRecord

	mu struct {
		sync.Mutex
		state GlobalThreadState
	}
}

// newGlobalThread makes the global thread and opens its stores; nil when
// the topology has no global store.
func (rt *Runtime) newGlobalThread() (*GlobalStreamThread, error) {
	if len(rt.prog.Globals) == 0 {
		return nil, nil
	}
	cfg := rt.cfg
	log := rt.log.With("thread", "global")
	dir := filepath.Join(rt.appDir, "global")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("streams: global stores' state directory: %w", err)
	}
	tk, err := task.NewGlobal(task.GlobalConfig{
		ApplicationID: cfg.ApplicationID, StateDir: dir, Program: rt.prog,
		CacheMaxBytes: cfg.StoreCacheMaxBytes,
		Dropped:       func(string) { rt.metrics.Dropped.Add(1) },
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ApplicationID + "-global"),
		// With transaction markers, the bootstrap reaches the end offset
		// exactly even when a partition ends in one.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
	if cfg.Guarantee == eos.ExactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(append(opts, cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("streams: global thread: client: %w", err)
	}
	gt := &GlobalStreamThread{rt: rt, log: log, cl: cl, adm: kadm.NewClient(cl), tk: tk}
	gt.mgr = &globalStateManager{dir: dir, log: log, listener: cfg.Hooks.Restore, tk: tk}
	if err := tk.Init(); err != nil {
		cl.Close()
		return nil, err
	}
	return gt, nil
}

// State returns the thread's state.
func (gt *GlobalStreamThread) State() GlobalThreadState {
	gt.mu.Lock()
	defer gt.mu.Unlock()
	return gt.mu.state
}

func (gt *GlobalStreamThread) setState(s GlobalThreadState) {
	gt.mu.Lock()
	old := gt.mu.state
	if s > old { // the states only go forward
		gt.mu.state = s
	}
	gt.mu.Unlock()
	if s > old {
		gt.log.Debug("global thread state", "from", old.String(), "to", s.String())
	}
}

// bootstrap restores the global stores to the end offsets of their
// topics, as they are now, and moves the thread to Running: the stores are
// then queryable and the tasks may read them. A cancelled ctx returns
// ctx.Err().
func (gt *GlobalStreamThread) bootstrap(ctx context.Context) error {
	topics := gt.tk.Topics()
	listed, err := gt.adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("streams: global thread: listing its topics: %w", err)
	}
	var missing []string
	for _, t := range topics {
		if d, ok := listed[t]; !ok || d.Err != nil || len(d.Partitions) == 0 {
			missing = append(missing, fmt.Sprintf("%q (store %q)", t, gt.tk.StoreOf(t)))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("streams: the topics of global stores do not exist: %s; create them before starting the app", strings.Join(missing, ", "))
	}
	ends, endErrs, err := gt.rt.admin.EndOffsets(ctx, gt.rt.cfg.Guarantee == eos.ExactlyOnce, topics...)
	if err != nil {
		return fmt.Errorf("streams: global thread: end offsets of %v: %w", topics, err)
	}
	for tp, e := range endErrs {
		return fmt.Errorf("streams: global thread: end offset of %s-%d: %w", tp.Topic, tp.Partition, e)
	}
	listedStarts, err := gt.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("streams: global thread: start offsets of %v: %w", topics, err)
	}
	starts := map[TopicPartition]int64{}
	var serr error
	listedStarts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && serr == nil {
			serr = fmt.Errorf("streams: global thread: start offset of %s-%d: %w", o.Topic, o.Partition, o.Err)
		}
		starts[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
	})
	if serr != nil {
		return serr
	}
	from, err := gt.mgr.plan(starts, ends)
	if err != nil {
		return err
	}
	parts := map[string]map[int32]kgo.Offset{}
	for tp, off := range from {
		if parts[tp.Topic] == nil {
			parts[tp.Topic] = map[int32]kgo.Offset{}
		}
		parts[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
	}
	gt.log.Info("restoring the global stores", "topics", topics)
	gt.cl.AddConsumePartitions(parts)
	for !gt.mgr.finished() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := gt.poll(ctx, 100*time.Millisecond, true); err != nil {
			return err
		}
	}
	gt.setState(GlobalRunning)
	gt.rt.cfg.Hooks.GlobalRunning(gt.tk.Stores())
	return nil
}

// views returns the read-only views of the global stores for the tasks;
// nil without a global thread.
func (gt *GlobalStreamThread) views() map[string]state.Store {
	if gt == nil {
		return nil
	}
	return gt.tk.Views()
}

// Run keeps the stores up to date until ctx ends (nil) or a record fails
// (the error, which stops the app).
func (gt *GlobalStreamThread) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := gt.poll(ctx, time.Second, false); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// poll reads what the global topics have, waiting up to wait, runs it
// through the stores' processors and flushes the stores. While
// restoring, it tells the state manager how far each partition got.
func (gt *GlobalStreamThread) poll(ctx context.Context, wait time.Duration, restoring bool) error {
	pctx, cancel := context.WithTimeout(ctx, wait)
	fetches := gt.cl.PollRecords(pctx, 10_000)
	cancel()
	if fetches.IsClientClosed() {
		return errors.New("streams: global thread: its client was closed")
	}
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		if fe.Topic == "" || kerr.IsRetriable(fe.Err) || isNetError(fe.Err) {
			gt.log.Warn("fetch error; the client retries", "topic", fe.Topic, "partition", fe.Partition, "error", fe.Err)
			continue
		}
		return fmt.Errorf("streams: global thread: fetching %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	var err error
	processed := 0
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if err != nil || len(p.Records) == 0 {
			return
		}
		n := 0
		var end int64 = -1
		if restoring {
			if r := gt.mgr.restores[TopicPartition{Topic: p.Topic, Partition: p.Partition}]; r != nil {
				end = r.end
			}
		}
		for _, r := range p.Records {
			if r.Attrs.IsControl() {
				gt.tk.SetOffset(r.Topic, r.Partition, r.Offset+1)
				continue
			}
			if err = gt.update(ctx, r); err != nil {
				return
			}
			processed++
			if r.Offset < end {
				n++
			}
		}
		if restoring {
			gt.mgr.restored(TopicPartition{Topic: p.Topic, Partition: p.Partition}, p.Records[len(p.Records)-1].Offset+1, n)
		}
	})
	if err != nil {
		return err
	}
	if processed > 0 {
		gt.rt.metrics.Processed.Add(int64(processed))
		if err := gt.tk.Flush(); err != nil {
			return fmt.Errorf("streams: global thread: %w", err)
		}
	}
	return nil
}

// update runs one record through its store's processor, with the app's
// handlers deciding about a record that fails.
func (gt *GlobalStreamThread) update(ctx context.Context, r *kgo.Record) error {
	gt.raw = graph.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		gt.raw.Headers = make([]processor.Header, len(r.Headers))
		for i, h := range r.Headers {
			gt.raw.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
		}
	}
	err := gt.tk.Update(&gt.raw)
	if err == nil {
		return nil
	}
	hooks := gt.rt.cfg.Hooks
	var de *processor.DeserializationError
	var pe *processor.ProcessingError
	switch {
	case errors.As(err, &de):
		gt.rt.metrics.DeserializationErrors.Add(1)
		resp := hooks.OnDeserializationError(ctx, r, de)
		if !resp.Continue {
			return fmt.Errorf("streams: global store %q: %w", gt.tk.StoreOf(r.Topic), de)
		}
		gt.sendDeadLetters(ctx, resp.DeadLetters)
	case errors.As(err, &pe):
		gt.rt.metrics.ProcessingErrors.Add(1)
		resp := hooks.OnProcessingError(ctx, pe)
		if !resp.Continue {
			return fmt.Errorf("streams: global store %q: %w", gt.tk.StoreOf(r.Topic), err)
		}
		gt.log.Warn("skipping after a processing error", "error", err)
		gt.sendDeadLetters(ctx, resp.DeadLetters)
	default:
		return fmt.Errorf("streams: global store %q: %w", gt.tk.StoreOf(r.Topic), err)
	}
	gt.tk.Skip(r.Topic, r.Partition, r.Offset)
	return nil
}

// sendDeadLetters produces what a handler asked for, outside any
// transaction, and logs what fails: the global thread has no commit to
// tie them to.
func (gt *GlobalStreamThread) sendDeadLetters(ctx context.Context, recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	if err := gt.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		gt.log.Error("producing dead letters from the global thread", "error", err)
		return
	}
	gt.rt.metrics.DeadLetters.Add(int64(len(recs)))
}

// close closes the stores, after the stream threads stopped reading them.
// With clean (the thread stopped with no failure), the persistent stores'
// positions are checkpointed once they are closed.
func (gt *GlobalStreamThread) close(clean bool) {
	if gt.State() == GlobalRunning {
		gt.rt.cfg.Hooks.GlobalClosing(gt.tk.Stores())
	}
	gt.setState(GlobalPendingShutdown)
	gt.cl.Close()
	offsets := gt.mgr.checkpointOffsets()
	if err := gt.tk.Flush(); err != nil {
		gt.log.Warn("flushing the global stores before closing them", "error", err)
		clean = false
	}
	if err := gt.tk.Close(); err != nil {
		gt.log.Warn("closing the global stores", "error", err)
		clean = false
	}
	if clean {
		gt.mgr.writeCheckpoint(offsets)
	}
	gt.setState(GlobalDead)
}

// runGlobal bootstraps the global stores, if the topology has any, starts
// the global thread and returns the function that stops it (to call once
// the stream threads stopped) and a channel that carries its failure.
// A cancelled ctx during the bootstrap returns a nil stop and ctx.Err().
func (rt *Runtime) runGlobal(ctx context.Context) (stop func(), failed <-chan error, err error) {
	gt, err := rt.newGlobalThread()
	if err != nil || gt == nil {
		return func() {}, nil, err
	}
	if err := gt.bootstrap(ctx); err != nil {
		gt.close(false)
		return nil, nil, err
	}
	rt.global = gt
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	errs := make(chan error, 1)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = gt.Run(gctx)
		if runErr != nil {
			gt.log.Error("the global thread failed; stopping the app", "error", runErr)
			errs <- runErr
		}
	}()
	return func() {
		cancel()
		<-done
		gt.close(runErr == nil)
	}, errs, nil
}
