package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wordCountApp is a running word count (wordCountDSL with its store
// named "Counts") on an embedded cluster, with its monitor mounted at
// /monitor/ and its iq handler at /iq/ of a server on 127.0.0.1.
type wordCountApp struct {
	cluster *embedded.Cluster
	app     *streams.App
	topo    *topology.Topology
	iq      *iq.Handler
	mon     *Handler
	srv     *httptest.Server
	appID   string
	// counts are the words of the lines written, counted.
	counts map[string]int64
}

const (
	input  = "streams-plaintext-input"
	output = "streams-wordcount-output"
)

// startWordCount starts the cluster, writes lines to the input topic (2
// partitions), and runs the app with 2 threads until it has counted them.
func startWordCount(t *testing.T, appID string, lines []string) *wordCountApp {
	t.Helper()
	ctx := ctxT(t)
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.CreateTopic(ctx, input, 2))
	require.NoError(t, c.CreateTopic(ctx, output, 2))
	w := &wordCountApp{cluster: c, appID: appID, topo: wordCountDSL(t, "Counts"), counts: map[string]int64{}}
	var recs []*kgo.Record
	for i, l := range lines {
		recs = append(recs, &kgo.Record{Topic: input, Key: fmt.Appendf(nil, "line-%d", i), Value: []byte(l)})
		for _, word := range strings.Fields(strings.ToLower(l)) {
			w.counts[word]++
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	restores := &Restores{}
	w.app, err = streams.New(w.topo, streams.Config{
		ApplicationID:     appID,
		Brokers:           c.Addrs(),
		StateDir:          t.TempDir(),
		NumStreamThreads:  2,
		CommitInterval:    50 * time.Millisecond,
		ApplicationServer: ln.Addr().String(),
		RestoreListener:   restores,
		Logger:            quiet,
		ClientOptions:     []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- w.app.Run(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, w.app.Close())
		require.NoError(t, <-runErr)
	})

	w.iq, err = iq.New(w.app, iq.Config{Prefix: "/iq/", Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, iq.KeyValue[string, int64](w.iq, "Counts", iq.StringKeys(), serde.String()))
	w.mon, err = New(w.app, w.topo, Config{Title: "word count", IQ: w.iq, Restores: restores})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/monitor/", http.StripPrefix("/monitor", w.mon))
	mux.Handle("/iq/", w.iq)
	w.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	w.srv.Start()
	t.Cleanup(w.srv.Close)

	// The input comes once both threads run their tasks, so that each
	// task processes some of it where it runs (a task that moved between
	// the threads after the input was processed has processed nothing
	// there).
	require.Eventually(t, func() bool {
		running := 0
		for _, th := range w.app.LocalThreadsMetadata() {
			if th.State == "Running" && len(th.ActiveTasks) == 2 {
				running++
			}
		}
		return running == 2
	}, 30*time.Second, 20*time.Millisecond, "both threads run two tasks")
	require.NoError(t, c.Produce(ctx, recs...))

	require.NoError(t, c.WaitCaughtUp(ctx, appID, input, streams.RepartitionTopic(appID, "Counts")))
	return w
}

// get fetches path from the server and decodes its JSON into v, if v is
// not nil; it returns the status and the body.
func get(t *testing.T, srv *httptest.Server, path string, v any) (int, http.Header, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, v), "%s: %s", path, b)
	}
	return resp.StatusCode, resp.Header, b
}

