package iq

import (
	"fmt"
	"time"
)

// The JSON bodies the handler answers with. They are exported so that a Go
// client can decode them: a KeyResult[string, int64] for a key of a
// key-value store of string keys and int64 values, and so on. Keys and
// values are encoded with encoding/json; times are RFC 3339 in UTC.

// Source says which copy of a store an answer was read from.
type Source struct {
	// Store is the store's name.
	Store string `json:"store"`
	// Host is the Config.Server of the instance that read its own copy of
	// the store: for a forwarded key, the instance it was forwarded to.
	Host string `json:"host"`
	// Stale reports that the answer was read (at least partly) from a
	// standby replica or a store still restoring, which may lag behind the
	// active task's.
	Stale bool `json:"stale"`
	// Partitions are the partitions whose copies on Host were read: the
	// key's partition for a key's routes, every partition Host holds for a
	// scan.
	Partitions []int32 `json:"partitions"`
}

// KeyResult answers GET /stores/{store}/keys/{key}.
type KeyResult[K, V any] struct {
	Source
	Key   K `json:"key"`
	Value V `json:"value"`
}

// Entry is one key and value of a key-value store.
type Entry[K, V any] struct {
	Key   K `json:"key"`
	Value V `json:"value"`
}

// EntriesResult answers GET /stores/{store}/keys: the entries this
// instance holds, in the order of their serialized keys (reversed with
// ?reverse=true).
type EntriesResult[K, V any] struct {
	Source
	Entries []Entry[K, V] `json:"entries"`
	// Truncated reports that there were more entries than ?limit.
	Truncated bool `json:"truncated"`
}

// Windowed is one window (of a window store) or one session (of a
// session store) of a key, with its value. End is left out where the
// store does not tell it: the windows of one key (a window store keeps
// window starts).
type Windowed[K, V any] struct {
	Key   K         `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	Value V         `json:"value"`
}

// WindowsResult answers GET /stores/{store}/windows/{key} and GET
// /stores/{store}/windows.
type WindowsResult[K, V any] struct {
	Source
	Windows []Windowed[K, V] `json:"windows"`
	// Truncated reports that there were more windows than ?limit.
	Truncated bool `json:"truncated"`
}

// SessionsResult answers GET /stores/{store}/sessions/{key} and GET
// /stores/{store}/sessions.
type SessionsResult[K, V any] struct {
	Source
	Sessions []Windowed[K, V] `json:"sessions"`
	// Truncated reports that there were more sessions than ?limit.
	Truncated bool `json:"truncated"`
}

// Instance is what one instance of the app hosts, as of the last
// rebalance (streams.StreamsMetadata).
type Instance struct {
	Server        string   `json:"server"`
	ActiveTasks   []string `json:"active_tasks"`
	StandbyTasks  []string `json:"standby_tasks"`
	Stores        []string `json:"stores"`
	StandbyStores []string `json:"standby_stores"`
}

// MetadataResult answers GET /metadata (every instance,
// streams.AllMetadata) and GET /stores/{store}/metadata (those that host
// the store, streams.MetadataForStore; Store is set).
type MetadataResult struct {
	// Host is the Config.Server of the instance that answered.
	Host      string     `json:"host"`
	Store     string     `json:"store,omitempty"`
	Instances []Instance `json:"instances"`
}

// KeyMetadataResult answers GET /stores/{store}/metadata/{key}: where the
// key lives (streams.QueryMetadataForKey), as seen by Host.
type KeyMetadataResult struct {
	Host  string `json:"host"`
	Store string `json:"store"`
	// Key is the key as KeyCodec.FormatKey writes it.
	Key string `json:"key"`
	// Server is the instance that runs the key's task; Standbys those that
	// hold standby replicas of it.
	Server    string   `json:"server"`
	Standbys  []string `json:"standbys"`
	Task      string   `json:"task"`
	Partition int32    `json:"partition"`
	// Local and LocalStandby report whether Host runs the task, or holds a
	// standby replica of it.
	Local        bool `json:"local"`
	LocalStandby bool `json:"local_standby"`
}

// StoreInfo is one store the handler serves.
type StoreInfo struct {
	Name string `json:"name"`
	// Type is "key-value", "window" or "session".
	Type string `json:"type"`
}

// StoresResult answers GET /stores: the stores registered with the
// handler, by name.
type StoresResult struct {
	Host   string      `json:"host"`
	Stores []StoreInfo `json:"stores"`
}

// Error codes, the "code" of an Error.
const (
	// CodeBadRequest: a parameter (the key, a bound, a time, a flag) is
	// malformed or not one the route takes; Param names it. Status 400.
	CodeBadRequest = "bad_request"
	// CodeUnknownStore: no store of that name is registered with the
	// handler. Status 404.
	CodeUnknownStore = "unknown_store"
	// CodeWrongStoreType: the store is registered, but the route is for
	// another type of store (windows of a key-value store). Status 404.
	CodeWrongStoreType = "wrong_store_type"
	// CodeKeyNotFound: the store has no value for the key. Status 404.
	CodeKeyNotFound = "key_not_found"
	// CodeNoRoute: the path is none of the handler's routes. Status 404.
	CodeNoRoute = "no_route"
	// CodeMethodNotAllowed: the method is not GET or HEAD. Status 405.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnavailable: no instance could answer now (the key's task is
	// moving, its instance and its standbys are unreachable, or a store
	// closed during the read); Tried lists what was tried. Retry. Status
	// 503, with a Retry-After header.
	CodeUnavailable = "unavailable"
	// CodeInternal: a store failed, or a value could not be encoded as
	// JSON. Status 500.
	CodeInternal = "internal"
)

// Error is the JSON body of every answer that is not 200.
type Error struct {
	// Status is the answer's HTTP status code.
	Status int `json:"status"`
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message says what failed and, where it can, what to do.
	Message string `json:"error"`
	// Store, Param and Host name the store, the parameter at fault, and
	// the instance that answered, where they apply.
	Store string `json:"store,omitempty"`
	Param string `json:"param,omitempty"`
	Host  string `json:"host,omitempty"`
	// Stale and Partitions are set on CodeKeyNotFound, as in Source: a
	// key missing from a stale copy may yet be in the active one.
	Stale      bool    `json:"stale,omitempty"`
	Partitions []int32 `json:"partitions,omitempty"`
	// Tried lists the instances a key's request was forwarded to and why
	// each did not answer, on CodeUnavailable.
	Tried []Attempt `json:"tried,omitempty"`
}

// Error formats e as "iq: <status> <code>: <message>".
func (e *Error) Error() string { return fmt.Sprintf("iq: %d %s: %s", e.Status, e.Code, e.Message) }

// Attempt is one instance a key's request was forwarded to, that did not
// answer.
type Attempt struct {
	Host string `json:"host"`
	// Stale reports that the instance was asked to read its standby copy.
	Stale bool `json:"stale"`
	// Error is what happened: a connection error, a timeout, or the status
	// and message the instance answered with.
	Error string `json:"error"`
}
