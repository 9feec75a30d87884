package rocksdb

import (
	"time"

	"github.com/gostreams/streams/state"
)

// SessionStore returns a supplier of RocksDB session stores named name,
// which keep a session for retention behind the latest session end they
// have seen: give it to state.NewSessionStoreBuilder as you would
// state.InMemorySessionStore. Segments are as for WindowStore, by session
// end: <StoreContext.Dir>/rocksdb/<name>.<segment start in Unix ms>.
func SessionStore(name string, opts Options, retention time.Duration) state.SessionBytesStoreSupplier {
	return state.NewSessionBytesStoreSupplier(name, Segments(opts), retention)
}
