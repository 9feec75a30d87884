package state

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// settingsBuilder is what both builders offer, with the chained methods
// hidden behind funcs so one table covers both.
type settingsBuilder struct {
	StoreBuilder
	// Each returns what the chained method returned.
	loggingEnabled  func(map[string]string) StoreBuilder
	loggingDisabled func() StoreBuilder
	caching         func() StoreBuilder
	cachingDisabled func() StoreBuilder
}

func bothBuilders() map[string]func() settingsBuilder {
	return map[string]func() settingsBuilder{
		"KeyValueStoreBuilder": func() settingsBuilder {
			b := NewKeyValueStoreBuilder(InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64())
			return settingsBuilder{
				StoreBuilder:    b,
				loggingEnabled:  func(c map[string]string) StoreBuilder { return b.WithLoggingEnabled(c) },
				loggingDisabled: func() StoreBuilder { return b.WithLoggingDisabled() },
				caching:         func() StoreBuilder { return b.WithCaching() },
				cachingDisabled: func() StoreBuilder { return b.WithCachingDisabled() },
			}
		},
		"TimestampedKeyValueStoreBuilder": func() settingsBuilder {
			b := NewTimestampedKeyValueStoreBuilder(InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64())
			return settingsBuilder{
				StoreBuilder:    b,
				loggingEnabled:  func(c map[string]string) StoreBuilder { return b.WithLoggingEnabled(c) },
				loggingDisabled: func() StoreBuilder { return b.WithLoggingDisabled() },
				caching:         func() StoreBuilder { return b.WithCaching() },
				cachingDisabled: func() StoreBuilder { return b.WithCachingDisabled() },
			}
		},
	}
}

func TestBuilderSettings(t *testing.T) {
	t.Parallel()
	for name, newBuilder := range bothBuilders() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBuilder()
			require.Equal(t, "Counts", b.Name())
			require.True(t, b.LoggingEnabled(), "logging is on by default")
			require.False(t, b.CachingEnabled(), "caching is off by default")
			require.NotNil(t, b.LogConfig())
			require.Empty(t, b.LogConfig())

			cfg := map[string]string{"min.insync.replicas": "2"}
			require.Same(t, b.StoreBuilder, b.loggingEnabled(cfg), "chainable")
			cfg["min.insync.replicas"] = "changed by the caller"
			require.True(t, b.LoggingEnabled())
			got := b.LogConfig()
			require.Equal(t, map[string]string{"min.insync.replicas": "2"}, got, "the builder copies the config")
			got["retention.ms"] = "1"
			require.Equal(t, map[string]string{"min.insync.replicas": "2"}, b.LogConfig(), "LogConfig returns a copy")

			require.Same(t, b.StoreBuilder, b.loggingDisabled(), "chainable")
			require.False(t, b.LoggingEnabled())
			require.Empty(t, b.LogConfig(), "disabling logging forgets the config")

			require.Same(t, b.StoreBuilder, b.loggingEnabled(nil), "chainable")
			require.True(t, b.LoggingEnabled())
			require.Empty(t, b.LogConfig())

			require.Same(t, b.StoreBuilder, b.caching(), "chainable")
			require.True(t, b.CachingEnabled())
			require.Same(t, b.StoreBuilder, b.cachingDisabled(), "chainable")
			require.False(t, b.CachingEnabled())
		})
	}
}

func TestBuilderChains(t *testing.T) {
	t.Parallel()
	b := NewKeyValueStoreBuilder(InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64()).
		WithCaching().
		WithLoggingEnabled(map[string]string{"segment.ms": "1000"})
	require.True(t, b.CachingEnabled())
	require.Equal(t, map[string]string{"segment.ms": "1000"}, b.LogConfig())

	tb := NewTimestampedKeyValueStoreBuilder(InMemoryKeyValueStore("Seen"), serde.String(), serde.Int64()).
		WithLoggingDisabled().
		WithCaching().
		WithCachingDisabled()
	require.False(t, tb.LoggingEnabled())
	require.False(t, tb.CachingEnabled())
}

func TestBuilderBuild(t *testing.T) {
	t.Parallel()
	b := NewKeyValueStoreBuilder(InMemoryKeyValueStore("Counts"), serde.String(), serde.Int64())
	s1, ok := b.Build().(KeyValueStore[string, int64])
	require.True(t, ok, "Build returns a KeyValueStore[K,V]")
	s2 := b.Build().(KeyValueStore[string, int64])
	require.NotSame(t, s1, s2)
	require.Equal(t, "Counts", s1.Name())

	_, err := s1.ApproximateNumEntries()
	require.ErrorIs(t, err, ErrStoreNotInitialized, "Build returns an unopened store")

	require.NoError(t, s1.Init(StoreContext{TaskID: "0_0"}))
	require.NoError(t, s2.Init(StoreContext{TaskID: "0_1"}))
	t.Cleanup(func() { _ = s1.Close(); _ = s2.Close() })
	require.NoError(t, s1.Put("a", 1))
	_, ok, err = s2.Get("a")
	require.NoError(t, err)
	require.False(t, ok, "each built store has its own backend")

	tb := NewTimestampedKeyValueStoreBuilder(InMemoryKeyValueStore("Seen"), serde.String(), serde.Int64())
	ts, ok := tb.Build().(TimestampedKeyValueStore[string, int64])
	require.True(t, ok, "Build returns a TimestampedKeyValueStore[K,V]")
	require.Equal(t, "Seen", ts.Name())
}

func TestBuilderNilArguments(t *testing.T) {
	t.Parallel()
	sup := InMemoryKeyValueStore("s")
	require.PanicsWithValue(t, "state: NewKeyValueStoreBuilder: nil supplier; pass InMemoryKeyValueStore(name) or a persistent supplier", func() {
		NewKeyValueStoreBuilder[string, string](nil, serde.String(), serde.String())
	})
	require.PanicsWithValue(t, "state: NewKeyValueStoreBuilder: nil key serde", func() {
		NewKeyValueStoreBuilder[string, string](sup, nil, serde.String())
	})
	require.PanicsWithValue(t, "state: NewTimestampedKeyValueStoreBuilder: nil value serde", func() {
		NewTimestampedKeyValueStoreBuilder[string, string](sup, serde.String(), nil)
	})
}
