package iq_test

// Helpers copied, small, from the root package's tests (package
// streams_test, which cannot be imported).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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

// startCluster starts an in-process Kafka that the test's cleanup stops.
func startCluster(t *testing.T) *embedded.Cluster {
	t.Helper()
	c, err := embedded.Start()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// config is a test app's config: quick commits and heartbeats, advertised
// as server.
func config(t *testing.T, c *embedded.Cluster, appID, server string) streams.Config {
	return streams.Config{
		ApplicationID:     appID,
		Brokers:           c.Addrs(),
		StateDir:          t.TempDir(),
		CommitInterval:    50 * time.Millisecond,
		Logger:            quiet,
		ApplicationServer: server,
		ClientOptions:     []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
	}
}

// start runs an app in the background; the test's cleanup closes it and
// waits for Run to return.
func start(t *testing.T, topo *topology.Topology, cfg streams.Config) *streams.App {
	t.Helper()
	app, err := streams.New(topo, cfg)
	require.NoError(t, err)
	errs := make(chan error, 1)
	go func() { errs <- app.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = app.Close()
		select {
		case err := <-errs:
			if err != nil && !errors.Is(err, streams.ErrClosed) {
				t.Errorf("app %s: Run: %v", cfg.ApplicationServer, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("app %s: Run did not return after Close", cfg.ApplicationServer)
		}
	})
	return app
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// until calls cond on the test's goroutine every 20 ms until it holds,
// failing the test with msg after timeout.
func until(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listen opens a listener on a free port of 127.0.0.1: its address is the
// app's ApplicationServer, so it is opened before the app starts.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// serve serves h on ln until the test's cleanup (or the caller) closes the
// returned server.
func serve(t *testing.T, ln net.Listener, h http.Handler) *http.Server {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serving %s: %v", ln.Addr(), err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return srv
}

var client = &http.Client{Timeout: 10 * time.Second}

// get GETs url and returns the status and the body, which must be JSON.
func get(t *testing.T, url string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), "%s: %s", url, body)
	require.True(t, json.Valid(body), "%s: %s", url, body)
	return resp.StatusCode, body
}

// getAs GETs url, requires status want, and decodes the body as T.
func getAs[T any](t *testing.T, want int, url string, header ...string) T {
	t.Helper()
	status, body := get(t, url, header...)
	require.Equal(t, want, status, "%s: %s", url, body)
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "%s: %s", url, body)
	return v
}

// getError GETs url and requires an Error body with status and code.
func getError(t *testing.T, status int, code, url string, header ...string) iq.Error {
	t.Helper()
	e := getAs[iq.Error](t, status, url, header...)
	require.Equal(t, status, e.Status, "%s: %+v", url, e)
	require.Equal(t, code, e.Code, "%s: %+v", url, e)
	require.NotEmpty(t, e.Message)
	return e
}

// counting re-keys "in" by value through a repartition topic and counts
// per key in the in-memory store "counts" (as the root package's tests'
// counting does).
func counting(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	rekey := topology.AddProcessor(b, "rekey", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec.WithKey(rec.Value))
	}), src)
	byKey := topology.AddRepartition(b, "by-key", topology.Repartition[string, string]{KeySerde: serde.String(), ValueSerde: serde.String()}, rekey)
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] {
		return &counter[string, string]{store: "counts"}
	}, byKey)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// counter counts its records per key in a key-value store.
type counter[K, V any] struct {
	store string
	st    state.KeyValueStore[K, int64]
}

func (c *counter[K, V]) Init(ctx processor.Context[K, int64]) error {
	var err error
	c.st, err = processor.GetStore[state.KeyValueStore[K, int64]](ctx, c.store)
	return err
}

func (c *counter[K, V]) Process(rec processor.Record[K, V]) error {
	n, _, err := c.st.Get(rec.Key)
	if err != nil {
		return err
	}
	return c.st.Put(rec.Key, n+1)
}

func (c *counter[K, V]) Close() error { return nil }

// countingTransport is a RoundTripper that counts the requests it sends,
// and those that failed, by host: a test of forwarding checks with it
// that the requests it expects were sent (and failed).
type countingTransport struct {
	rt http.RoundTripper
	mu struct {
		sync.Mutex
		sent, failed map[string]int
	}
}

func newCountingTransport() *countingTransport {
	c := &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
	c.mu.sent, c.mu.failed = map[string]int{}, map[string]int{}
	return c
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.sent[req.URL.Host]++
	if err != nil {
		c.mu.failed[req.URL.Host]++
	}
	return resp, err
}

func (c *countingTransport) counts(host string) (sent, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.sent[host], c.mu.failed[host]
}

// instance is one app instance with its handler served on a listener.
type instance struct {
	addr string
	app  *streams.App
	h    *iq.Handler
	srv  *http.Server
	tr   *countingTransport
	// hang makes the instance's server take requests and never answer
	// them, until the client gives up.
	hang atomic.Bool
}

// serveHanging serves in.h on ln, hanging while in.hang is set.
func (in *instance) serveHanging(t *testing.T, ln net.Listener) {
	in.srv = serve(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.hang.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		in.h.ServeHTTP(w, r)
	}))
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

// produce produces values, without keys, to topic.
func produce(t *testing.T, c *embedded.Cluster, topic string, values ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
}
