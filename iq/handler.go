package iq

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// HeaderForwarded marks a request one instance's handler forwarded to
// another, with the forwarder's Config.Server as its value. A handler
// answers such a request from its own stores and never forwards it again.
const HeaderForwarded = "X-Streams-Forwarded"

// Config configures a Handler. The zero value of every field means its
// documented default.
type Config struct {
	// Server is this instance's "host:port" as the app advertises it,
	// where this handler is served. Answers name it as their "host", and
	// the handler never forwards a request to it. Default: the app's
	// streams.Config.ApplicationServer, which must then be set.
	Server string
	// Prefix is the path the handler is mounted at, ending in '/', the same
	// on every instance: mux.Handle("/iq/", h) with Prefix "/iq/" serves
	// /iq/stores/... Mount it without http.StripPrefix: the handler routes
	// on the whole path. Default "/".
	Prefix string
	// Scheme is how a forwarded request reaches another instance: "http"
	// or "https". Default "http".
	Scheme string
	// Client sends forwarded requests. Default: a client of the handler's
	// own, on a transport cloned from http.DefaultTransport.
	Client *http.Client
	// ForwardTimeout bounds each forwarded request, from the dial to the
	// last byte of the answer: past it the instance counts as unreachable
	// and the next one is tried. Default 2s.
	ForwardTimeout time.Duration
	// Logger receives a warning for every forwarded request that failed
	// and an error for every store that failed. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "/"
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every field that is set wrong, by name.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("iq: Config.%s: "+format, append([]any{field}, args...)...))
	}
	if c.Server == "" {
		bad("Server", "is required: set the app's Config.ApplicationServer (\"host:port\") or this field")
	} else if _, _, err := net.SplitHostPort(c.Server); err != nil {
		bad("Server", "%q is not \"host:port\": %v", c.Server, err)
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.ContainsAny(c.Prefix, "{}?#% ")) {
		bad("Prefix", "%q must start with '/' and hold no '{', '}', '?', '#', '%' or space", c.Prefix)
	}
	switch c.Scheme {
	case "", "http", "https":
	default:
		bad("Scheme", "%q is not \"http\" or \"https\"", c.Scheme)
	}
	if c.ForwardTimeout < 0 {
		bad("ForwardTimeout", "is %v; use 0 for the default, or a positive duration", c.ForwardTimeout)
	}
	return errors.Join(errs...)
}

// Handler serves interactive queries of one app's stores as JSON: the
// stores registered with KeyValue, Window and Session. It is safe for
// concurrent use, registrations included; the package documentation
// describes its routes.
type Handler struct {
	app *streams.App
	cfg Config
	mux *http.ServeMux
	mu  struct {
		sync.RWMutex
		stores map[string]served
	}
}

// New returns a Handler for app's stores, none registered yet. It fails
// if cfg is not valid.
func New(app *streams.App, cfg Config) (*Handler, error) {
	if app == nil {
		return nil, errors.New("iq: New was given a nil app")
	}
	if cfg.Server == "" {
		cfg.Server = app.ApplicationServer()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{app: app, cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	h.mu.stores = map[string]served{}
	p := h.cfg.Prefix
	h.route(p+"metadata", h.serveMetadata)
	h.route(p+"stores", h.serveStores)
	h.route(p+"stores/{store}/metadata", h.serveStoreMetadata)
	h.route(p+"stores/{store}/metadata/{key}", h.serveKeyMetadata)
	for _, rt := range routes {
		h.route(p+"stores/{store}/"+rt.path, func(w http.ResponseWriter, r *http.Request) { h.serveScan(w, r, rt) })
		h.route(p+"stores/{store}/"+rt.path+"/{key}", func(w http.ResponseWriter, r *http.Request) { h.serveKey(w, r, rt) })
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNoRoute,
			Message: fmt.Sprintf("no route %s; the routes are under %sstores/ and %smetadata", r.URL.Path, p, p)})
	})
	return h, nil
}

// route serves pattern (a path) to GET and HEAD requests.
func (h *Handler) route(pattern string, f http.HandlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("method %s not allowed; the handler answers GET and HEAD", r.Method)})
			return
		}
		f(w, r)
	})
}

// ServeHTTP answers a query.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Prefix is the path the handler routes under: Config.Prefix, or its
// default "/". A handler that passes requests on to this one (the web
// monitor's store browser) rewrites their paths to start with it.
func (h *Handler) Prefix() string { return h.cfg.Prefix }