// The state endpoint of a running word count: the app and every thread
// and task running, each input partition with its task and a lag of 0,
// each store copy active and caught up, and a throughput that adds up to
// the records the threads processed.
func TestStateOfARunningWordCount(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprintf("w%d w%d w%d", i%10, i%7, i%3))
	}
	w := startWordCount(t, "monitor-state", lines)
	repartition := streams.RepartitionTopic(w.appID, "Counts")

	var st Status
	require.Eventually(t, func() bool {
		st = Status{}
		code, _, b := get(t, w.srv, "/monitor/api/state", &st)
		if code != http.StatusOK {
			t.Logf("%d %s", code, b)
		}
		if code != http.StatusOK || st.State != "Running" || len(st.Partitions) != 4 {
			return false
		}
		for _, p := range st.Partitions {
			if p.Lag == nil || *p.Lag != 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "the app running, every partition fetched and caught up")

	require.Equal(t, "word count", st.Title)
	require.Equal(t, w.app.ApplicationServer(), st.Server)
	require.Len(t, st.Threads, 2)
	var tasks []string
	for _, th := range st.Threads {
		require.Equal(t, "Running", th.State, th.Name)
		require.True(t, strings.HasPrefix(th.Name, "monitor-state-thread-"), th.Name)
		for _, tk := range th.Active {
			require.Equal(t, "Running", tk.State, tk.ID)
			require.Len(t, tk.Partitions, 1, tk.ID)
			tasks = append(tasks, tk.ID)
		}
		require.Empty(t, th.Standby)
	}
	slices.Sort(tasks)
	require.Equal(t, []string{"0_0", "0_1", "1_0", "1_1"}, tasks)

	var parts []string
	for _, p := range st.Partitions {
		parts = append(parts, fmt.Sprintf("%s-%d %s", p.Topic, p.Partition, p.Task))
		require.NotNil(t, p.Processed, "%s-%d processed records", p.Topic, p.Partition)
		require.Positive(t, *p.Processed)
		require.Contains(t, []string{st.Threads[0].Name, st.Threads[1].Name}, p.Thread)
	}
	// Sub-topologies are numbered by their sources' names, as in Kafka
	// Streams: Counts-repartition-source's is 0.
	require.Equal(t, []string{repartition + "-0 0_0", repartition + "-1 0_1", input + "-0 1_0", input + "-1 1_1"}, parts,
		"sorted by topic and partition, each with its task")

	require.Empty(t, st.StoresError)
	require.Len(t, st.Stores, 2)
	for i, s := range st.Stores {
		require.Equal(t, "Counts", s.Store)
		require.EqualValues(t, i, s.Partition)
		require.Equal(t, fmt.Sprintf("0_%d", i), s.Task)
		require.Equal(t, "active", s.Kind)
		require.Zero(t, s.Lag)
		require.Equal(t, s.EndOffset, s.CurrentOffset)
	}
	for _, r := range st.Restores {
		require.True(t, r.Done, "the changelogs were empty at the start: each restore ended at once")
		require.Zero(t, r.Records)
		require.Equal(t, streams.ChangelogTopic(w.appID, "Counts"), r.Topic)
	}
	require.Positive(t, st.Counters.RecordsProcessed)
	require.Positive(t, st.Counters.Commits)

	// The throughput, over whole seconds, is every record each thread
	// processed (all of it within the graph's five minutes).
	want := w.app.Metrics().Sum("stream-thread-metrics", "process-total")
	require.EqualValues(t, 200+600, want, "200 lines and their 600 words")
	require.Eventually(t, func() bool {
		st = Status{}
		if code, _, b := get(t, w.srv, "/monitor/api/state", &st); code != http.StatusOK {
			t.Logf("%d %s", code, b)
		}
		tp := st.Throughput
		if len(tp.Times) < 2 {
			return false
		}
		total := 0.0
		for _, s := range tp.Threads {
			require.Len(t, s.Rates, len(tp.Times))
			prev := tp.Since
			for i, r := range s.Rates {
				require.GreaterOrEqual(t, r, 0.0)
				total += r * float64(tp.Times[i]-prev) / 1000
				prev = tp.Times[i]
			}
		}
		return total > want-0.5 && total < want+0.5
	}, 20*time.Second, 100*time.Millisecond, "the rates add up to the %v records processed", want)
	require.Len(t, st.Throughput.Threads, 2)
	require.True(t, slices.IsSorted(st.Throughput.Times))
	require.Less(t, st.Throughput.Since, st.Throughput.Times[0])
}

// The page, its assets and the picture: the page holds the picture
// inline, refers to everything with relative URLs and to nothing outside
// the monitor; every route answers with its content type.
func TestPageAndAssets(t *testing.T) {
	t.Parallel()
	w := startWordCount(t, "monitor-page", []string{"hello kafka streams", "hello go"})

	code, hdr, page := get(t, w.srv, "/monitor/", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	html := string(page)
	require.Contains(t, html, "<title>word count</title>")
	require.Contains(t, html, w.mon.SVG(), "the picture inline")
	require.Contains(t, html, `src="static/monitor.js"`)
	require.Contains(t, html, `href="static/monitor.css"`)
	require.Contains(t, html, `data-iq="true"`)
	require.NotRegexp(t, `(src|href)="(https?:)?//`, html, "nothing from elsewhere")

	code, hdr, svg := get(t, w.srv, "/monitor/topology.svg", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "image/svg+xml", hdr.Get("Content-Type"))
	p := parseSVG(t, string(svg))
	for _, n := range allNodes(w.topo.Describe()) {
		require.Contains(t, p.nodes, n.Name)
	}
	require.Equal(t, map[string]bool{"Counts": true}, p.stores)
	require.Equal(t, map[string]bool{input: true, output: true, "Counts-repartition": true}, p.topics)

	for path, typ := range map[string]string{
		"/monitor/static/monitor.js":  "text/javascript; charset=utf-8",
		"/monitor/static/monitor.css": "text/css; charset=utf-8",
	} {
		code, hdr, b := get(t, w.srv, path, nil)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, typ, hdr.Get("Content-Type"), path)
		require.NotEmpty(t, b)
		rest := strings.ReplaceAll(string(b), `"http://www.w3.org/2000/svg"`, "") // a namespace, not a fetch
		require.False(t, strings.Contains(rest, "http://") || strings.Contains(rest, "https://"), "%s fetches nothing from elsewhere", path)
	}
	js, _ := assets.ReadFile("assets/monitor.js")
	for _, url := range []string{`"api/state"`, `"iq/stores"`} {
		require.Contains(t, string(js), url, "relative URLs")
	}

	var e apiError
	code, _, b := get(t, w.srv, "/monitor/nothing-here", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.NoError(t, json.Unmarshal(b, &e))
	require.Contains(t, e.Error, "no route GET /nothing-here")

	// Mounted with the other StripPrefix, the root's path is "".
	srv := httptest.NewServer(http.StripPrefix("/m/", w.mon))
	defer srv.Close()
	code, _, page2 := get(t, srv, "/m/", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, page, page2)
	code, _, _ = get(t, srv, "/m/api/state", nil)
	require.Equal(t, http.StatusOK, code)
}

// The store browser's requests reach the iq handler through the monitor,
// whatever the iq handler's prefix, with escaped keys intact.
func TestStoreBrowserReadsThroughIQ(t *testing.T) {
	t.Parallel()
	w := startWordCount(t, "monitor-iq", []string{"hello kafka a/b", "hello go a/b hello", "x%2Fy ?q=1 #f"})

	var stores iq.StoresResult
	code, _, b := get(t, w.srv, "/monitor/iq/stores", &stores)
	require.Equal(t, http.StatusOK, code, string(b))
	require.Equal(t, []iq.StoreInfo{{Name: "Counts", Type: "key-value"}}, stores.Stores)

	// Every entry, from both partitions, equals the lines' counts. Once
	// the app caught up its counts are committed, but a query may come
	// during the tail of a rebalance (a 503, or a task that moved between
	// the threads and is not running yet, so one partition is missing):
	// retry until both partitions answer.
	var all iq.EntriesResult[string, int64]
	require.Eventually(t, func() bool {
		all = iq.EntriesResult[string, int64]{}
		code, _, b := get(t, w.srv, "/monitor/iq/stores/Counts/keys?limit=1000", &all)
		if code != http.StatusOK {
			t.Logf("%d %s", code, b)
		}
		return code == http.StatusOK && len(all.Partitions) == 2
	}, 10*time.Second, 50*time.Millisecond)
	got := map[string]int64{}
	for _, e := range all.Entries {
		got[e.Key] = e.Value
	}
	require.Equal(t, w.counts, got)
	require.Equal(t, []int32{0, 1}, all.Partitions)

	for word, n := range w.counts {
		var kr iq.KeyResult[string, int64]
		code, _, b := get(t, w.srv, "/monitor/iq/stores/Counts/keys/"+url.PathEscape(word), &kr)
		require.Equal(t, http.StatusOK, code, "%q: %s", word, b)
		require.Equal(t, word, kr.Key)
		require.Equal(t, n, kr.Value, word)
	}

	var limited iq.EntriesResult[string, int64]
	code, _, _ = get(t, w.srv, "/monitor/iq/stores/Counts/keys?limit=1&from=g&to=i", &limited)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, limited.Entries, 1)
	require.Contains(t, []string{"go", "hello"}, limited.Entries[0].Key)

	var ie iq.Error
	code, _, b = get(t, w.srv, "/monitor/iq/stores/Nope/keys", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.NoError(t, json.Unmarshal(b, &ie))
	require.Equal(t, iq.CodeUnknownStore, ie.Code)

	// A monitor without an iq handler says how to get one.
	m, err := New(w.app, w.topo, Config{})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/iq/stores", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), "set monitor.Config.IQ")
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Contains(t, rec.Body.String(), `data-iq="false"`)
	require.Contains(t, rec.Body.String(), "<title>streams monitor</title>", "the default title")
}

// slowRestore makes each restored batch take a while, so that a restore
// lasts long enough to be watched.
type slowRestore struct{}

func (*slowRestore) OnRestoreStart(streams.RestoreEvent)  {}
func (*slowRestore) OnBatchRestored(streams.RestoreEvent) { time.Sleep(100 * time.Millisecond) }
func (*slowRestore) OnRestoreEnd(streams.RestoreEvent)    {}

// A long restore shows on the monitor while it runs: the task Restoring,
// its store's copy "restoring" with a lag that shrinks, a restore under
// way between its start and end offsets; then the restore done with every
// record, the copy active and caught up.
func TestLongRestoreShowsOnTheMonitor(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.CreateTopic(ctx, "in", 1))
	const appID, n = "monitor-restore", 100_000
	changelog := streams.ChangelogTopic(appID, "counts")
	compact := "compact"
	resp, err := c.Admin().CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, changelog)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		v, _ := serde.Int64().Serialize(int64(i))
		recs = append(recs, &kgo.Record{Topic: changelog, Key: fmt.Appendf(nil, "k%d", i), Value: v})
	}
	require.NoError(t, c.Produce(ctx, recs...))

	b := topology.NewBuilder()
	in := topology.AddSource(b, "in", src("in"))
	topology.AddProcessor(b, "count", processor.Func(func(ctx processor.Context[string, int64], rec processor.Record[string, string]) error {
		return nil
	}), in)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topo, err := b.Build()
	require.NoError(t, err)

	restores := &Restores{Next: &slowRestore{}}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: appID, Brokers: c.Addrs(), StateDir: t.TempDir(), CommitInterval: 50 * time.Millisecond,
		RestoreListener: restores, Logger: quiet,
		ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	})
	require.NoError(t, err)
	m, err := New(app, topo, Config{Restores: restores})
	require.NoError(t, err)
	srv := httptest.NewServer(m)
	defer srv.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(context.Background()) }()
	defer func() {
		require.NoError(t, app.Close())
		require.NoError(t, <-runErr)
	}()

	var sawTask, sawLag, sawRestore bool
	var lags []int64
	var st Status
	require.Eventually(t, func() bool {
		st = Status{}
		get(t, srv, "/api/state", &st)
		for _, th := range st.Threads {
			for _, tk := range th.Active {
				sawTask = sawTask || tk.State == "Restoring"
			}
		}
		for _, s := range st.Stores {
			if s.Kind == "restoring" && s.Lag > 0 {
				sawLag = true
				require.Equal(t, "counts", s.Store)
				require.EqualValues(t, n, s.EndOffset)
				require.Equal(t, s.EndOffset-s.CurrentOffset, s.Lag)
				lags = append(lags, s.Lag)
			}
		}
		for _, r := range st.Restores {
			if !r.Done && r.Offset > r.StartOffset && r.Offset < r.EndOffset {
				sawRestore = true
				require.Equal(t, "counts", r.Store)
				require.Equal(t, "0_0", r.Task)
				require.Equal(t, changelog, r.Topic)
				require.Zero(t, r.StartOffset)
				require.EqualValues(t, n, r.EndOffset)
				require.Equal(t, r.Offset, r.Records, "from offset 0, the next offset is the count restored")
			}
		}
		return len(st.Restores) == 1 && st.Restores[0].Done
	}, 60*time.Second, 20*time.Millisecond)
	require.True(t, sawTask, "the task was seen Restoring")
	require.True(t, sawLag, "the store's copy was seen restoring, with a lag")
	require.True(t, sawRestore, "the restore was seen under way")
	require.True(t, slices.IsSortedFunc(lags, func(a, b int64) int { return int(b - a) }), "the lag only shrinks: %v", lags)
	require.Greater(t, lags[0], lags[len(lags)-1], "the lag shrank while we watched: %v", lags)

	done := st.Restores[0]
	require.EqualValues(t, n, done.Records)
	require.EqualValues(t, n, done.Offset)
	require.Positive(t, done.ElapsedMillis)
	require.False(t, done.Ended.Before(done.Started))
	require.Eventually(t, func() bool {
		st = Status{}
		get(t, srv, "/api/state", &st)
		return st.State == "Running" && len(st.Stores) == 1 && st.Stores[0].Kind == "active" && st.Stores[0].Lag == 0
	}, 30*time.Second, 20*time.Millisecond)
}

// Config.Validate names every field set wrong; New refuses a nil app or
// topology.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{}.Validate())
	require.NoError(t, Config{Refresh: 2 * time.Second, Throughput: 10 * time.Minute, LagTimeout: time.Second, StoreRows: 10}.Validate())
	err := Config{Refresh: time.Millisecond, Throughput: time.Hour, LagTimeout: -1, StoreRows: -1}.Validate()
	require.Error(t, err)
	for _, field := range []string{"Config.Refresh", "Config.Throughput", "Config.LagTimeout", "Config.StoreRows"} {
		require.Contains(t, err.Error(), field)
	}
	topo := wordCountDSL(t, "Counts")
	app, err := streams.New(topo, streams.Config{ApplicationID: "validate", Brokers: []string{"127.0.0.1:1"}, StateDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	_, err = New(nil, topo, Config{})
	require.ErrorContains(t, err, "nil app")
	_, err = New(app, nil, Config{})
	require.ErrorContains(t, err, "nil topology")
	_, err = New(app, topo, Config{StoreRows: -1})
	require.ErrorContains(t, err, "Config.StoreRows")
}
