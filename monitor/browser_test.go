//go:build browser

package monitor

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// The browser tests load the page in headless chromium (Debian's; make
// browser-test installs it) and wait, by asking the page's DOM, until it
// shows what the app is doing; then they save a screenshot of the whole
// page: under -artifacts in the test's artifact directory
// (testing.T.ArtifactDir), otherwise in testdata/out/ (ignored by git).
// The test logs the path.

const screenWidth, screenHeight = 1400, 1000

// saveScreenshot writes png as name and logs where.
func saveScreenshot(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "out")
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		dir = t.ArtifactDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path, err := filepath.Abs(filepath.Join(dir, name))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err, "a PNG")
	t.Logf("screenshot (%dx%d): %s", img.Bounds().Dx(), img.Bounds().Dy(), path)
	require.Equal(t, screenWidth, img.Bounds().Dx())
}

// pageView is what the page shows, read from its DOM.
type pageView struct {
	State      string     `json:"state"`
	Nodes      []string   `json:"nodes"`
	Stores     []string   `json:"stores"`
	Topics     []string   `json:"topics"`
	Threads    []string   `json:"threads"`
	Tasks      [][]string `json:"tasks"` // id, state
	Partitions int        `json:"partitions"`
	Entries    [][]string `json:"entries"`   // key, value
	Chart      int        `json:"chart"`     // the graph's points`
	Restoring  []string   `json:"restoring"` // stores outlined in the picture
	Restores   []string   `json:"restores"`  // the restore panel's lines
	StoreRows  [][]string `json:"store_rows"`
	Error      string     `json:"error"`
}

const readPage = `(() => {
  const all = (sel, f) => Array.from(document.querySelectorAll(sel), f);
  const err = document.getElementById("error");
  if (!err) return {}; // not loaded yet
  return {
    state: document.getElementById("app-state").textContent,
    nodes: all("svg.topology g.node", (g) => g.getAttribute("data-node")),
    stores: all("svg.topology g.store", (g) => g.getAttribute("data-store")),
    topics: all("svg.topology g.topic", (g) => g.getAttribute("data-topic")),
    threads: all("#threads .thread", (d) => d.getAttribute("data-thread")),
    tasks: all("#threads tr[data-task]", (tr) => [tr.cells[0].textContent, tr.cells[2].textContent]),
    partitions: document.querySelectorAll("#partitions tbody tr td.mono").length / 3,
    entries: all("#entries-table tbody tr[data-key]", (tr) => [tr.cells[0].textContent, tr.cells[tr.cells.length - 1].textContent]),
    chart: ((document.querySelector("#throughput svg polyline") || {getAttribute: () => ""}).getAttribute("points") || "").split(" ").filter(Boolean).length,
    restoring: all("svg.topology g.store.restoring", (g) => g.getAttribute("data-store")),
    restores: all("#restores .restore", (d) => d.textContent),
    store_rows: all("#stores tbody tr[data-store]", (tr) => Array.from(tr.cells, (c) => c.textContent)),
    error: err.hidden ? "" : err.textContent,
  };
})()`