// register adds s as store name, once.
func (h *Handler) register(name string, s served) error {
	if _, err := streams.LocalStores(h.app, name); err != nil {
		return fmt.Errorf("iq: registering store %q: %w; check the name against the topology's stores", name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.mu.stores[name]; ok {
		return fmt.Errorf("iq: store %q is already registered, as a %s store", name, old.typ())
	}
	h.mu.stores[name] = s
	return nil
}

// store returns the registered store name, or writes a 404 naming it.
func (h *Handler) store(w http.ResponseWriter, name string) (served, bool) {
	h.mu.RLock()
	s, ok := h.mu.stores[name]
	h.mu.RUnlock()
	if !ok {
		h.writeError(w, &Error{Status: http.StatusNotFound, Code: CodeUnknownStore, Store: name, Host: h.cfg.Server,
			Message: fmt.Sprintf("store %q is not served here; register it with iq.KeyValue, iq.Window or iq.Session (GET %sstores lists those that are)", name, h.cfg.Prefix)})
	}
	return s, ok
}

func (h *Handler) serveStores(w http.ResponseWriter, r *http.Request) {
	if !h.checkParams(w, r, "") {
		return
	}
	h.mu.RLock()
	out := StoresResult{Host: h.cfg.Server, Stores: make([]StoreInfo, 0, len(h.mu.stores))}
	for name, s := range h.mu.stores {
		out.Stores = append(out.Stores, StoreInfo{Name: name, Type: s.typ().String()})
	}
	h.mu.RUnlock()
	slices.SortFunc(out.Stores, func(a, b StoreInfo) int { return strings.Compare(a.Name, b.Name) })
	h.writeJSON(w, http.StatusOK, out)
}

func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if !h.checkParams(w, r, "") {
		return
	}
	h.writeJSON(w, http.StatusOK, MetadataResult{Host: h.cfg.Server, Instances: instances(streams.AllMetadata(h.app))})
}

func (h *Handler) serveStoreMetadata(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("store")
	if _, ok := h.store(w, name); !ok || !h.checkParams(w, r, name) {
		return
	}
	md, err := streams.MetadataForStore(h.app, name)
	if err != nil {
		h.writeStoreError(w, name, err)
		return
	}
	h.writeJSON(w, http.StatusOK, MetadataResult{Host: h.cfg.Server, Store: name, Instances: instances(md)})
}

func (h *Handler) serveKeyMetadata(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("store")
	s, ok := h.store(w, name)
	if !ok || !h.checkParams(w, r, name) {
		return
	}
	k, err := s.key(r.PathValue("key"))
	if err != nil {
		h.writeError(w, badParam(name, "key", err))
		return
	}
	md, err := k.meta()
	if err != nil {
		h.writeStoreError(w, name, err)
		return
	}
	h.writeJSON(w, http.StatusOK, KeyMetadataResult{
		Host: h.cfg.Server, Store: name, Key: k.formatted,
		Server: md.Server, Standbys: nonNil(md.Standbys), Task: md.Task.String(), Partition: md.Partition,
		Local: md.Local, LocalStandby: md.LocalStandby,
	})
}

func instances(md []streams.StreamsMetadata) []Instance {
	out := make([]Instance, len(md))
	for i, m := range md {
		out[i] = Instance{Server: m.Server, ActiveTasks: taskNames(m.ActiveTasks), StandbyTasks: taskNames(m.StandbyTasks),
			Stores: nonNil(m.Stores), StandbyStores: nonNil(m.StandbyStores)}
	}
	return out
}

func taskNames(ids []processor.TaskID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// nonNil makes a nil slice encode as [], not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeJSON writes v as the answer. It encodes v first, so that a value
// encoding/json cannot encode is a 500 naming the cause, not half a body.
func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.cfg.Logger.Error("iq: encoding an answer as JSON", "error", err)
		h.writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Host: h.cfg.Server,
			Message: fmt.Sprintf("encoding the answer as JSON: %v; the store's keys and values must be encodable by encoding/json", err)})
		return
	}
	writeBody(w, status, append(b, '\n'))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client hung up: nothing to do
}

func (h *Handler) writeError(w http.ResponseWriter, e *Error) {
	if e.Host == "" {
		e.Host = h.cfg.Server
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	b, err := json.Marshal(e)
	if err != nil { // an Error has strings, ints and bools only
		panic(err)
	}
	writeBody(w, e.Status, append(b, '\n'))
}

// writeStoreError answers a failed read of store name: 503 for a store
// that is not there now (its task moved or is moving), 500 otherwise.
func (h *Handler) writeStoreError(w http.ResponseWriter, name string, err error) {
	e := &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Store: name, Host: h.cfg.Server,
		Message: fmt.Sprintf("reading store %q: %v", name, err)}
	switch {
	case errors.Is(err, streams.ErrNotAvailable), errors.Is(err, state.ErrStoreClosed), errors.Is(err, streams.ErrClosed):
		e.Status, e.Code = http.StatusServiceUnavailable, CodeUnavailable
	case errors.Is(err, streams.ErrUnknownStore):
		e.Status, e.Code = http.StatusNotFound, CodeUnknownStore
	default:
		h.cfg.Logger.Error("iq: reading a store", "store", name, "error", err)
	}
	h.writeError(w, e)
}
