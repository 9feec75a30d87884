package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// The fakes below stand in for franz-go, so that the commit and rebalance
// logic runs without a broker: fakeGroup is a stream thread's group client,
// fakeTxn its transaction session, fakeChangelog its restore consumer and
// fakeAdmin the cluster's answers.

type fakeGroup struct {
	mu       sync.Mutex
	queue    []kgo.Fetches
	wake     chan struct{}
	produced []*kgo.Record
	pending  []func() // promises waiting for Flush
	// reject, if set, decides the error a produced record gets.
	reject    func(*kgo.Record) error
	committed map[TopicPartition]int64
	// flushHook, if set, runs inside Flush, before the promises.
	flushHook  func()
	rewinds    []map[string]map[int32]kgo.EpochOffset
	paused     map[TopicPartition]bool
	allowed    int
	nextOffset map[TopicPartition]int64 // next offset of each produced-to partition
}

func newFakeGroup() *fakeGroup {
	return &fakeGroup{wake: make(chan struct{}, 1), committed: map[TopicPartition]int64{},
		paused: map[TopicPartition]bool{}, nextOffset: map[TopicPartition]int64{}}
}

// push queues records of one partition for a poll.
func (f *fakeGroup) push(topic string, partition int32, recs ...*kgo.Record) {
	for _, r := range recs {
		r.Topic, r.Partition = topic, partition
	}
	f.mu.Lock()
	f.queue = append(f.queue, kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: topic, Partitions: []kgo.FetchPartition{{Partition: partition, Records: recs}}}}}})
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeGroup) PollRecords(ctx context.Context, _ int) kgo.Fetches {
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			fs := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return fs
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return kgo.Fetches{}
		case <-f.wake:
		}
	}
}

func (f *fakeGroup) AllowRebalance() { f.mu.Lock(); f.allowed++; f.mu.Unlock() }

func (f *fakeGroup) CommitOffsets(_ context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range offsets {
		for p, o := range ps {
			f.committed[TopicPartition{Topic: topic, Partition: p}] = o.Offset
		}
	}
	return nil
}

func (f *fakeGroup) SetOffsets(offsets map[string]map[int32]kgo.EpochOffset) {
	f.mu.Lock()
	f.rewinds = append(f.rewinds, offsets)
	f.mu.Unlock()
}

func (f *fakeGroup) PauseFetchPartitions(parts map[string][]int32) map[string][]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			f.paused[TopicPartition{Topic: topic, Partition: p}] = true
		}
	}
	return nil
}

func (f *fakeGroup) ResumeFetchPartitions(parts map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			delete(f.paused, TopicPartition{Topic: topic, Partition: p})
		}
	}
}

func (f *fakeGroup) isPaused(topic string, p int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused[TopicPartition{Topic: topic, Partition: p}]
}

func (f *fakeGroup) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.reject != nil {
		err = f.reject(r)
	}
	if err == nil {
		if r.Partition < 0 {
			r.Partition = 0
		}
		tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
		r.Offset = f.nextOffset[tp]
		f.nextOffset[tp]++
		f.produced = append(f.produced, r)
	}
	f.pending = append(f.pending, func() { promise(r, err) })
}

func (f *fakeGroup) Flush(context.Context) error {
	if f.flushHook != nil {
		f.flushHook()
	}
	f.mu.Lock()
	pending := f.pending
	f.pending = nil
	f.mu.Unlock()
	for _, p := range pending {
		p()
	}
	return nil
}

func (f *fakeGroup) Close()          {}
func (f *fakeGroup) ForceRebalance() {}

// producedTo returns the values produced to topic, in order.
func (f *fakeGroup) producedTo(topic string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.produced {
		if r.Topic == topic {
			out = append(out, string(r.Key)+"="+string(r.Value))
		}
	}
	return out
}

func (f *fakeGroup) committedOffsets() map[TopicPartition]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.committed)
}

// fakeTxn is a transaction session. Like franz-go's, it aborts a
// transaction during which the group revoked or lost partitions.
type fakeTxn struct {
	mu      sync.Mutex
	inTxn   bool
	failed  bool
	ends    []bool // what each End did: committed or not
	endHook func() // runs inside End, without the TaskManager's lock
	// commitAnyway makes End commit despite a revocation, as franz-go
	// does when the revocation comes after it decided (see exactlyOnce).
	commitAnyway bool
}

func (f *fakeTxn) InitProducer(context.Context) error { return nil }

func (f *fakeTxn) Begin() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inTxn {
		return fmt.Errorf("fake: already in a transaction")
	}
	f.inTxn = true
	return nil
}

