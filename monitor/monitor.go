package monitor

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/topology"
)

// maxThroughput is how far back App.MetricHistory goes.
const maxThroughput = 10 * time.Minute

// Config configures a Handler. The zero value of every field means its
// documented default.
type Config struct {
	// Title heads the page and names its tab. Default "streams monitor".
	Title string
	// IQ, if set, is the interactive-query handler (package iq) that the
	// page's store browser reads through: it lists the stores registered
	// with it and shows their entries. The monitor passes the browser's
	// requests to it under its own path (<monitor>/iq/...), so IQ need
	// not be mounted anywhere else for the page to work. Default nil: the
	// page lists the topology's stores and says how to browse them.
	IQ *iq.Handler
	// Restores, if set, is the app's streams.Config.RestoreListener, and
	// the restore panel shows each restore's start, progress and duration,
	// and the last ones that finished. Default nil: the panel shows what
	// App.LagInfo tells of the stores being restored (their offsets and
	// their changelogs' ends).
	Restores *Restores
	// Refresh is how often the page asks for the app's state. Default 1s.
	Refresh time.Duration
	// Throughput is how far back the throughput graph goes, at most 10
	// minutes (App.MetricHistory's span). Default 5 minutes.
	Throughput time.Duration
	// LagTimeout bounds App.LagInfo's request for the changelogs' end
	// offsets on each refresh; past it the page shows the error and the
	// rest of the state. Default 2s.
	LagTimeout time.Duration
	// StoreRows is how many entries the store browser asks IQ for at a
	// time. Default 100.
	StoreRows int
}

func (c Config) withDefaults() Config {
	if c.Title == "" {
		c.Title = "streams monitor"
	}
	if c.Refresh == 0 {
		c.Refresh = time.Second
	}
	if c.Throughput == 0 {
		c.Throughput = 5 * time.Minute
	}
	if c.LagTimeout == 0 {
		c.LagTimeout = 2 * time.Second
	}
	if c.StoreRows == 0 {
		c.StoreRows = 100
	}
	return c
}

// Validate reports every field that is set wrong, by name.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("monitor: Config.%s: "+format, append([]any{field}, args...)...))
	}
	if c.Refresh < 0 || (c.Refresh > 0 && c.Refresh < 100*time.Millisecond) {
		bad("Refresh", "is %v; use 0 for the default (1s), or at least 100ms", c.Refresh)
	}
	if c.Throughput < 0 || c.Throughput > maxThroughput || (c.Throughput > 0 && c.Throughput < 10*time.Second) {
		bad("Throughput", "is %v; use 0 for the default (5m), or between 10s and %v (App.MetricHistory's span)", c.Throughput, maxThroughput)
	}
	if c.LagTimeout < 0 {
		bad("LagTimeout", "is %v; use 0 for the default (2s), or a positive duration", c.LagTimeout)
	}
	if c.StoreRows < 0 {
		bad("StoreRows", "is %d; use 0 for the default (100), or a positive count", c.StoreRows)
	}
	return errors.Join(errs...)
}

