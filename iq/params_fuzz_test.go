package iq

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// The query parameters' parsers never panic, and every input they reject
// is a 400 that names the parameter.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"from=2026-11-22T10:00:00Z&to=1700000000000", "stale", "limit=3&reverse=false", "from=-5&prefix=x", "to=%zz", "limit=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		check := func(param string, err error) {
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeBadRequest || e.Param == "" {
				t.Fatalf("%q: %s: not a 400 naming a parameter: %#v", raw, param, err)
			}
		}
		_, _, _, err = timeRange("s", q)
		check("from/to", err)
		_, err = boolParam("s", q, "stale")
		check("stale", err)
		_, err = limitParam("s", q)
		check("limit", err)
		_, err = keyParam("s", q, "prefix", Int64Keys())
		check("prefix", err)
	})
}
