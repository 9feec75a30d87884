package iq

import (
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// KeyValue serves the key-value store name of the handler's app, whose keys
// are K (written in URLs as keys says, and serialized by keySerde, the
// store's key serde, to find the instance that holds a key) and whose
// values V are answered as encoding/json encodes them. A DSL table's or
// aggregation's store (a timestamped one) is served with its values alone
// for V = X, or with their timestamps for V = state.ValueAndTimestamp[X].
// It fails if the topology has no store name, or it is already registered.
func KeyValue[K, V any](h *Handler, name string, keys KeyCodec[K], keySerde serde.Serde[K]) error {
	b, err := newBase(h, name, keys, keySerde)
	if err != nil {
		return err
	}
	return h.register(name, kvStore[K, V]{b})
}

// Window serves the window store name, as KeyValue serves a key-value
// store: the windows of a key, and of every key, over a range of window
// starts.
func Window[K, V any](h *Handler, name string, keys KeyCodec[K], keySerde serde.Serde[K]) error {
	b, err := newBase(h, name, keys, keySerde)
	if err != nil {
		return err
	}
	return h.register(name, windowStore[K, V]{b})
}

// Session serves the session store name, as KeyValue serves a key-value
// store: the sessions of a key, and of every key.
func Session[K, V any](h *Handler, name string, keys KeyCodec[K], keySerde serde.Serde[K]) error {
	b, err := newBase(h, name, keys, keySerde)
	if err != nil {
		return err
	}
	return h.register(name, sessionStore[K, V]{b})
}

// served is a registered store, its key and value types hidden behind
// parsed requests.
type served interface {
	typ() storeType
	// key parses a key from its path segment.
	key(raw string) (keyRef, error)
	// scan parses the parameters of the store's scan route.
	scan(q url.Values) (reader, error)
}

// keyRef is a parsed key of a store.
type keyRef struct {
	// formatted is the key as its KeyCodec writes it.
	formatted string
	// meta says where the key lives.
	meta func() (streams.KeyQueryMetadata, error)
	// read parses the parameters of the key's route.
	read func(q url.Values) (reader, error)
}

// reader reads this instance's copies of a store that opts lets it, src
// describing them, and returns the answer's body; a *Error for a 4xx.
type reader func(opts streams.QueryOptions, src Source) (any, error)

type base[K any] struct {
	h     *Handler
	name  string
	keys  KeyCodec[K]
	serde serde.Serde[K]
}

func newBase[K any](h *Handler, name string, keys KeyCodec[K], keySerde serde.Serde[K]) (base[K], error) {
	switch {
	case h == nil:
		return base[K]{}, fmt.Errorf("iq: registering store %q: the handler is nil; make one with iq.New", name)
	case keys == nil:
		return base[K]{}, fmt.Errorf("iq: registering store %q: the KeyCodec is nil; give iq.StringKeys(), iq.Int64Keys() or a KeyFuncs", name)
	case keySerde == nil:
		return base[K]{}, fmt.Errorf("iq: registering store %q: the key serde is nil; give the store's key serde", name)
	}
	return base[K]{h: h, name: name, keys: keys, serde: keySerde}, nil
}

func (b base[K]) parseKey(raw string, read func(k K, formatted string, q url.Values) (reader, error)) (keyRef, error) {
	k, err := b.keys.ParseKey(raw)
	if err != nil {
		return keyRef{}, badParam(b.name, "key", err)
	}
	f := b.keys.FormatKey(k)
	return keyRef{
		formatted: f,
		meta: func() (streams.KeyQueryMetadata, error) {
			return streams.QueryMetadataForKey(b.h.app, b.name, k, b.serde)
		},
		read: func(q url.Values) (reader, error) { return read(k, f, q) },
	}, nil
}

// collect reads seq into a slice of at most limit (0: any number) of f of
// its elements, and reports whether there were more. It reads the whole
// answer before any of it is written, so that the stores' snapshots are
// released before a slow client is sent it.
func collect[T, U any](seq iter.Seq2[T, error], limit int, f func(T) U) ([]U, bool, error) {
	out := []U{}
	for v, err := range seq {
		if err != nil {
			return nil, false, err
		}
		if limit > 0 && len(out) == limit {
			return out, true, nil
		}
		out = append(out, f(v))
	}
	return out, false, nil
}

// pick returns backward if reverse, else forward.
func pick[T any](reverse bool, forward, backward T) T {
	if reverse {
		return backward
	}
	return forward
}

type kvStore[K, V any] struct{ base[K] }

func (kvStore[K, V]) typ() storeType { return keyValueType }

func (s kvStore[K, V]) key(raw string) (keyRef, error) {
	return s.parseKey(raw, func(k K, formatted string, q url.Values) (reader, error) {
		return func(opts streams.QueryOptions, src Source) (any, error) {
			st, err := streams.QueryKeyValue[K, V](s.h.app, s.name, opts)
			if err != nil {
				return nil, err
			}
			v, ok, err := st.Get(k)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, &Error{Status: http.StatusNotFound, Code: CodeKeyNotFound, Store: s.name, Param: "key",
					Host: src.Host, Stale: src.Stale, Partitions: src.Partitions,
					Message: fmt.Sprintf("store %q has no key %q", s.name, formatted)}
			}
			return KeyResult[K, V]{Source: src, Key: k, Value: v}, nil
		}, nil
	})
}

