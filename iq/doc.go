// Package iq serves the interactive queries of a streams.App over HTTP, as
// JSON: an http.Handler a user mounts in their own server, on every
// instance of the app.
//
// The core types:
//
//   - Handler: made with New from the app and a Config (the instance's
//     advertised address, the mount prefix, the forwarding client and its
//     timeout, a logger). It serves the stores registered with it.
//   - KeyValue, Window and Session register a store with its key and value
//     types: a KeyCodec[K] that reads and writes keys in URLs (StringKeys,
//     Int64Keys, or a KeyFuncs of your own), the store's key serde (to find
//     the instance that holds a key), and V, which encoding/json encodes.
//   - The answers' bodies (KeyResult, EntriesResult, WindowsResult,
//     SessionsResult, MetadataResult, Error), exported for Go clients to
//     decode.
//
// A minimal setup, on each instance, whose streams.Config.ApplicationServer
// is the address it listens on:
//
//	h, err := iq.New(app, iq.Config{Server: cfg.ApplicationServer, Prefix: "/iq/"})
//	...
//	err = iq.KeyValue[string, int64](h, "counts", iq.StringKeys(), serde.String())
//	...
//	mux.Handle("/iq/", h)
//
// # Routes
//
// Paths are relative to Config.Prefix (default "/"). Every route answers
// GET and HEAD; a key or store name is one path segment, path-escaped (a
// '/' in a key is %2F).
//
//	GET /stores                          the registered stores: StoresResult
//	GET /metadata                        every instance, streams.AllMetadata: MetadataResult
//	GET /stores/{store}/metadata         the instances that host the store: MetadataResult
//	GET /stores/{store}/metadata/{key}   where a key lives, streams.QueryMetadataForKey: KeyMetadataResult
//
// Key-value stores (KeyValue):
//
//	GET /stores/{store}/keys/{key}       a key's value: KeyResult, or 404 key_not_found
//	GET /stores/{store}/keys             every entry here: EntriesResult
//	        ?from=K&to=K                 a range of keys, both bounds inclusive, either open
//	        ?prefix=K                    the keys whose serialized form starts with K's
//	        ?reverse=true                descending order (not with prefix)
//
// Window stores (Window); from and to bound window starts, inclusive, and
// are each open if left out:
//
//	GET /stores/{store}/windows/{key}?from=T&to=T    a key's windows: WindowsResult
//	GET /stores/{store}/windows?from=T&to=T          every key's windows here: WindowsResult
//
// Session stores (Session):
//
//	GET /stores/{store}/sessions/{key}               a key's sessions: SessionsResult
//	        ?from=T&to=T                             those that overlap [from, to]
//	GET /stores/{store}/sessions                     every session here: SessionsResult
//
// A time T is RFC 3339 ("2026-11-22T10:00:00Z", with an offset or
// fractional seconds if need be) or Unix milliseconds. A key K is what
// the store's KeyCodec parses. Every listing takes ?reverse=true (newest
// first, for windows and sessions) and ?limit=N (at most N elements, with
// "truncated": true when there were more), and every store route takes
// ?stale=true (below). A parameter a route does not take, or one given
// twice, is a 400.
//
// # Where an answer comes from
//
// A key's routes (those ending in /{key}) answer wherever the key lives.
// If this instance runs the key's task, it answers. Otherwise it forwards
// the request, path and parameters unchanged, to the instance that runs
// it (its streams.Config.ApplicationServer, on the same Prefix), with the
// header HeaderForwarded so that it is never forwarded again. If that
// instance does not answer within Config.ForwardTimeout (it is down, or
// unreachable) or answers with a 5xx, the request goes to the instances
// that hold standby replicas of the task (streams.Config.NumStandbyReplicas),
// in order, with ?stale=true; and if none answers, this instance answers
// from its own standby replica, if it holds one. Only then is the answer
// a 503 (code "unavailable", listing the instances tried).
//
// With ?stale=true a client accepts an answer from a standby replica or a
// store still restoring: an instance that holds any copy of the key's
// partition answers from it at once (streams.QueryOptions{StaleStores:
// true, Partitions: []int32{p}}).
//
// Scans (the routes without /{key}) read this instance's copies only, as
// Kafka Streams' range queries read the local stores: a client that wants
// a whole store asks every instance (GET /metadata lists them) and merges
// the parts. Each part is in key order (a key-value store) or in the
// order of its tasks (windows and sessions, as QueryWindow and
// QuerySession chain them). With ?stale=true a scan also reads this
// instance's standby replicas.
//
// Every answer says where it comes from (Source): "host", the instance
// that read its own store; "stale", whether a standby or restoring copy
// was read; "partitions", the partitions read. For example:
//
//	GET /iq/stores/counts/keys/alice
//	{"store":"counts","host":"10.0.0.2:8080","stale":false,"partitions":[1],"key":"alice","value":3}
//
//	GET /iq/stores/counts/keys?from=a&to=b&limit=2
//	{"store":"counts","host":"10.0.0.1:8080","stale":false,"partitions":[0,2],
//	 "entries":[{"key":"abe","value":1},{"key":"ada","value":4}],"truncated":true}
//
//	GET /iq/stores/clicks/windows/alice?from=2026-11-22T10:00:00Z
//	{"store":"clicks","host":"10.0.0.1:8080","stale":false,"partitions":[0],
//	 "windows":[{"key":"alice","start":"2026-11-22T10:00:00Z","value":4}],"truncated":false}
//
//	GET /iq/stores/visits/sessions/alice
//	{"store":"visits","host":"10.0.0.1:8080","stale":true,"partitions":[3],
//	 "sessions":[{"key":"alice","start":"2026-11-22T10:00:00Z","end":"2026-11-22T10:00:20Z","value":3}],"truncated":false}
//
// # Errors
//
// Every answer that is not 200 has an Error body:
//
//	{"status":400,"code":"bad_request","error":"parameter \"from\": \"yesterday\" is neither ...","store":"clicks","param":"from","host":"10.0.0.1:8080"}
//
// 400 bad_request for a malformed key, time, flag or limit, or an unknown
// parameter (param names it); 404 unknown_store for a store not
// registered, wrong_store_type for a route of another type of store,
// key_not_found, no_route; 405 for a method other than GET and HEAD; 503
// unavailable (with Retry-After) when no copy could be read now, during a
// rebalance for instance; 500 when a store fails or a value cannot be
// encoded as JSON. The handler never panics on a request.
package iq
