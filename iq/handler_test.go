package iq_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// shop reads "clicks" (string keys) into a count per key ("counts"), a
// count per key and minute ("clicks", a window store) and a count per
// key and visit ("visits", a session store with a 30 s gap), and
// "numbers" (int64 keys and values) into a sum per key ("sums").
func shop(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	clicks := topology.AddSource(b, "clicks-src", topology.Source[string, string]{Topics: []string{"clicks"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] {
		return &counter[string, string]{store: "counts"}
	}, clicks)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
	topology.AddProcessor(b, "per-minute", func() processor.Processor[string, string, string, string] { return &perMinute{} }, clicks)
	b.AddStateStore(state.NewWindowStoreBuilder(state.InMemoryWindowStore("clicks", 24*time.Hour, time.Minute, false), serde.String(), serde.Int64()), "per-minute")
	topology.AddProcessor(b, "per-visit", func() processor.Processor[string, string, string, string] { return &perVisit{} }, clicks)
	b.AddStateStore(state.NewSessionStoreBuilder(state.InMemorySessionStore("visits", 24*time.Hour), serde.String(), serde.Int64()), "per-visit")
	numbers := topology.AddSource(b, "numbers-src", topology.Source[int64, int64]{Topics: []string{"numbers"}, KeySerde: serde.Int64(), ValueSerde: serde.Int64()})
	topology.AddProcessor(b, "sum", func() processor.Processor[int64, int64, int64, int64] { return &summer{} }, numbers)
	b.AddStateStore(state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("sums"), serde.Int64(), serde.Int64()), "sum")
	topo, err := b.Build()
	require.NoError(t, err)
	return topo
}

// perMinute counts each key's records per one-minute window.
type perMinute struct {
	st state.WindowStore[string, int64]
}

func (p *perMinute) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.WindowStore[string, int64]](ctx, "clicks")
	return err
}

func (p *perMinute) Process(rec processor.Record[string, string]) error {
	start := rec.Timestamp.Truncate(time.Minute)
	n, _, err := p.st.FetchOne(rec.Key, start)
	if err != nil {
		return err
	}
	return p.st.Put(rec.Key, n+1, start)
}

func (p *perMinute) Close() error { return nil }

const visitGap = 30 * time.Second

// perVisit counts each key's records per session: a record merges every
// session within visitGap of it.
type perVisit struct {
	st state.SessionStore[string, int64]
}

func (p *perVisit) Init(ctx processor.Context[string, string]) error {
	var err error
	p.st, err = processor.GetStore[state.SessionStore[string, int64]](ctx, "visits")
	return err
}

func (p *perVisit) Process(rec processor.Record[string, string]) error {
	merged := state.Windowed[string]{Key: rec.Key, Start: rec.Timestamp, End: rec.Timestamp}
	n := int64(1)
	var old []state.Windowed[string]
	for kv, err := range p.st.FindSessions(rec.Key, rec.Timestamp.Add(-visitGap), rec.Timestamp.Add(visitGap)) {
		if err != nil {
			return err
		}
		old = append(old, kv.Key)
		n += kv.Value
		if kv.Key.Start.Before(merged.Start) {
			merged.Start = kv.Key.Start
		}
		if kv.Key.End.After(merged.End) {
			merged.End = kv.Key.End
		}
	}
	for _, s := range old {
		if err := p.st.Remove(s); err != nil {
			return err
		}
	}
	return p.st.Put(merged, n)
}

func (p *perVisit) Close() error { return nil }

// summer sums each key's values.
type summer struct {
	st state.KeyValueStore[int64, int64]
}

func (s *summer) Init(ctx processor.Context[int64, int64]) error {
	var err error
	s.st, err = processor.GetStore[state.KeyValueStore[int64, int64]](ctx, "sums")
	return err
}

func (s *summer) Process(rec processor.Record[int64, int64]) error {
	n, _, err := s.st.Get(rec.Key)
	if err != nil {
		return err
	}
	return s.st.Put(rec.Key, n+rec.Value)
}

func (s *summer) Close() error { return nil }

