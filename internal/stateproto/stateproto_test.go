package stateproto_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/stateproto"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// The stores the builders make speak every protocol the runtime relies on:
// losing one would silently turn off restoration, exactly-once write
// buffering, queries' committed views or subscriptions.
func TestBuiltStoresImplementTheProtocols(t *testing.T) {
	t.Parallel()
	stores := map[string]state.Store{
		"key-value": state.NewKeyValueStoreBuilder(state.InMemoryKeyValueStore("kv"), serde.String(), serde.Int64()).WithCaching().Build(),
		"window":    state.NewWindowStoreBuilder(state.InMemoryWindowStore("w", time.Hour, time.Minute, false), serde.String(), serde.Int64()).Build(),
		"session":   state.NewSessionStoreBuilder(state.InMemorySessionStore("s", time.Hour), serde.String(), serde.Int64()).Build(),
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			require.Implements(t, (*stateproto.Transactional)(nil), st)
			require.Implements(t, (*stateproto.Restorer)(nil), st)
			require.Implements(t, (*stateproto.ChangelogOffsetReader)(nil), st)
			require.Implements(t, (*stateproto.Committer)(nil), st)
			require.Implements(t, (*stateproto.CommittedViewer)(nil), st)
		})
	}
	require.Implements(t, (*stateproto.Observable[string, int64])(nil), stores["key-value"])
	require.Implements(t, (*stateproto.Observable[state.Windowed[string], int64])(nil), stores["window"])
	require.Implements(t, (*stateproto.Observable[state.Windowed[string], int64])(nil), stores["session"])
}
