package rocksdb

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/state"
)

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	var o Options
	require.NoError(t, o.Validate(), "the zero Options is valid")
	o.EnsureDefaults()
	require.Equal(t, Options{
		WriteBufferSize: 16 << 20,
		MaxWriteBuffers: 3,
		Compression:     CompressionLZ4,
		WriteBatchSize:  16 << 20,
	}, o)
	require.NoError(t, o.Validate())

	set := Options{WriteBufferSize: 1 << 20, MaxWriteBuffers: 2, Compression: CompressionNone, SyncWrites: true, WriteBatchSize: -1}
	o = set
	o.EnsureDefaults()
	require.Equal(t, set, o, "EnsureDefaults keeps what is set")
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"negative WriteBufferSize", Options{WriteBufferSize: -1}, "WriteBufferSize"},
		{"small WriteBufferSize", Options{WriteBufferSize: 64<<10 - 1}, "WriteBufferSize"},
		{"negative MaxWriteBuffers", Options{MaxWriteBuffers: -1}, "MaxWriteBuffers"},
		{"one write buffer", Options{MaxWriteBuffers: 1}, "MaxWriteBuffers"},
		{"unknown Compression", Options{Compression: CompressionZstd + 1}, "Compression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.opts.Validate()
			var oe *OptionsError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, tc.field, oe.Field)
			require.ErrorContains(t, err, "rocksdb: Options."+tc.field+" is ")
		})
	}
	for _, ok := range []Options{{WriteBufferSize: 64 << 10}, {MaxWriteBuffers: 2}, {Compression: CompressionZstd}} {
		require.NoError(t, ok.Validate())
	}
}

// Every compression works with the linked librocksdb: a store writes files
// with it and reads them back after a reopen.
func TestCompressions(t *testing.T) {
	t.Parallel()
	for _, c := range []Compression{CompressionDefault, CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openBytes(t, dir, "c", Options{Compression: c})
			var batch []bkv
			for i := range 1000 {
				batch = append(batch, bkv{Key: fmt.Appendf(nil, "k%04d", i), Value: []byte("compressible compressible compressible")})
			}
			require.NoError(t, s.PutAll(batch))
			require.NoError(t, s.Close())
			s = openBytes(t, dir, "c", Options{Compression: c}) // recovery writes the log out to a file
			require.NotEmpty(t, s.db.GetLiveFilesMetaData())
			require.Len(t, collect(t, s.Scan(state.KeyRange{}, false)), 1000)
		})
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	_, err := NewCache(0)
	require.EqualError(t, err, "rocksdb: NewCache(0): the capacity must be positive, in bytes")

	c, err := NewCache(8 << 20)
	require.NoError(t, err)
	require.EqualValues(t, 8<<20, c.Capacity())
	require.Zero(t, c.Usage())

	// Two stores share the cache; reading files of both fills it.
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		s := openBytes(t, dir, "shared", Options{Cache: c})
		var batch []bkv
		for i := range 2000 {
			batch = append(batch, bkv{Key: fmt.Appendf(nil, "k%04d", i), Value: fmt.Appendf(nil, "v%d", i)})
		}
		require.NoError(t, s.PutAll(batch))
		require.NoError(t, s.Close())
	}
	var stores []*store
	for _, dir := range dirs {
		stores = append(stores, openBytes(t, dir, "shared", Options{Cache: c}))
	}
	before := c.Usage()
	for _, s := range stores {
		require.Len(t, collect(t, s.Scan(state.KeyRange{}, false)), 2000)
	}
	require.Greater(t, c.Usage(), before, "reads go through the shared cache")

	// Closing the Cache while stores use it is safe: they hold their own
	// reference. A new store cannot use it.
	c.Close()
	c.Close()
	require.Zero(t, c.Usage())
	for _, s := range stores {
		require.Len(t, collect(t, s.Scan(state.KeyRange{}, true)), 2000)
		require.NoError(t, s.Close())
	}
	err = KeyValueStore("late", Options{Cache: c}).Get().Init(state.StoreContext{Dir: t.TempDir()})
	var oe *OptionsError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "Cache", oe.Field)

	d := DefaultCache()
	require.Same(t, d, DefaultCache())
	require.EqualValues(t, DefaultCacheSize, d.Capacity())
	d.Close() // does nothing
	require.False(t, d.closed())
}