var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// One app, its handler mounted at /iq/ in the user's own mux: every route
// of every store type, the errors, the metadata.
func TestHandlerServesEveryStoreTypeOfOneApp(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "clicks", 2))
	require.NoError(t, c.CreateTopic(ctxT(t), "numbers", 2))
	ln := listen(t)
	addr := ln.Addr().String()
	app := start(t, shop(t), config(t, c, "shop", addr))

	h, err := iq.New(app, iq.Config{Server: addr, Prefix: "/iq/", Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, iq.KeyValue[string, int64](h, "counts", iq.StringKeys(), serde.String()))
	require.NoError(t, iq.Window[string, int64](h, "clicks", iq.StringKeys(), serde.String()))
	require.NoError(t, iq.Session[string, int64](h, "visits", iq.StringKeys(), serde.String()))
	require.NoError(t, iq.KeyValue[int64, int64](h, "sums", iq.Int64Keys(), serde.Int64()))
	mux := http.NewServeMux()
	mux.Handle("/iq/", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	serve(t, ln, mux)

	// Each of 4 users visits twice, 10 minutes apart, 3 clicks 10 s apart
	// each time: 6 clicks, two sessions of 3, in two minute-windows of 3.
	// "team/red" (a key with a '/') clicks once.
	var recs []*kgo.Record
	for visit := range 2 {
		for click := range 3 {
			for u := range 4 {
				at := base.Add(time.Duration(visit)*10*time.Minute + time.Duration(click)*10*time.Second)
				recs = append(recs, &kgo.Record{Topic: "clicks", Key: fmt.Appendf(nil, "user-%d", u), Value: []byte("click"), Timestamp: at})
			}
		}
	}
	recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte("team/red"), Value: []byte("click"), Timestamp: base})
	for k := int64(-2); k <= 3; k++ { // sums[k] = 2 * 10k
		for range 2 {
			kb, _ := serde.Int64().Serialize(k)
			vb, _ := serde.Int64().Serialize(10 * k)
			recs = append(recs, &kgo.Record{Topic: "numbers", Key: kb, Value: vb})
		}
	}
	require.NoError(t, c.Produce(ctxT(t), recs...))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "shop", "clicks", "numbers"))
	u := func(path string) string { return "http://" + addr + "/iq/" + path }
	partitionOf := func(key string) int32 {
		md, err := streams.QueryMetadataForKey(app, "counts", key, serde.String())
		require.NoError(t, err)
		return md.Partition
	}

	t.Run("key found", func(t *testing.T) {
		got := getAs[iq.KeyResult[string, int64]](t, 200, u("stores/counts/keys/user-1"))
		require.Equal(t, iq.KeyResult[string, int64]{
			Source: iq.Source{Store: "counts", Host: addr, Stale: false, Partitions: []int32{partitionOf("user-1")}},
			Key:    "user-1", Value: 6,
		}, got)
		got = getAs[iq.KeyResult[string, int64]](t, 200, u("stores/counts/keys/team%2Fred"))
		require.Equal(t, "team/red", got.Key)
		require.Equal(t, int64(1), got.Value)
		n := getAs[iq.KeyResult[int64, int64]](t, 200, u("stores/sums/keys/-2"))
		require.Equal(t, int64(-2), n.Key)
		require.Equal(t, int64(-40), n.Value)
		// The raw JSON, as a client of another language sees it.
		_, body := get(t, u("stores/sums/keys/3"))
		var raw map[string]any
		require.NoError(t, json.Unmarshal(body, &raw))
		require.Equal(t, map[string]any{"store": "sums", "host": addr, "stale": false, "partitions": raw["partitions"], "key": 3.0, "value": 60.0}, raw)
	})

	t.Run("key missing", func(t *testing.T) {
		e := getError(t, 404, iq.CodeKeyNotFound, u("stores/counts/keys/nobody"))
		require.Equal(t, "counts", e.Store)
		require.Equal(t, addr, e.Host)
		require.Contains(t, e.Message, `"nobody"`)
		getError(t, 404, iq.CodeKeyNotFound, u("stores/sums/keys/99"))
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct{ path, param, says string }{
			{"stores/sums/keys/abc", "key", `"abc" is not a decimal int64`},
			{"stores/sums/keys?from=1&to=x", "to", `"x" is not a decimal int64`},
			{"stores/counts/keys?prefix=user-&from=a", "prefix", "no from or to"},
			{"stores/counts/keys?prefix=user-&reverse=true", "reverse", "no reverse"},
			{"stores/counts/keys?limit=0", "limit", "positive"},
			{"stores/counts/keys?limit=many", "limit", "positive"},
			{"stores/counts/keys?reverse=maybe", "reverse", "true or false"},
			{"stores/counts/keys/user-1?stale=perhaps", "stale", "true or false"},
			{"stores/counts/keys/user-1?form=a", "form", "takes stale"},
			{"stores/counts/keys?limit=1&limit=2", "limit", "given 2 times"},
			{"stores/clicks/windows/user-1?from=yesterday", "from", "RFC 3339"},
			{"stores/clicks/windows?to=2026-13-01T00:00:00Z", "to", "RFC 3339"},
			{"stores/visits/sessions/user-1?from=10:00", "from", "RFC 3339"},
			{"stores/visits/sessions?from=" + url.QueryEscape(base.Format(time.RFC3339)), "from", "takes reverse, limit, stale"},
			{"metadata?verbose=1", "verbose", "takes none"},
		} {
			e := getError(t, 400, iq.CodeBadRequest, u(tc.path))
			require.Equal(t, tc.param, e.Param, tc.path)
			require.Contains(t, e.Message, tc.says, tc.path)
			require.Contains(t, e.Message, `"`+tc.param+`"`, "the message names the parameter: %s", tc.path)
		}
	})

	t.Run("range", func(t *testing.T) {
		keys := func(path string) ([]string, iq.EntriesResult[string, int64]) {
			t.Helper()
			r := getAs[iq.EntriesResult[string, int64]](t, 200, u(path))
			var ks []string
			for _, e := range r.Entries {
				ks = append(ks, fmt.Sprintf("%s=%d", e.Key, e.Value))
			}
			return ks, r
		}
		all, r := keys("stores/counts/keys")
		require.Equal(t, []string{"team/red=1", "user-0=6", "user-1=6", "user-2=6", "user-3=6"}, all)
		require.Equal(t, iq.Source{Store: "counts", Host: addr, Partitions: []int32{0, 1}}, r.Source, "local only: both partitions are here")
		require.False(t, r.Truncated)
		got, _ := keys("stores/counts/keys?from=user-1&to=user-2")
		require.Equal(t, []string{"user-1=6", "user-2=6"}, got, "both bounds inclusive")
		got, _ = keys("stores/counts/keys?from=user-2")
		require.Equal(t, []string{"user-2=6", "user-3=6"}, got, "open to")
		got, _ = keys("stores/counts/keys?to=user-0")
		require.Equal(t, []string{"team/red=1", "user-0=6"}, got, "open from")
		got, _ = keys("stores/counts/keys?to=user-1&reverse=true")
		require.Equal(t, []string{"user-1=6", "user-0=6", "team/red=1"}, got)
		got, _ = keys("stores/counts/keys?prefix=user-")
		require.Equal(t, []string{"user-0=6", "user-1=6", "user-2=6", "user-3=6"}, got)
		got, r = keys("stores/counts/keys?limit=2&reverse")
		require.Equal(t, []string{"user-3=6", "user-2=6"}, got)
		require.True(t, r.Truncated)
		_, r = keys("stores/counts/keys?limit=5")
		require.False(t, r.Truncated, "exactly limit entries")
		got, _ = keys("stores/counts/keys?from=x")
		require.Empty(t, got)
		sums := getAs[iq.EntriesResult[int64, int64]](t, 200, u("stores/sums/keys?from=-1&to=2"))
		require.Equal(t, []iq.Entry[int64, int64]{{Key: -1, Value: -20}, {Key: 0, Value: 0}, {Key: 1, Value: 20}, {Key: 2, Value: 40}}, sums.Entries,
			"in numeric order: the int64 serde keeps it")
	})

	t.Run("window fetch", func(t *testing.T) {
		r := getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows/user-2"))
		require.Equal(t, iq.Source{Store: "clicks", Host: addr, Partitions: []int32{partitionOf("user-2")}}, r.Source)
		require.Equal(t, []iq.Windowed[string, int64]{
			{Key: "user-2", Start: base, Value: 3},
			{Key: "user-2", Start: base.Add(10 * time.Minute), Value: 3},
		}, r.Windows)
		from := url.QueryEscape(base.Add(5 * time.Minute).Format(time.RFC3339))
		r = getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows/user-2?from="+from))
		require.Equal(t, []iq.Windowed[string, int64]{{Key: "user-2", Start: base.Add(10 * time.Minute), Value: 3}}, r.Windows)
		// Unix milliseconds, and an offset other than Z.
		r = getAs[iq.WindowsResult[string, int64]](t, 200, u(fmt.Sprintf("stores/clicks/windows/user-2?to=%d", base.UnixMilli())))
		require.Len(t, r.Windows, 1)
		to := url.QueryEscape(base.In(time.FixedZone("", 9*3600)).Format(time.RFC3339))
		r = getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows/user-2?reverse=true&to="+to))
		require.Equal(t, []iq.Windowed[string, int64]{{Key: "user-2", Start: base, Value: 3}}, r.Windows)
		r = getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows/nobody"))
		require.Empty(t, r.Windows)
		require.NotNil(t, r.Windows, "an empty list, not null")

		all := getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows"))
		require.Equal(t, []int32{0, 1}, all.Partitions)
		total := int64(0)
		for _, w := range all.Windows {
			require.Equal(t, time.Minute, w.End.Sub(w.Start), "%+v", w)
			total += w.Value
		}
		require.Equal(t, int64(4*6+1), total)
		require.Len(t, all.Windows, 4*2+1)
		first := getAs[iq.WindowsResult[string, int64]](t, 200, u("stores/clicks/windows?from="+from+"&limit=3"))
		require.Len(t, first.Windows, 3)
		require.True(t, first.Truncated)
	})

	t.Run("session fetch", func(t *testing.T) {
		r := getAs[iq.SessionsResult[string, int64]](t, 200, u("stores/visits/sessions/user-0"))
		require.Equal(t, iq.Source{Store: "visits", Host: addr, Partitions: []int32{partitionOf("user-0")}}, r.Source)
		require.Equal(t, []iq.Windowed[string, int64]{
			{Key: "user-0", Start: base, End: base.Add(20 * time.Second), Value: 3},
			{Key: "user-0", Start: base.Add(10 * time.Minute), End: base.Add(10*time.Minute + 20*time.Second), Value: 3},
		}, r.Sessions)
		r = getAs[iq.SessionsResult[string, int64]](t, 200, u("stores/visits/sessions/user-0?reverse=true&limit=1"))
		require.Equal(t, base.Add(10*time.Minute), r.Sessions[0].Start)
		require.True(t, r.Truncated)
		from := url.QueryEscape(base.Add(time.Minute).Format(time.RFC3339))
		r = getAs[iq.SessionsResult[string, int64]](t, 200, u("stores/visits/sessions/user-0?from="+from))
		require.Len(t, r.Sessions, 1, "those that end at or after from")
		all := getAs[iq.SessionsResult[string, int64]](t, 200, u("stores/visits/sessions"))
		require.Len(t, all.Sessions, 4*2+1)
	})

	t.Run("unknown store and wrong type", func(t *testing.T) {
		for _, path := range []string{"stores/nope/keys/x", "stores/nope/keys", "stores/nope/windows/x", "stores/nope/sessions", "stores/nope/metadata"} {
			e := getError(t, 404, iq.CodeUnknownStore, u(path))
			require.Equal(t, "nope", e.Store)
			require.Contains(t, e.Message, `"nope"`)
		}
		e := getError(t, 404, iq.CodeWrongStoreType, u("stores/counts/windows/user-1"))
		require.Contains(t, e.Message, "key-value store")
		getError(t, 404, iq.CodeWrongStoreType, u("stores/clicks/sessions"))
		getError(t, 404, iq.CodeWrongStoreType, u("stores/visits/keys/user-1"))
	})

	t.Run("routes and methods", func(t *testing.T) {
		getError(t, 404, iq.CodeNoRoute, u("stores/counts/keys/user-1/more"))
		getError(t, 404, iq.CodeNoRoute, u("nothing"))
		req, err := http.NewRequest(http.MethodPost, u("stores/counts/keys/user-1"), strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		head, err := client.Head(u("stores/counts/keys/user-1"))
		require.NoError(t, err)
		head.Body.Close()
		require.Equal(t, http.StatusOK, head.StatusCode)
		// The user's own routes beside the handler's.
		resp, err = client.Get("http://" + addr + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("metadata", func(t *testing.T) {
		md := getAs[iq.MetadataResult](t, 200, u("metadata"))
		require.Equal(t, iq.MetadataResult{Host: addr, Instances: []iq.Instance{{
			Server: addr, ActiveTasks: []string{"0_0", "0_1", "1_0", "1_1"}, StandbyTasks: []string{},
			Stores: []string{"clicks", "counts", "sums", "visits"}, StandbyStores: []string{},
		}}}, md)
		sm := getAs[iq.MetadataResult](t, 200, u("stores/sums/metadata"))
		require.Equal(t, "sums", sm.Store)
		require.Len(t, sm.Instances, 1)
		km := getAs[iq.KeyMetadataResult](t, 200, u("stores/counts/metadata/user-3"))
		p := partitionOf("user-3")
		require.Equal(t, iq.KeyMetadataResult{Host: addr, Store: "counts", Key: "user-3", Server: addr, Standbys: []string{},
			Task: fmt.Sprintf("0_%d", p), Partition: p, Local: true}, km)
		stores := getAs[iq.StoresResult](t, 200, u("stores"))
		require.Equal(t, iq.StoresResult{Host: addr, Stores: []iq.StoreInfo{
			{Name: "clicks", Type: "window"}, {Name: "counts", Type: "key-value"}, {Name: "sums", Type: "key-value"}, {Name: "visits", Type: "session"},
		}}, stores)
	})

	t.Run("registration", func(t *testing.T) {
		err := iq.KeyValue[string, int64](h, "counts", iq.StringKeys(), serde.String())
		require.ErrorContains(t, err, `store "counts" is already registered, as a key-value store`)
		err = iq.KeyValue[string, int64](h, "missing", iq.StringKeys(), serde.String())
		require.ErrorIs(t, err, streams.ErrUnknownStore)
		require.ErrorContains(t, err, `"missing"`)
		require.ErrorContains(t, iq.Window[string, int64](h, "clicks", nil, serde.String()), "KeyCodec is nil")
		require.ErrorContains(t, iq.Session[string, int64](h, "visits", iq.StringKeys(), nil), "key serde is nil")
		// A value type other than the store's is a 500 naming both.
		h2, err := iq.New(app, iq.Config{Server: addr, Logger: quiet})
		require.NoError(t, err)
		require.NoError(t, iq.KeyValue[string, string](h2, "counts", iq.StringKeys(), serde.String()))
		mux.Handle("/wrong/", http.StripPrefix("/wrong", h2))
		e := getError(t, 500, iq.CodeInternal, "http://"+addr+"/wrong/stores/counts/keys")
		require.Contains(t, e.Message, `store "counts"`)
	})

	t.Run("config", func(t *testing.T) {
		for _, tc := range []struct {
			cfg  iq.Config
			says string
		}{
			{iq.Config{Server: "nohost"}, `Config.Server: "nohost" is not "host:port"`},
			{iq.Config{Server: addr, Prefix: "iq/"}, "Config.Prefix"},
			{iq.Config{Server: addr, Prefix: "/{x}/"}, "Config.Prefix"},
			{iq.Config{Server: addr, Scheme: "ftp"}, "Config.Scheme"},
			{iq.Config{Server: addr, ForwardTimeout: -time.Second}, "Config.ForwardTimeout"},
		} {
			_, err := iq.New(app, tc.cfg)
			require.ErrorContains(t, err, tc.says)
		}
		_, err := iq.New(nil, iq.Config{Server: addr})
		require.ErrorContains(t, err, "nil app")
		// Server defaults to the app's ApplicationServer.
		hd, err := iq.New(app, iq.Config{Logger: quiet})
		require.NoError(t, err)
		require.NoError(t, iq.KeyValue[string, string](hd, "counts", iq.StringKeys(), serde.String()))
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stores", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `"host":"`+app.ApplicationServer()+`"`)
	})

	// Optional: the same answer through curl, where it is installed (the
	// checks above, with net/http, are the required ones).
	t.Run("curl", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl is not installed")
		}
		out, err := exec.CommandContext(ctxT(t), curl, "-sS", "--fail-with-body", "--max-time", "10", u("stores/counts/keys/user-2")).Output()
		require.NoError(t, err, "%s", out)
		var got iq.KeyResult[string, int64]
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		require.Equal(t, int64(6), got.Value)
		out, _ = exec.CommandContext(ctxT(t), curl, "-sS", "-w", "\n%{http_code}", u("stores/clicks/windows/user-2?from=soon")).Output()
		require.True(t, strings.HasSuffix(string(out), "\n400"), "%s", out)
		require.Contains(t, string(out), `"param":"from"`)
	})
}
