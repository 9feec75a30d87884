package iq

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// storeType is the type of a registered store, which decides its routes.
type storeType int

const (
	keyValueType storeType = iota
	windowType
	sessionType
)

func (t storeType) String() string {
	switch t {
	case keyValueType:
		return "key-value"
	case windowType:
		return "window"
	}
	return "session"
}

// route is a store type's pair of routes: /stores/{store}/<path> scans
// this instance's copies, /stores/{store}/<path>/{key} reads one key
// wherever it lives.
type route struct {
	path      string
	typ       storeType
	keyParams []string // the query parameters of the key's route
	scanParam []string // those of the scan
}

var routes = []route{
	{path: "keys", typ: keyValueType, keyParams: []string{"stale"}, scanParam: []string{"from", "to", "prefix", "reverse", "limit", "stale"}},
	{path: "windows", typ: windowType, keyParams: []string{"from", "to", "reverse", "limit", "stale"}, scanParam: []string{"from", "to", "reverse", "limit", "stale"}},
	{path: "sessions", typ: sessionType, keyParams: []string{"from", "to", "reverse", "limit", "stale"}, scanParam: []string{"reverse", "limit", "stale"}},
}

// checkParams answers 400 and reports false if r's query has a parameter
// not in allowed, or one more than once, or does not parse.
func (h *Handler) checkParams(w http.ResponseWriter, r *http.Request, store string, allowed ...string) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Store: store, Host: h.cfg.Server,
			Message: fmt.Sprintf("the query string %q does not parse: %v", r.URL.RawQuery, err)})
		return false
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		var msg string
		switch {
		case !slices.Contains(allowed, name) && len(allowed) == 0:
			msg = fmt.Sprintf("unknown parameter %q: %s takes none", name, r.URL.Path)
		case !slices.Contains(allowed, name):
			msg = fmt.Sprintf("unknown parameter %q: %s takes %s", name, r.URL.Path, strings.Join(allowed, ", "))
		case len(q[name]) > 1:
			msg = fmt.Sprintf("parameter %q is given %d times; give it once", name, len(q[name]))
		default:
			continue
		}
		h.writeError(w, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Store: store, Param: name, Host: h.cfg.Server, Message: msg})
		return false
	}
	return true
}

// badParam is the 400 answer to a malformed parameter.
func badParam(store, param string, err error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Store: store, Param: param,
		Message: fmt.Sprintf("parameter %q: %v", param, err)}
}

// The open bounds of a time range: the stores clamp them to the times they
// can hold.
var (
	openStart = time.UnixMilli(math.MinInt64).UTC()
	openEnd   = time.UnixMilli(math.MaxInt64).UTC()
)

// timeParam parses q's name as an RFC 3339 time or Unix milliseconds; def
// if it is absent.
func timeParam(store string, q url.Values, name string, def time.Time) (time.Time, bool, error) {
	s, ok := q[name]
	if !ok {
		return def, false, nil
	}
	if t, err := time.Parse(time.RFC3339, s[0]); err == nil {
		return t, true, nil
	}
	if ms, err := strconv.ParseInt(s[0], 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true, nil
	}
	return time.Time{}, false, badParam(store, name, fmt.Errorf("%q is neither an RFC 3339 time (2006-01-02T15:04:05Z, or with an offset and fractional seconds) nor Unix milliseconds", s[0]))
}

// boolParam parses q's name as a flag: absent is false, "" (?stale) true.
func boolParam(store string, q url.Values, name string) (bool, error) {
	s, ok := q[name]
	if !ok {
		return false, nil
	}
	if s[0] == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(s[0])
	if err != nil {
		return false, badParam(store, name, fmt.Errorf("%q is not true or false", s[0]))
	}
	return b, nil
}

// limitParam parses q's limit: 0 (no limit) if absent.
func limitParam(store string, q url.Values) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || n <= 0 {
		return 0, badParam(store, "limit", fmt.Errorf("%q is not a positive count", s[0]))
	}
	return n, nil
}

// keyParam parses q's name as a key with keys; nil if absent.
func keyParam[K any](store string, q url.Values, name string, keys KeyCodec[K]) (*K, error) {
	s, ok := q[name]
	if !ok {
		return nil, nil
	}
	k, err := keys.ParseKey(s[0])
	if err != nil {
		return nil, badParam(store, name, err)
	}
	return &k, nil
}

// timeRange parses q's from and to, each open if absent.
func timeRange(store string, q url.Values) (from, to time.Time, given bool, err error) {
	from, gf, err := timeParam(store, q, "from", openStart)
	if err != nil {
		return from, to, false, err
	}
	to, gt, err := timeParam(store, q, "to", openEnd)
	return from, to, gf || gt, err
}
