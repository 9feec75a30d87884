package iq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"

	streams "github.com/gostreams/streams"
)

// storeOf returns the registered store name if it is of rt's type, or
// writes a 404 saying why not.
func (h *Handler) storeOf(w http.ResponseWriter, name string, rt route) (served, bool) {
	s, ok := h.store(w, name)
	if ok && s.typ() != rt.typ {
		h.writeError(w, &Error{Status: http.StatusNotFound, Code: CodeWrongStoreType, Store: name,
			Message: fmt.Sprintf("store %q is a %s store; /%s serves %s stores", name, s.typ(), rt.path, rt.typ)})
		return nil, false
	}
	return s, ok
}

// serveScan answers a scan from this instance's copies alone, as Kafka
// Streams' range queries read the local stores: a client that wants every
// instance's part asks each (GET /metadata lists them).
func (h *Handler) serveScan(w http.ResponseWriter, r *http.Request, rt route) {
	name := r.PathValue("store")
	s, ok := h.storeOf(w, name, rt)
	if !ok || !h.checkParams(w, r, name, rt.scanParam...) {
		return
	}
	q := r.URL.Query()
	stale, err := boolParam(name, q, "stale")
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	read, err := s.scan(q)
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	opts := streams.QueryOptions{StaleStores: stale}
	copies, err := streams.LocalStores(h.app, name, opts)
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	h.answer(w, name, read, opts, copies)
}

// answer writes what read reads from copies, with opts.
func (h *Handler) answer(w http.ResponseWriter, name string, read reader, opts streams.QueryOptions, copies []streams.LocalStore) {
	src := Source{Store: name, Host: h.cfg.Server, Partitions: []int32{}}
	for _, c := range copies {
		src.Stale = src.Stale || c.Kind != streams.Active
		if !slices.Contains(src.Partitions, c.Partition) {
			src.Partitions = append(src.Partitions, c.Partition)
		}
	}
	slices.Sort(src.Partitions)
	body, err := read(opts, src)
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	h.writeJSON(w, http.StatusOK, body)
}

// writeErr writes err: a *Error as it is, others as a failed store read.
func (h *Handler) writeErr(w http.ResponseWriter, name string, err error) {
	if e, ok := errors.AsType[*Error](err); ok {
		h.writeError(w, e)
		return
	}
	h.writeStoreError(w, name, err)
}

// serveKey answers a key's route from wherever the key lives:
//
//  1. here, if this instance runs the key's task;
//  2. if the request was forwarded here (HeaderForwarded), here or not at
//     all, so that it is never forwarded twice: from this instance's
//     standby copy if the forwarder asked for a stale read (?stale=true),
//     else 503;
//  3. if the client asked for a stale read and this instance holds a copy
//     of the key's partition (a standby, or a store still restoring),
//     from that copy;
//  4. else from the instance that runs the task, forwarded; if it does not
//     answer (a connection error, a timeout, a 5xx), from the instances
//     that hold standbys of the task, in order, asked for a stale read;
//  5. if none answers, from this instance's standby copy, if it holds
//     one; else 503, listing what was tried.
func (h *Handler) serveKey(w http.ResponseWriter, r *http.Request, rt route) {
	name := r.PathValue("store")
	s, ok := h.storeOf(w, name, rt)
	if !ok || !h.checkParams(w, r, name, rt.keyParams...) {
		return
	}
	q := r.URL.Query()
	stale, err := boolParam(name, q, "stale")
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	k, err := s.key(r.PathValue("key"))
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	read, err := k.read(q)
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	md, err := k.meta()
	if err != nil {
		h.writeErr(w, name, err)
		return
	}
	active := streams.QueryOptions{Partitions: []int32{md.Partition}}
	anyCopy := streams.QueryOptions{StaleStores: true, Partitions: []int32{md.Partition}}
	if md.Local && h.answerFrom(w, name, read, active) {
		return
	}
	if r.Header.Get(HeaderForwarded) != "" || stale {
		if stale && h.answerFrom(w, name, read, anyCopy) {
			return
		}
		if r.Header.Get(HeaderForwarded) != "" {
			h.writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Store: name,
				Message: fmt.Sprintf("this instance holds no copy of task %s (key %q) that the request may read; the task may be moving, retry", md.Task, k.formatted)})
			return
		}
	}
	tried, done := h.forward(w, r, rt, name, k.formatted, md, stale)
	if done {
		return
	}
	if h.answerFrom(w, name, read, anyCopy) {
		return
	}
	msg := fmt.Sprintf("no instance answered for key %q of store %q (task %s)", k.formatted, name, md.Task)
	if len(tried) == 0 {
		msg += fmt.Sprintf("; no instance advertises an application server for it (owner %q, standbys %q)", md.Server, md.Standbys)
	}
	h.writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Store: name, Tried: tried, Message: msg + "; retry"})
}

// answerFrom answers with what read reads from this instance's copies that
// opts lets it, and reports whether there was one to read.
func (h *Handler) answerFrom(w http.ResponseWriter, name string, read reader, opts streams.QueryOptions) bool {
	copies, err := streams.LocalStores(h.app, name, opts)
	if err != nil {
		h.writeErr(w, name, err)
		return true
	}
	if len(copies) == 0 {
		return false
	}
	h.answer(w, name, read, opts, copies)
	return true
}

// forward sends r to the key's owner, then to its standbys, and passes on
// the first answer that is not a failure of the instance (a connection
// error, a timeout, a 5xx); it returns what it tried in vain, and whether
// it answered.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, rt route, name, key string, md streams.KeyQueryMetadata, stale bool) ([]Attempt, bool) {
	type target struct {
		host  string
		stale bool
	}
	var targets []target
	if md.Server != "" && md.Server != h.cfg.Server {
		targets = append(targets, target{md.Server, stale})
	}
	for _, sb := range md.Standbys {
		if sb != "" && sb != h.cfg.Server && sb != md.Server {
			targets = append(targets, target{sb, true})
		}
	}
	var tried []Attempt
	for _, t := range targets {
		if r.Context().Err() != nil {
			break // the client is gone
		}
		status, ctype, body, err := h.get(r.Context(), t.host, rt, name, key, r.URL.Query(), t.stale)
		if err == nil && status < 500 {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return tried, true
		}
		if err == nil {
			err = fmt.Errorf("answered %d: %s", status, errorMessage(body))
		}
		h.cfg.Logger.Warn("iq: forwarding a query failed", "store", name, "key", key, "host", t.host, "stale", t.stale, "error", err)
		tried = append(tried, Attempt{Host: t.host, Stale: t.stale, Error: err.Error()})
	}
	return tried, false
}

// get asks host's handler for key's route, marked forwarded, within
// Config.ForwardTimeout, and returns its answer.
func (h *Handler) get(ctx context.Context, host string, rt route, name, key string, q url.Values, stale bool) (int, string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.ForwardTimeout)
	defer cancel()
	q = maps.Clone(q)
	if stale {
		q.Set("stale", "true")
	}
	u := &url.URL{Scheme: h.cfg.Scheme, Host: host, Path: h.cfg.Prefix + "stores/" + name + "/" + rt.path + "/" + key,
		RawPath: h.cfg.Prefix + "stores/" + url.PathEscape(name) + "/" + rt.path + "/" + url.PathEscape(key), RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set(HeaderForwarded, h.cfg.Server)
	req.Header.Set("Accept", "application/json")
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, fmt.Errorf("reading the answer of %s: %w", host, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

// errorMessage is the message of an Error body, or the body itself.
func errorMessage(body []byte) string {
	var e Error
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Code + ": " + e.Message
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return string(body)
}