// waitFor reads the page until ok says it shows what the test waits for.
func waitFor(t *testing.T, ctx context.Context, b *browser, what string, ok func(pageView) bool) pageView {
	t.Helper()
	var v pageView
	for {
		v = pageView{}
		b.must(t, b.eval(ctx, readPage, &v))
		if ok(v) {
			return v
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page never showed %s; it shows %+v; its problems: %q", what, v, b.problems())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A word count's monitor in chromium: the page shows the topology (every
// node, store and topic of the picture), the app and its threads and
// tasks running, the input partitions, a throughput graph, and in the
// store browser a word with its count, read through the iq handler.
func TestBrowserShowsTheRunningWordCount(t *testing.T) {
	text := []string{
		"Kafka Streams is a client library for building applications and microservices",
		"where the input and output data are stored in Kafka clusters",
		"it combines the simplicity of writing and deploying standard Go applications",
		"with the benefits of Kafka's server-side cluster technology",
		"the word count counts every word of the input and writes every new count to the output",
	}
	w := startWordCount(t, "monitor-browser", text)
	want := fmt.Sprint(w.counts["kafka"])
	require.Equal(t, "2", want, "kafka's is a word of its own")

	// Keep records flowing, so that the graph has something to draw; none
	// holds the word checked.
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			_ = w.cluster.Produce(ctx, &kgo.Record{Topic: input, Key: fmt.Appendf(nil, "tick-%d", i), Value: fmt.Appendf(nil, "tick tock %d", i%5)})
			time.Sleep(10 * time.Millisecond)
		}
	}()

	b := startBrowser(t, screenWidth, screenHeight)
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	b.must(t, b.navigate(wctx, w.srv.URL+"/monitor/"))

	var names []string
	for _, n := range allNodes(w.topo.Describe()) {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	v := waitFor(t, wctx, b, "the running app, its topology and the count of \"kafka\"", func(v pageView) bool {
		hasWord := slices.ContainsFunc(v.Entries, func(e []string) bool { return e[0] == "kafka" && e[1] == want })
		running := len(v.Tasks) == 4 && !slices.ContainsFunc(v.Tasks, func(tk []string) bool { return tk[1] != "Running" })
		return v.State == "Running" && len(v.Nodes) == len(names) && hasWord && running && v.Chart >= 5 && len(v.Threads) == 2
	})
	got := slices.Clone(v.Nodes)
	slices.Sort(got)
	require.Equal(t, names, got, "every node in the picture")
	require.Equal(t, []string{"Counts"}, v.Stores)
	require.ElementsMatch(t, []string{input, "Counts-repartition", "Counts-repartition", output}, v.Topics,
		"the repartition topic in both sub-topologies")
	require.Equal(t, 4, v.Partitions)
	require.Len(t, v.StoreRows, 2, "a copy of Counts per partition")
	require.Empty(t, v.Error)
	require.Empty(t, b.problems(), "no script errors")

	// The browser's range search, as a user types it: from "kafka" on,
	// in key order. Then the screenshot shows the word at the top.
	b.must(t, b.eval(wctx, `(() => { document.getElementById("from").value = "kafka"; document.getElementById("browser").requestSubmit(); })()`, nil))
	v = waitFor(t, wctx, b, "the entries from \"kafka\" on", func(v pageView) bool {
		return len(v.Entries) > 1 && v.Entries[0][0] == "kafka" && v.Entries[0][1] == want
	})
	require.True(t, slices.IsSortedFunc(v.Entries, func(a, b []string) int { return strings.Compare(a[0], b[0]) }), "in key order: %v", v.Entries)
	shot, err := b.screenshot(wctx, screenWidth)
	require.NoError(t, err)
	saveScreenshot(t, "monitor.png", shot)
	b.must(t, b.resize(wctx, screenWidth, screenHeight))

	// A key's lookup: the one entry.
	b.must(t, b.eval(wctx, `(() => { document.getElementById("from").value = ""; document.getElementById("key").value = "kafka"; document.getElementById("browser").requestSubmit(); })()`, nil))
	waitFor(t, wctx, b, "the entry of \"kafka\" alone", func(v pageView) bool {
		return len(v.Entries) == 1 && v.Entries[0][0] == "kafka" && v.Entries[0][1] == want
	})
	require.Empty(t, b.problems(), "no script errors")
}

// A long restore shows on the page while it runs: the store outlined in
// the picture, its copy restoring with a lag in the stores table, and the
// restore panel's progress; then the restore done.
func TestBrowserShowsALongRestore(t *testing.T) {
	ctx := ctxT(t)
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.CreateTopic(ctx, "in", 1))
	const appID, n = "monitor-browser-restore", 100_000
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

	bld := topology.NewBuilder()
	in := topology.AddSource(bld, "in", src("in"))
	topology.AddProcessor(bld, "count", processor.Func(func(processor.Context[string, int64], processor.Record[string, string]) error {
		return nil
	}), in)
	bld.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topo, err := bld.Build()
	require.NoError(t, err)

	// Slower batches than in the Go test: the page must be read while
	// the restore runs.
	restores := &Restores{Next: slowerRestore{}}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: appID, Brokers: c.Addrs(), StateDir: t.TempDir(), CommitInterval: 50 * time.Millisecond,
		RestoreListener: restores, Logger: quiet,
		ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	})
	require.NoError(t, err)
	m, err := New(app, topo, Config{Title: "a long restore", Restores: restores, Refresh: 200 * time.Millisecond})
	require.NoError(t, err)
	srv := newServer(t, m)
	runErr := make(chan error, 1)

	b := startBrowser(t, screenWidth, screenHeight)
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	b.must(t, b.navigate(wctx, srv.URL+"/"))
	go func() { runErr <- app.Run(context.Background()) }()
	defer func() {
		require.NoError(t, app.Close())
		require.NoError(t, <-runErr)
	}()

	v := waitFor(t, wctx, b, "the restore under way, past 30,000", func(v pageView) bool {
		if len(v.Restoring) != 1 || len(v.Restores) != 1 || !strings.Contains(v.Restores[0], "to go") ||
			len(v.StoreRows) != 1 || v.StoreRows[0][3] != "Restoring" {
			return false
		}
		offset, err := strconv.Atoi(strings.ReplaceAll(v.StoreRows[0][4], ",", ""))
		return err == nil && offset >= 30_000
	})
	require.Equal(t, []string{"counts"}, v.Restoring, "the store outlined in the picture")
	require.Contains(t, v.Restores[0], "counts · task 0_0 · "+changelog+"-0")
	require.Contains(t, v.Restores[0], "of 100,000")
	require.Equal(t, "100,000", v.StoreRows[0][5], "the changelog's end")
	require.Contains(t, []string{"Rebalancing"}, v.State)
	shot, err := b.screenshot(wctx, screenWidth)
	require.NoError(t, err)
	saveScreenshot(t, "restore.png", shot)
	b.must(t, b.resize(wctx, screenWidth, screenHeight))

	v = waitFor(t, wctx, b, "the restore done", func(v pageView) bool {
		return v.State == "Running" && len(v.Restoring) == 0 && len(v.Restores) == 1 && strings.Contains(v.Restores[0], "restored 100,000 records in")
	})
	require.Equal(t, "active", v.StoreRows[0][3])
	require.Empty(t, b.problems(), "no script errors")
}

type slowerRestore struct{}

func (slowerRestore) OnRestoreStart(streams.RestoreEvent)  {}
func (slowerRestore) OnBatchRestored(streams.RestoreEvent) { time.Sleep(300 * time.Millisecond) }
func (slowerRestore) OnRestoreEnd(streams.RestoreEvent)    {}

func newServer(t *testing.T, h *Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
