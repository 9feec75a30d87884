package iq

import (
	"fmt"
	"strconv"
)

// KeyCodec says how a store's keys are written in URLs: in the path of a
// key's routes (/stores/{store}/keys/{key}) and in the key bounds of a
// range (?from=&to=, ?prefix=). Parse must never panic on bad input: its
// error becomes a 400 answer naming the parameter. Format must give back a
// string Parse accepts for the same key, as the handler writes keys with
// it when it forwards a request to another instance.
type KeyCodec[K any] interface {
	ParseKey(s string) (K, error)
	FormatKey(k K) string
}

// KeyFuncs is a KeyCodec of two functions, as http.HandlerFunc is a Handler
// of one.
type KeyFuncs[K any] struct {
	Parse  func(s string) (K, error)
	Format func(k K) string
}

// ParseKey calls f.Parse.
func (f KeyFuncs[K]) ParseKey(s string) (K, error) { return f.Parse(s) }

// FormatKey calls f.Format.
func (f KeyFuncs[K]) FormatKey(k K) string { return f.Format(k) }

// StringKeys is the KeyCodec of string keys: a key is written as itself
// (path-escaped in a URL, so a key may hold '/' as %2F).
func StringKeys() KeyCodec[string] { return stringKeys{} }

type stringKeys struct{}

func (stringKeys) ParseKey(s string) (string, error) { return s, nil }
func (stringKeys) FormatKey(k string) string         { return k }

// Int64Keys is the KeyCodec of int64 keys, written in decimal ("-42").
func Int64Keys() KeyCodec[int64] { return int64Keys{} }

type int64Keys struct{}

func (int64Keys) ParseKey(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal int64", s)
	}
	return n, nil
}

func (int64Keys) FormatKey(k int64) string { return strconv.FormatInt(k, 10) }