// Handler serves the monitor's page and what it asks for; see the package
// documentation for its routes. It holds no state of its own but the
// topology's picture, and is safe for concurrent use.
type Handler struct {
	app    *streams.App
	cfg    Config
	svg    string
	stores []string // the topology's, sorted
	index  []byte
	mux    *http.ServeMux
}

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// New returns the monitor of app, which runs topo (the topology app was
// made with: the App does not hand it back). It fails if cfg is not valid.
// It draws the topology once, here.
func New(app *streams.App, topo *topology.Topology, cfg Config) (*Handler, error) {
	if app == nil {
		return nil, errors.New("monitor: New was given a nil app")
	}
	if topo == nil {
		return nil, errors.New("monitor: New was given a nil topology; pass the one the app was made with")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{app: app, cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	d := topo.Describe()
	h.svg = SVG(d)
	for _, n := range allNodesOf(d) {
		for _, s := range n.Stores {
			if !slices.Contains(h.stores, s) {
				h.stores = append(h.stores, s)
			}
		}
	}
	slices.Sort(h.stores)

	storesJSON, err := json.Marshal(h.stores)
	if err != nil {
		return nil, fmt.Errorf("monitor: encoding the store names: %w", err)
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"Title":      h.cfg.Title,
		"SVG":        template.HTML(h.svg), // SVG escapes every name
		"Refresh":    h.cfg.Refresh.Milliseconds(),
		"IQ":         h.cfg.IQ != nil,
		"Stores":     string(storesJSON),
		"StoreRows":  h.cfg.StoreRows,
		"Throughput": int(h.cfg.Throughput.Seconds()),
	})
	if err != nil {
		return nil, fmt.Errorf("monitor: writing the page: %w", err)
	}
	h.index = buf.Bytes()

	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.write(w, http.StatusOK, "text/html; charset=utf-8", h.index)
	})
	h.mux.HandleFunc("GET /topology.svg", func(w http.ResponseWriter, r *http.Request) {
		h.write(w, http.StatusOK, "image/svg+xml", []byte(h.svg))
	})
	h.mux.HandleFunc("GET /api/state", h.serveState)
	for _, a := range []struct{ name, typ string }{{"monitor.js", "text/javascript; charset=utf-8"}, {"monitor.css", "text/css; charset=utf-8"}} {
		b, err := assets.ReadFile("assets/" + a.name)
		if err != nil {
			return nil, fmt.Errorf("monitor: the embedded %s: %w", a.name, err)
		}
		h.mux.HandleFunc("GET /static/"+a.name, func(w http.ResponseWriter, r *http.Request) { h.write(w, http.StatusOK, a.typ, b) })
	}
	h.mux.HandleFunc("/iq/", h.serveIQ)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no route %s %s; the page is at the monitor's root, its state at api/state", r.Method, r.URL.Path)})
	})
	return h, nil
}

// ServeHTTP serves the page, its assets, the topology's picture, the
// app's state and the store browser's queries. Mounted under a prefix, it
// takes the path after it, with or without its leading '/':
// mux.Handle("/monitor/", http.StripPrefix("/monitor", h)), or
// http.StripPrefix("/monitor/", h).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/") { // http.StripPrefix("/monitor/", h): "", "api/state"
		r2 := *r
		u := *r.URL
		u.Path = "/" + u.Path
		if u.RawPath != "" {
			u.RawPath = "/" + u.RawPath
		}
		r2.URL = &u
		r = &r2
	}
	h.mux.ServeHTTP(w, r)
}

// SVG returns the topology's picture, as GET topology.svg serves it.
func (h *Handler) SVG() string { return h.svg }

func (h *Handler) serveState(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, http.StatusOK, h.Status(r.Context()))
}

// serveIQ hands a store browser's request to Config.IQ, with the path
// after "/iq/" moved under the iq handler's prefix, which it routes on.
func (h *Handler) serveIQ(w http.ResponseWriter, r *http.Request) {
	if h.cfg.IQ == nil {
		h.writeJSON(w, http.StatusNotFound, apiError{Error: "the monitor has no interactive-query handler; set monitor.Config.IQ to an iq.Handler with the stores registered"})
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/iq/")
	raw := h.cfg.IQ.Prefix() + rest
	path, err := url.PathUnescape(raw)
	if err != nil {
		h.writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("path %q: %v", r.URL.EscapedPath(), err)})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, raw
	h.cfg.IQ.ServeHTTP(w, r2)
}

// apiError is the body of the monitor's own errors.
type apiError struct {
	Error string `json:"error"`
}

func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the answers hold strings, numbers and times only
		b, _ = json.Marshal(apiError{Error: "encoding the answer: " + err.Error()})
		status = http.StatusInternalServerError
	}
	h.write(w, status, "application/json; charset=utf-8", append(b, '\n'))
}

func (h *Handler) write(w http.ResponseWriter, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client hung up: nothing to do
}

func allNodesOf(d *topology.Description) []topology.NodeDescription {
	var out []topology.NodeDescription
	for _, st := range d.Subtopologies {
		out = append(out, st.Nodes...)
	}
	for _, g := range d.GlobalStores {
		out = append(out, g.Source, g.Processor)
	}
	return out
}
