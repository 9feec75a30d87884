package streams

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// ErrSubscriberTooSlow ends a subscription whose reader fell behind by more
// than its buffer: processing never waits for a subscriber.
var ErrSubscriberTooSlow = errors.New("streams: subscriber fell behind its buffer; changes were dropped")

// StoreChange is a committed change to a store, and the task that made it.
type StoreChange[K, V any] struct {
	state.Change[K, V]
	Task processor.TaskID
}

// Subscription delivers the committed changes of one store of the app.
type Subscription[K, V any] struct {
	hub *hub[K, V]
	out <-chan StoreChange[K, V]
	mu  struct {
		sync.Mutex
		c    chan StoreChange[K, V]
		err  error
		done bool
	}
}

// Subscribe returns a subscription to the committed changes of the store
// name, on the tasks this instance runs (now and later). For a key-value
// store K and V are its key and value types (V is
// state.ValueAndTimestamp[X] for a timestamped store); for a window or
// session store K is state.Windowed[X], the window or session of key X, so
// that a change names the window it changed.
// Each change (key, old value, new value, record timestamp, task) is
// delivered once the commit that made it durable succeeds: a subscriber
// never sees a change that a failure could still undo under at-least-once.
// Changes of one task come in the order they were made.
//
// A subscription buffers up to buffer changes (0 means 1024). Processing
// never waits for a subscriber: one that falls further behind is ended,
// its channel closed and Err returning ErrSubscriberTooSlow; resubscribe,
// and read the store with QueryKeyValue to catch up. While a store has
// subscribers, each write to it also reads the old value.
func Subscribe[K, V any](a *App, name string, buffer int) (*Subscription[K, V], error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	if buffer <= 0 {
		buffer = 1024
	}
	a.subs.mu.Lock()
	if a.subs.mu.byStore == nil {
		a.subs.mu.byStore = map[string]hubber{}
	}
	h0, exists := a.subs.mu.byStore[name]
	var h *hub[K, V]
	if exists {
		var ok bool
		if h, ok = h0.(*hub[K, V]); !ok {
			a.subs.mu.Unlock()
			return nil, fmt.Errorf("streams: store %q already has subscribers with other key and value types", name)
		}
	} else {
		h = &hub[K, V]{app: a, store: name}
		h.mu.subs = map[*Subscription[K, V]]struct{}{}
		a.subs.mu.byStore[name] = h
	}
	s := &Subscription[K, V]{hub: h}
	s.mu.c = make(chan StoreChange[K, V], buffer)
	s.out = s.mu.c
	h.mu.Lock()
	h.mu.subs[s] = struct{}{}
	h.mu.Unlock()
	var err error
	if !exists {
		for id, st := range a.local.withIDs(name) {
			if err = h.attach(st, id); err != nil {
				break
			}
		}
	}
	a.subs.mu.Unlock()
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Changes is the channel of changes; it is closed when the subscription
// ends (Close, the app closing, or falling behind: see Err).
func (s *Subscription[K, V]) Changes() <-chan StoreChange[K, V] { return s.out }

// Err tells why the subscription ended: nil while it runs and after Close,
// ErrSubscriberTooSlow, ErrClosed when the app closed, or a type mismatch.
func (s *Subscription[K, V]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.err
}

// Close ends the subscription. It is idempotent.
func (s *Subscription[K, V]) Close() { s.end(nil) }

func (s *Subscription[K, V]) end(err error) {
	s.mu.Lock()
	if s.mu.done {
		s.mu.Unlock()
		return
	}
	s.mu.done, s.mu.err = true, err
	close(s.mu.c)
	s.mu.Unlock()
	s.hub.remove(s)
}

// deliver sends changes without blocking; a full buffer ends the
// subscription.
func (s *Subscription[K, V]) deliver(id processor.TaskID, changes []state.Change[K, V]) {
	s.mu.Lock()
	if s.mu.done {
		s.mu.Unlock()
		return
	}
	for _, c := range changes {
		select {
		case s.mu.c <- StoreChange[K, V]{Change: c, Task: id}:
		default:
			s.mu.Unlock()
			s.end(ErrSubscriberTooSlow)
			return
		}
	}
	s.mu.Unlock()
}

// hubber is a hub of any key and value types.
type hubber interface {
	attach(st state.Store, id processor.TaskID) error
	closeAll(err error)
}

// subscriptions are the app's hubs, by store name.
//
// Lock order: subscriptions.mu, then localStores.mu, then a hub's mu,
// then a Subscription's mu. Whatever decides which stores have an observer
// holds subscriptions.mu throughout: Subscribe (making a hub and attaching
// it), the last subscription's removal (detaching it), and a task starting
// to run (attaching the hubs to its stores), so none of them can undo
// another's work.
type subscriptions struct {
	mu struct {
		sync.Mutex
		byStore map[string]hubber
	}
}

// hub fans a store's changes out to its subscriptions.
type hub[K, V any] struct {
	app   *App
	store string
	mu    struct {
		sync.Mutex
		subs map[*Subscription[K, V]]struct{}
	}
}

func (h *hub[K, V]) attach(st state.Store, id processor.TaskID) error {
	obs, ok := st.(stateproto.Observable[K, V])
	if !ok {
		return fmt.Errorf("streams: store %q (%T) cannot be subscribed to with these key and value types", h.store, st)
	}
	obs.SetObserver(func(cs []state.Change[K, V]) { h.publish(id, cs) })
	return nil
}

// subscribers returns the hub's subscriptions now, so that they can be
// told something without holding the hub's lock.
func (h *hub[K, V]) subscribers() []*Subscription[K, V] {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := make([]*Subscription[K, V], 0, len(h.mu.subs))
	for s := range h.mu.subs {
		subs = append(subs, s)
	}
	return subs
}

func (h *hub[K, V]) publish(id processor.TaskID, changes []state.Change[K, V]) {
	for _, s := range h.subscribers() {
		s.deliver(id, changes)
	}
}

// remove forgets s; the last one to go stops the stores recording.
//
// The bug this layout fixes: remove used to drop s, see the hub empty,
// and then, without holding subscriptions.mu, clear every store's
// observer. A Subscribe in between either joined this hub (which then
// stayed registered, its stores detached: the new subscription heard
// nothing) or made a new hub and attached it (which remove then detached).
// Now the check, the hub's removal and the detaching happen under
// subscriptions.mu, which Subscribe holds too.
func (h *hub[K, V]) remove(s *Subscription[K, V]) {
	a := h.app
	a.subs.mu.Lock()
	defer a.subs.mu.Unlock()
	h.mu.Lock()
	delete(h.mu.subs, s)
	empty := len(h.mu.subs) == 0
	h.mu.Unlock()
	if !empty || a.subs.mu.byStore[h.store] != hubber(h) {
		return
	}
	delete(a.subs.mu.byStore, h.store)
	for _, st := range a.local.withIDs(h.store) {
		if obs, ok := st.(stateproto.Observable[K, V]); ok {
			obs.SetObserver(nil)
		}
	}
}

func (h *hub[K, V]) closeAll(err error) {
	for _, s := range h.subscribers() {
		s.end(err)
	}
}

// taskRunning registers the stores of a task that starts processing, for
// queries, and gives them the app's subscriptions.
func (a *App) taskRunning(id processor.TaskID, stores map[string]state.Store) {
	var failed []func()
	a.subs.mu.Lock()
	a.local.add(id, stores)
	for name, st := range stores {
		if h, ok := a.subs.mu.byStore[name]; ok {
			if err := h.attach(st, id); err != nil {
				failed = append(failed, func() { h.closeAll(err) })
			}
		}
	}
	a.subs.mu.Unlock()
	for _, f := range failed {
		f() // ending a subscription takes subs.mu
	}
}

// endSubscriptions ends every subscription with err.
func (a *App) endSubscriptions(err error) {
	a.subs.mu.Lock()
	hubs := make([]hubber, 0, len(a.subs.mu.byStore))
	for _, h := range a.subs.mu.byStore {
		hubs = append(hubs, h)
	}
	a.subs.mu.Unlock()
	for _, h := range hubs {
		h.closeAll(err)
	}
}
