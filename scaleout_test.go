package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
	"github.com/gostreams/streams/topology"
)

// The test binary doubles as the app process of the scale-out test: with
// STREAMS_CHILD set, TestMain runs one app instance instead of the tests.
func TestMain(m *testing.M) {
	if name := os.Getenv("STREAMS_CHILD"); name != "" {
		os.Exit(childMain(name))
	}
	if os.Getenv("STREAMS_BROKER_CHILD") != "" {
		os.Exit(brokerMain())
	}
	os.Exit(m.Run())
}

// brokerMain runs an in-process Kafka (kfake) as a process of its own, for
// the soak test: it prints "BROKERS <host:port,...>" and serves until its
// standard input closes or it gets SIGTERM.
func brokerMain() int {
	c, err := embedded.Start(kfake.GroupMinSessionTimeout(500 * time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	fmt.Printf("BROKERS %s\n", strings.Join(c.Addrs(), ","))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
		stop()
	}()
	<-ctx.Done()
	return 0
}

// childTopologies are app topologies that files built with a tag add
// (pgcrash_test.go), by their STREAMS_CHILD_TOPOLOGY name; each is made in
// the child process.
var childTopologies = map[string]func() (childApp, error){}

// childApp is what a childTopologies entry makes: the topology, its
// guarantee, and client options added to childMain's.
type childApp struct {
	topology      *topology.Topology
	guarantee     eos.Guarantee
	clientOptions []kgo.Opt
}

// childMain runs an app until SIGTERM, then shuts down cleanly: by
// default tagger(name); with STREAMS_CHILD_TOPOLOGY=idempotent the
// RocksDB-backed idempotent counter of the crash test, and so on
// (childTopologies too).
func childMain(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	topo := tagger(name)
	guarantee := eos.AtLeastOnce
	var restores streams.RestoreListener
	var clientOptions []kgo.Opt
	switch os.Getenv("STREAMS_CHILD_TOPOLOGY") {
	case "idempotent":
		topo = idempotentCounting()
	case "ha":
		topo = haCounting(name, os.Getenv("STREAMS_CHILD_ROCKSDB") != "")
		restores = printRestores{}
		if os.Getenv("STREAMS_CHILD_EOS") != "" {
			guarantee = eos.ExactlyOnce
		}
	case "eos-rocksdb":
		var err error
		if topo, err = eosTopologyOn(func(name string) state.KeyValueBytesStoreSupplier {
			return rocksdb.KeyValueStore(name, rocksdb.Options{})
		}, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		guarantee = eos.ExactlyOnce
		restores = printRestores{}
	default:
		if mk, ok := childTopologies[os.Getenv("STREAMS_CHILD_TOPOLOGY")]; ok {
			a, err := mk()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			topo, guarantee, clientOptions = a.topology, a.guarantee, a.clientOptions
		}
	}
	cfg := streams.Config{
		Guarantee:       guarantee,
		RestoreListener: restores,
		ApplicationID:   os.Getenv("STREAMS_APP_ID"),
		Brokers:         strings.Split(os.Getenv("STREAMS_BROKERS"), ","),
		StateDir:        os.Getenv("STREAMS_STATE_DIR"),
		CommitInterval:  100 * time.Millisecond,
		Logger:          childLogger(),
		ClientOptions: []kgo.Opt{
			kgo.SessionTimeout(1500 * time.Millisecond),
			kgo.HeartbeatInterval(100 * time.Millisecond),
			// kfake waits out the rebalance timeout for a member that was
			// killed during a rebalance (its session does not expire while
			// the group is joining): keep that wait short.
			kgo.RebalanceTimeout(5 * time.Second),
		},
	}
	cfg.ClientOptions = append(cfg.ClientOptions, clientOptions...)
	if s := os.Getenv("STREAMS_TXN_TIMEOUT"); s != "" {
		cfg.TransactionTimeout, _ = time.ParseDuration(s)
	}
	if d := os.Getenv("STREAMS_PROBING"); d != "" {
		cfg.ProbingRebalanceInterval, _ = time.ParseDuration(d)
	}
	if n := os.Getenv("STREAMS_ACCEPTABLE_LAG"); n != "" {
		cfg.AcceptableRecoveryLag, _ = strconv.ParseInt(n, 10, 64)
	}
	if n := os.Getenv("STREAMS_STANDBYS"); n != "" {
		cfg.NumStandbyReplicas, _ = strconv.Atoi(n)
	}
	if s := os.Getenv("STREAMS_SESSION_TIMEOUT"); s != "" {
		d, _ := time.ParseDuration(s)
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.SessionTimeout(d))
	}
	if id := os.Getenv("STREAMS_INSTANCE_ID"); id != "" {
		// Static membership (group.instance.id): a restarted process takes
		// over the group member of the process it replaces at once.
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.InstanceID(id))
	}
	var ln net.Listener
	if os.Getenv("STREAMS_CHILD_HTTP") != "" {
		// The interactive-query handler (package iq) on a port of its own,
		// which is the app's ApplicationServer: "HTTP <host:port>".
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer ln.Close()
		cfg.ApplicationServer = ln.Addr().String()
	}
	if os.Getenv("STREAMS_PRINT_LAG") != "" {
		// "STATE <unix ns> <new state>" on every change of the app's state.
		cfg.OnStateChange = func(_, s streams.State) { fmt.Printf("STATE %d %v\n", time.Now().UnixNano(), s) }
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ln != nil {
		h, err := iq.New(app, iq.Config{Logger: cfg.Logger, ForwardTimeout: 500 * time.Millisecond})
		if err == nil {
			err = iq.KeyValue[string, int64](h, "counts", iq.StringKeys(), serde.String())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		fmt.Printf("HTTP %s\n", ln.Addr())
	}
	if os.Getenv("STREAMS_PRINT_LAG") != "" {
		// "LAG <store> <partition> <kind> <lag>" for every local copy of a
		// store, every 200 ms, for a parent that waits for a standby.
		go func() {
			for ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
				lags, err := app.LagInfo(ctx)
				if err != nil {
					continue
				}
				for store, ps := range lags {
					for p, l := range ps {
						fmt.Printf("LAG %s %d %s %d\n", store, p, l.Kind, l.Lag)
					}
				}
			}
		}()
	}
	if err := app.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// childLogger is quiet, unless STREAMS_CHILD_LOG is set: then it logs at
// Info to standard error, which the parent keeps with the child's output.
func childLogger() *slog.Logger {
	if os.Getenv("STREAMS_CHILD_LOG") == "" {
		return quiet
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// printRestores prints each finished restore as a line the parent reads:
// "RESTORED <store> <task> <records> <microseconds>".
type printRestores struct{}

func (printRestores) OnRestoreStart(streams.RestoreEvent)  {}
func (printRestores) OnBatchRestored(streams.RestoreEvent) {}
func (printRestores) OnRestoreEnd(e streams.RestoreEvent) {
	fmt.Printf("RESTORED %s %s %d %d\n", e.Store, e.Task, e.Records, e.Elapsed.Microseconds())
}

// childRestores reads the lines of printRestores in a child's output: the
// records restored in all, the longest restore, and the "<store> <task>"
// restores it reported.
func childRestores(t *testing.T, out string) (records int64, longest time.Duration, restored map[string]bool) {
	t.Helper()
	restored = map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "RESTORED" {
			continue
		}
		n, err := strconv.ParseInt(f[3], 10, 64)
		require.NoError(t, err)
		us, err := strconv.ParseInt(f[4], 10, 64)
		require.NoError(t, err)
		records += n
		longest = max(longest, time.Duration(us)*time.Microsecond)
		restored[f[1]+" "+f[2]] = true
	}
	return records, longest, restored
}

type child struct {
	name    string
	cmd     *exec.Cmd
	out     lockedBuffer
	started time.Time
}

// lockedBuffer is a child's output, which the test may read while the
// child writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startChild(t *testing.T, c *embedded.Cluster, appID, name string, env ...string) *child {
	t.Helper()
	ch := &child{name: name}
	ch.cmd = exec.Command(os.Args[0], "-test.run=^$")
	ch.cmd.Env = append(append(os.Environ(),
		"STREAMS_CHILD="+name,
		"STREAMS_APP_ID="+appID,
		"STREAMS_BROKERS="+strings.Join(c.Addrs(), ","),
		"STREAMS_STATE_DIR="+t.TempDir(),
	), env...) // later entries win
	ch.cmd.Stdout, ch.cmd.Stderr = &ch.out, &ch.out
	require.NoError(t, ch.cmd.Start())
	ch.started = time.Now()
	t.Cleanup(func() {
		if ch.cmd.ProcessState == nil {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
	})
	return ch
}

// Three app processes share four partitions. One is stopped with SIGTERM,
// another killed with SIGKILL, while input keeps coming; the last one
// finishes the work. Under at-least-once nothing may be lost, and a record
// may be repeated only if the killed process processed it (work it had not
// committed).
func TestScaleOutAcrossProcessesSurvivesSIGTERMAndSIGKILL(t *testing.T) {
	t.Parallel()
	c := startCluster(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	ctx := ctxT(t)
	require.NoError(t, c.CreateTopic(ctx, "in", 4))
	require.NoError(t, c.CreateTopic(ctx, "out", 4))
	const appID = "scale"

	procs := map[string]*child{}
	for _, name := range []string{"P1", "P2", "P3"} {
		procs[name] = startChild(t, c, appID, name)
	}
	var produced []string
	produce := func(n int) {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = fmt.Sprintf("v%05d", len(produced)+i)
		}
		produceValues(t, c, "in", true, vs...)
		produced = append(produced, vs...)
	}

	// Keep records coming until each process has processed some, so all
	// three hold tasks when the signals come.
	produce(500)
	require.Eventually(t, func() bool {
		produce(20)
		seen := map[string]bool{}
		for _, where := range outputByValue(t, c) {
			for _, w := range where {
				seen[w[:2]] = true
			}
		}
		return len(seen) == 3
	}, 30*time.Second, 100*time.Millisecond, "all three processes processed records")

	// SIGTERM P1 while records flow.
	produce(500)
	require.NoError(t, procs["P1"].cmd.Process.Signal(syscall.SIGTERM))
	produce(500)
	require.NoError(t, procs["P1"].cmd.Wait(), "P1 exits cleanly on SIGTERM: %s", procs["P1"].out.String())

	// SIGKILL P2 in the middle of the flow.
	produce(500)
	require.NoError(t, procs["P2"].cmd.Process.Kill())
	_ = procs["P2"].cmd.Wait()
	afterKill := len(produced)
	produce(500)

	require.NoError(t, c.WaitCaughtUp(ctx, appID, "in"), "P3 takes over and commits everything")
	require.NoError(t, procs["P3"].cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, procs["P3"].cmd.Wait(), "P3: %s", procs["P3"].out.String())

	out := outputByValue(t, c)
	dups := 0
	all := produced
	for _, v := range all {
		where := out[v]
		require.NotEmpty(t, where, "%s was lost", v)
		if len(where) > 1 {
			dups++
			byP2 := false
			for _, w := range where {
				byP2 = byP2 || strings.HasPrefix(w, "P2/")
			}
			require.True(t, byP2, "%s was processed %d times (%v), but only the killed process may leave uncommitted work behind", v, len(where), where)
		}
	}
	require.Len(t, out, len(all), "no output for records that were never produced")

	// The kill mattered: P2 held tasks, and P3 runs them afterwards.
	p2Tasks := map[string]bool{}
	for _, where := range out {
		for _, w := range where {
			if strings.HasPrefix(w, "P2/") {
				p2Tasks[strings.TrimPrefix(w, "P2/")] = true
			}
		}
	}
	tookOver := false
	for _, v := range all[afterKill:] {
		for _, w := range out[v] {
			tookOver = tookOver || (strings.HasPrefix(w, "P3/") && p2Tasks[strings.TrimPrefix(w, "P3/")])
		}
	}
	require.True(t, tookOver, "after the kill, P3 runs tasks that P2 ran (P2 ran %v)", p2Tasks)
	t.Logf("%d records, %d repeated after SIGKILL", len(all), dups)
}