func (f *fakeTxn) End(_ context.Context, try kgo.TransactionEndTry) (bool, error) {
	if f.endHook != nil {
		f.endHook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	committed := bool(try) && (!f.failed || f.commitAnyway)
	f.inTxn, f.failed = false, false
	f.ends = append(f.ends, committed)
	return committed, nil
}

// rebalanced is what the session's own rebalance callbacks do.
func (f *fakeTxn) rebalanced() {
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
}

// fakeChangelog serves changelog records from memory.
type fakeChangelog struct {
	mu       sync.Mutex
	logs     map[TopicPartition][]*kgo.Record
	reading  map[TopicPartition]int64
	maxBatch int
}

func (f *fakeChangelog) AddConsumePartitions(parts map[string]map[int32]kgo.Offset) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range parts {
		for p, o := range ps {
			f.reading[TopicPartition{Topic: topic, Partition: p}] = o.EpochOffset().Offset
		}
	}
}

func (f *fakeChangelog) RemoveConsumePartitions(parts map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			delete(f.reading, TopicPartition{Topic: topic, Partition: p})
		}
	}
}

func (f *fakeChangelog) PollRecords(ctx context.Context, _ int) kgo.Fetches {
	f.mu.Lock()
	var ft []kgo.FetchTopic
	for tp, at := range f.reading {
		log := f.logs[tp]
		end := min(int(at)+f.maxBatch, len(log))
		if int(at) >= end {
			continue
		}
		ft = append(ft, kgo.FetchTopic{Topic: tp.Topic, Partitions: []kgo.FetchPartition{{Partition: tp.Partition, Records: log[at:end]}}})
		f.reading[tp] = int64(end)
	}
	f.mu.Unlock()
	if len(ft) == 0 {
		<-ctx.Done()
		return kgo.Fetches{}
	}
	return kgo.Fetches{{Topics: ft}}
}

func (f *fakeChangelog) Close() {}

func (f *fakeChangelog) end(tp TopicPartition) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.logs[tp]))
}

// fakeAdmin answers end offsets from the fake changelog.
type fakeAdmin struct{ cl *fakeChangelog }

func (a fakeAdmin) EndOffsets(_ context.Context, _ bool, topics ...string) (map[TopicPartition]int64, map[TopicPartition]error, error) {
	out := map[TopicPartition]int64{}
	for _, t := range topics {
		for p := range int32(8) {
			tp := TopicPartition{Topic: t, Partition: p}
			out[tp] = a.cl.end(tp)
		}
	}
	return out, nil, nil
}

func (a fakeAdmin) NumPartitions(context.Context, string) (int, error) { return 8, nil }

// CommittedOffsets: the fakes have no topology restored from a source
// topic, so nothing asks.
func (a fakeAdmin) CommittedOffsets(context.Context, string, ...string) (map[TopicPartition]int64, error) {
	return map[TopicPartition]int64{}, nil
}

// rig is a TaskManager (with its thread) on the fakes, running a count of
// the keys of topic "in" into a logged in-memory store "counts", which
// forwards each new count to topic "out".
type rig struct {
	t         *testing.T
	rt        *Runtime
	th        *StreamThread
	tm        *TaskManager
	group     *fakeGroup
	txn       *fakeTxn
	changelog *fakeChangelog
	running   []processor.TaskID // tasks the hooks saw start running
	closing   []processor.TaskID
}

const countsChangelog = "app-counts-changelog"

func newRig(t *testing.T, g eos.Guarantee) *rig {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	count := topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, string] { return &counter{} }, src)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topology.AddSink(b, "sink", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, count)
	topo, err := b.Build()
	require.NoError(t, err)
	r := &rig{t: t, group: newFakeGroup(), txn: &fakeTxn{},
		changelog: &fakeChangelog{logs: map[TopicPartition][]*kgo.Record{}, reading: map[TopicPartition]int64{}, maxBatch: 2}}
	hooks := Hooks{
		OnDeserializationError: func(context.Context, *kgo.Record, *processor.DeserializationError) Response { return Response{} },
		OnProcessingError:      func(context.Context, *processor.ProcessingError) Response { return Response{} },
		OnProductionError:      func(context.Context, *kgo.Record, error) Response { return Response{} },
		OnUncaughtError:        func(error) UncaughtErrorResponse { return ShutdownClient },
		OnStateChange:          func(State, State) {},
		TaskRunning:            func(tk *task.Task) { r.running = append(r.running, tk.ID()) },
		TaskClosing:            func(tk *task.Task) { r.closing = append(r.closing, tk.ID()) },
	}
	r.rt = New(Config{ApplicationID: "app", StateDir: t.TempDir(), NumStreamThreads: 1, CommitInterval: time.Hour,
		Guarantee: g, TransactionTimeout: time.Second, OffsetReset: topology.Earliest, MaxPollRecords: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RestoreProgressEvery: time.Hour, Hooks: hooks}, graph.ProgramOf(topo))
	r.rt.admin = fakeAdmin{r.changelog}
	log := r.rt.log
	r.th = &StreamThread{rt: r.rt, idx: 0, log: log, client: r.group}
	r.tm = newTaskManager(r.rt, 0, log)
	r.th.tm, r.tm.thread = r.tm, r.th
	var txn Transactions
	if g == eos.ExactlyOnce {
		txn = r.txn
	}
	r.th.wire(r.changelog, txn, 0)
	return r
}

