package state

import (
	"iter"
)

// loggedStore is the change-logging layer: it passes every operation to
// the backend and sends every change to the changelog writer of the task
// that opened it. Reads pass straight through.
type loggedStore struct {
	inner KeyValueBytesStore
	changelog
}

// changelog is what the change-logging layers share: the changelog writer
// of the task that opened the store, and the store's name.
type changelog struct {
	w     ChangelogWriter // nil until Init, or when the runtime keeps no changelog
	store string
}

func (c *changelog) open(ctx StoreContext, store string) { c.w, c.store = ctx.Changelog, store }

// change logs that key now has value (nil: deleted).
func (c *changelog) change(key, value []byte) error {
	if c.w == nil {
		return nil
	}
	return c.w.LogChange(c.store, key, value)
}

// changes logs every entry of batch, tombstones included.
func (c *changelog) changes(batch []KeyValue[[]byte, []byte]) error {
	for _, e := range batch {
		if err := c.change(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

var _ KeyValueBytesStore = (*loggedStore)(nil)

func newLoggedStore(inner KeyValueBytesStore) *loggedStore { return &loggedStore{inner: inner} }

func (s *loggedStore) Name() string     { return s.inner.Name() }
func (s *loggedStore) Persistent() bool { return s.inner.Persistent() }
func (s *loggedStore) Flush() error     { return s.inner.Flush() }
func (s *loggedStore) Close() error     { return s.inner.Close() }

func (s *loggedStore) Init(ctx StoreContext) error {
	s.open(ctx, s.inner.Name())
	return s.inner.Init(ctx)
}

func (s *loggedStore) Get(key []byte) ([]byte, bool, error) { return s.inner.Get(key) }

func (s *loggedStore) Put(key, value []byte) error {
	if err := s.inner.Put(key, value); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // a put of an empty value is not a tombstone
	}
	return s.change(key, value)
}

func (s *loggedStore) PutAll(entries []KeyValue[[]byte, []byte]) error {
	if err := s.inner.PutAll(entries); err != nil {
		return err
	}
	for _, e := range entries {
		v := e.Value
		if v == nil {
			v = []byte{}
		}
		if err := s.change(e.Key, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *loggedStore) Write(batch []KeyValue[[]byte, []byte]) error {
	if err := s.inner.Write(batch); err != nil {
		return err
	}
	return s.changes(batch)
}

func (s *loggedStore) Delete(key []byte) ([]byte, bool, error) {
	old, ok, err := s.inner.Delete(key)
	if err != nil || !ok {
		return old, ok, err
	}
	return old, ok, s.change(key, nil)
}

func (s *loggedStore) Scan(r KeyRange, reverse bool) iter.Seq2[KeyValue[[]byte, []byte], error] {
	return s.inner.Scan(r, reverse)
}

func (s *loggedStore) ApproximateNumEntries() (int64, error) { return s.inner.ApproximateNumEntries() }

// backend returns the store under any caching and change-logging layers.
func backend(s KeyValueBytesStore) KeyValueBytesStore {
	if c, ok := s.(*cachedStore); ok {
		s = c.inner
	}
	if l, ok := s.(*loggedStore); ok {
		return l.inner
	}
	return s
}

// belowCache returns the store under any caching layer: what has been
// written down.
func belowCache(s KeyValueBytesStore) KeyValueBytesStore {
	if c, ok := s.(*cachedStore); ok {
		return c.inner
	}
	return s
}

// wipeAll deletes every entry of s, in batches.
func wipeAll(s KeyValueBytesStore) error {
	if w, ok := s.(interface{ wipe() error }); ok {
		return w.wipe()
	}
	for {
		var batch []KeyValue[[]byte, []byte]
		for kv, err := range s.Scan(KeyRange{}, false) {
			if err != nil {
				return err
			}
			batch = append(batch, KeyValue[[]byte, []byte]{Key: kv.Key})
			if len(batch) == 1024 {
				break
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.Write(batch); err != nil {
			return err
		}
	}
}