func (s kvStore[K, V]) scan(q url.Values) (reader, error) {
	from, err := keyParam(s.name, q, "from", s.keys)
	if err != nil {
		return nil, err
	}
	to, err := keyParam(s.name, q, "to", s.keys)
	if err != nil {
		return nil, err
	}
	prefix, err := keyParam(s.name, q, "prefix", s.keys)
	if err != nil {
		return nil, err
	}
	reverse, err := boolParam(s.name, q, "reverse")
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(s.name, q)
	if err != nil {
		return nil, err
	}
	switch {
	case prefix != nil && (from != nil || to != nil):
		return nil, badParam(s.name, "prefix", errors.New("a prefix scan takes no from or to; give one or the other"))
	case prefix != nil && reverse:
		return nil, badParam(s.name, "reverse", errors.New("a prefix scan has no reverse order"))
	}
	return func(opts streams.QueryOptions, src Source) (any, error) {
		st, err := streams.QueryKeyValue[K, V](s.h.app, s.name, opts)
		if err != nil {
			return nil, err
		}
		var seq iter.Seq2[state.KeyValue[K, V], error]
		switch {
		case prefix != nil:
			seq = st.PrefixScan(*prefix)
		case from == nil && to == nil:
			seq = pick(reverse, st.All, st.ReverseAll)()
		default:
			seq = pick(reverse, st.Range, st.ReverseRange)(from, to)
		}
		entries, more, err := collect(seq, limit, func(kv state.KeyValue[K, V]) Entry[K, V] { return Entry[K, V](kv) })
		if err != nil {
			return nil, err
		}
		return EntriesResult[K, V]{Source: src, Entries: entries, Truncated: more}, nil
	}, nil
}

// windowed is the Windowed of a store's entry.
func windowed[K, V any](kv state.KeyValue[state.Windowed[K], V]) Windowed[K, V] {
	return Windowed[K, V]{Key: kv.Key.Key, Start: kv.Key.Start.UTC(), End: kv.Key.End.UTC(), Value: kv.Value}
}

// listParams parses the parameters that every listing of windows and
// sessions takes.
func listParams(store string, q url.Values) (reverse bool, limit int, err error) {
	if reverse, err = boolParam(store, q, "reverse"); err != nil {
		return false, 0, err
	}
	limit, err = limitParam(store, q)
	return reverse, limit, err
}

type windowStore[K, V any] struct{ base[K] }

func (windowStore[K, V]) typ() storeType { return windowType }

func (s windowStore[K, V]) key(raw string) (keyRef, error) {
	return s.parseKey(raw, func(k K, _ string, q url.Values) (reader, error) {
		from, to, _, err := timeRange(s.name, q)
		if err != nil {
			return nil, err
		}
		reverse, limit, err := listParams(s.name, q)
		if err != nil {
			return nil, err
		}
		return func(opts streams.QueryOptions, src Source) (any, error) {
			st, err := streams.QueryWindow[K, V](s.h.app, s.name, opts)
			if err != nil {
				return nil, err
			}
			ws, more, err := collect(pick(reverse, st.Fetch, st.BackwardFetch)(k, from, to), limit,
				func(kv state.KeyValue[time.Time, V]) Windowed[K, V] {
					return Windowed[K, V]{Key: k, Start: kv.Key.UTC(), Value: kv.Value}
				})
			if err != nil {
				return nil, err
			}
			return WindowsResult[K, V]{Source: src, Windows: ws, Truncated: more}, nil
		}, nil
	})
}

func (s windowStore[K, V]) scan(q url.Values) (reader, error) {
	from, to, _, err := timeRange(s.name, q)
	if err != nil {
		return nil, err
	}
	reverse, limit, err := listParams(s.name, q)
	if err != nil {
		return nil, err
	}
	return func(opts streams.QueryOptions, src Source) (any, error) {
		st, err := streams.QueryWindow[K, V](s.h.app, s.name, opts)
		if err != nil {
			return nil, err
		}
		ws, more, err := collect(pick(reverse, st.FetchAll, st.BackwardFetchAll)(from, to), limit, windowed[K, V])
		if err != nil {
			return nil, err
		}
		return WindowsResult[K, V]{Source: src, Windows: ws, Truncated: more}, nil
	}, nil
}

type sessionStore[K, V any] struct{ base[K] }

func (sessionStore[K, V]) typ() storeType { return sessionType }

func (s sessionStore[K, V]) key(raw string) (keyRef, error) {
	return s.parseKey(raw, func(k K, _ string, q url.Values) (reader, error) {
		from, to, bounded, err := timeRange(s.name, q)
		if err != nil {
			return nil, err
		}
		reverse, limit, err := listParams(s.name, q)
		if err != nil {
			return nil, err
		}
		return func(opts streams.QueryOptions, src Source) (any, error) {
			st, err := streams.QuerySession[K, V](s.h.app, s.name, opts)
			if err != nil {
				return nil, err
			}
			seq := pick(reverse, st.Fetch, st.BackwardFetch)(k)
			if bounded {
				seq = pick(reverse, st.FindSessions, st.BackwardFindSessions)(k, from, to)
			}
			ss, more, err := collect(seq, limit, windowed[K, V])
			if err != nil {
				return nil, err
			}
			return SessionsResult[K, V]{Source: src, Sessions: ss, Truncated: more}, nil
		}, nil
	})
}

func (s sessionStore[K, V]) scan(q url.Values) (reader, error) {
	reverse, limit, err := listParams(s.name, q)
	if err != nil {
		return nil, err
	}
	return func(opts streams.QueryOptions, src Source) (any, error) {
		st, err := streams.QuerySession[K, V](s.h.app, s.name, opts)
		if err != nil {
			return nil, err
		}
		ss, more, err := collect(pick(reverse, st.FetchRange, st.BackwardFetchRange)(nil, nil), limit, windowed[K, V])
		if err != nil {
			return nil, err
		}
		return SessionsResult[K, V]{Source: src, Sessions: ss, Truncated: more}, nil
	}, nil
}