// counter counts each key in "counts" and forwards "<key>=<count>".
type counter struct {
	ctx processor.Context[string, string]
	st  state.KeyValueStore[string, int64]
}

func (c *counter) Init(ctx processor.Context[string, string]) (err error) {
	c.ctx = ctx
	c.st, err = processor.GetStore[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *counter) Process(rec processor.Record[string, string]) error {
	n, _, err := c.st.Get(rec.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.st.Put(rec.Key, n); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Derive(rec, rec.Key, fmt.Sprint(n)))
}

func (c *counter) Close() error { return nil }

// recs makes input records keyed by keys, at offsets from from on.
func recs(from int64, keys ...string) []*kgo.Record {
	out := make([]*kgo.Record, len(keys))
	for i, k := range keys {
		out[i] = &kgo.Record{Key: []byte(k), Value: []byte("v"), Offset: from + int64(i), Timestamp: time.UnixMilli(1000 + from + int64(i))}
	}
	return out
}

// changelogOf fills the counts changelog of a partition with key=count
// records.
func (r *rig) changelogOf(p int32, counts ...any) {
	tp := TopicPartition{Topic: countsChangelog, Partition: p}
	for i := 0; i < len(counts); i += 2 {
		v, _ := serde.Int64().Serialize(int64(counts[i+1].(int)))
		r.changelog.logs[tp] = append(r.changelog.logs[tp], &kgo.Record{Topic: tp.Topic, Partition: p,
			Offset: int64(len(r.changelog.logs[tp])), Key: []byte(counts[i].(string)), Value: v})
	}
}

func (r *rig) assign(parts ...int32) {
	r.tm.OnAssigned(context.Background(), nil, map[string][]int32{"in": parts})
	r.requireNoFatal()
}

func (r *rig) revoke(parts ...int32) {
	if r.txn != nil {
		r.txn.rebalanced()
	}
	r.tm.OnRevoked(context.Background(), nil, map[string][]int32{"in": parts})
}

func (r *rig) lose(parts ...int32) {
	if r.txn != nil {
		r.txn.rebalanced()
	}
	r.tm.OnLost(context.Background(), nil, map[string][]int32{"in": parts})
}

// poll runs one step of the thread's loop on what the fake group has.
func (r *rig) poll() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	return r.tm.step(context.Background(), r.group.PollRecords(ctx, 100))
}

func (r *rig) commit() error {
	r.tm.mu.Lock()
	defer r.tm.mu.Unlock()
	return r.tm.commit.commit(context.Background())
}

// restore runs restore steps until nothing is restoring.
func (r *rig) restore() {
	r.t.Helper()
	for range 100 {
		if !r.tm.restoring() {
			return
		}
		require.NoError(r.t, r.tm.restoreStep(context.Background(), time.Millisecond))
	}
	r.t.Fatal("the restore did not end")
}

func (r *rig) requireNoFatal() {
	r.t.Helper()
	r.tm.mu.Lock()
	defer r.tm.mu.Unlock()
	require.NoError(r.t, r.tm.mu.fatal)
}

// taskState returns the state of task 0_p, or "gone".
func (r *rig) taskState(p int32) string {
	r.tm.mu.Lock()
	defer r.tm.mu.Unlock()
	if tk := r.tm.mu.tasks[processor.TaskID{Partition: p}]; tk != nil {
		return tk.State().String()
	}
	return "gone"
}

// count reads key's count in task 0_p's store, as the task sees it.
func (r *rig) count(p int32, key string) int64 { return r.read(p, key, false) }

// committedCount reads it as queries do: what the task committed.
func (r *rig) committedCount(p int32, key string) int64 { return r.read(p, key, true) }

func (r *rig) read(p int32, key string, committed bool) int64 {
	r.t.Helper()
	r.tm.mu.Lock()
	defer r.tm.mu.Unlock()
	tk := r.tm.mu.tasks[processor.TaskID{Partition: p}]
	require.NotNil(r.t, tk, "task 0_%d", p)
	st, _ := tk.Store("counts")
	if committed {
		st = st.(stateproto.CommittedViewer).CommittedView()
	}
	n, _, err := st.(state.ReadOnlyKeyValueStore[string, int64]).Get(key)
	require.NoError(r.t, err)
	return n
}

func sortedCopy(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
