package state

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The window and session key layouts are what changelog topics hold, so
// they are pinned by a golden file. Regenerate with
// go test -run TestWindowKeysGolden -update.
func TestWindowKeysGolden(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 123_000_000, time.UTC).UnixMilli()
	var out strings.Builder
	for _, c := range []struct {
		name       string
		key        string
		start, end int64
		seq        uint32
	}{
		{"epoch", "k", 0, 0, 0},
		{"2024 with sequence number", "user-1", at, at + 300_000, 7},
		{"before epoch", "", -1, 0, math.MaxUint32},
		{"extremes", "\x00\xff", math.MinInt64, math.MaxInt64, 1},
	} {
		fmt.Fprintf(&out, "%s window: %x\n", c.name, encodeWindowKey(nil, []byte(c.key), c.start, c.seq))
		fmt.Fprintf(&out, "%s session: %x\n", c.name, encodeSessionKey(nil, []byte(c.key), c.end, c.start))
	}
	golden := filepath.Join("testdata", "window_keys.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestWindowKeysGolden -update to create it")
	require.Equal(t, string(want), out.String())
}

// The byte order of window keys of one serialized key is the order of
// window start, then sequence number, negative times included; likewise
// session end, then start.
func TestKeyEncodingOrder(t *testing.T) {
	t.Parallel()
	times := []int64{math.MinInt64, -60_000, -1, 0, 1, 999, 1000, 1 << 40, math.MaxInt64}
	for i, a := range times {
		for j, b := range times {
			for _, sa := range []uint32{0, 1, math.MaxUint32} {
				for _, sb := range []uint32{0, 1, math.MaxUint32} {
					ka, kb := encodeWindowKey(nil, []byte("k"), a, sa), encodeWindowKey(nil, []byte("k"), b, sb)
					want := cmpInt(int64(i), int64(j))
					if want == 0 {
						want = cmpInt(int64(sa), int64(sb))
					}
					require.Equal(t, want, bytes.Compare(ka, kb), "window %d/%d vs %d/%d", a, sa, b, sb)
				}
			}
			// Sessions: by end, then start.
			for _, sa := range times[:i+1] {
				for _, sb := range times[:j+1] {
					ka, kb := encodeSessionKey(nil, []byte("k"), a, sa), encodeSessionKey(nil, []byte("k"), b, sb)
					want := cmpInt(a, b)
					if want == 0 {
						want = cmpInt(sa, sb)
					}
					require.Equal(t, want, bytes.Compare(ka, kb), "session [%d, %d] vs [%d, %d]", sa, a, sb, b)
				}
			}
		}
	}
}

func TestDecodeKeysRejectMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		decode  func([]byte) error
		in      []byte
		wantErr string
	}{
		{"window nil", decodeWindowErr, nil, "at least 12 bytes"},
		{"window short", decodeWindowErr, make([]byte, 11), "got 11"},
		{"window empty key", decodeWindowErr, make([]byte, 12), ""},
		{"session nil", decodeSessionErr, nil, "at least 16 bytes"},
		{"session short", decodeSessionErr, make([]byte, 15), "got 15"},
		{"session ends before it starts", decodeSessionErr, encodeSessionKey(nil, []byte("k"), 1, 2), "after its end"},
		{"session of one instant", decodeSessionErr, encodeSessionKey(nil, []byte("k"), 5, 5), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.decode(tc.in)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrMalformedKey)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func decodeWindowErr(b []byte) error  { _, _, _, err := decodeWindowKey(b); return err }
func decodeSessionErr(b []byte) error { _, _, _, err := decodeSessionKey(b); return err }

// A key that is a prefix of another must not take the other's suffix: the
// decoders read from the end.
func TestDecodeKeysFromTheEnd(t *testing.T) {
	t.Parallel()
	long := encodeWindowKey(nil, []byte("ab\x00\x01"), -5, 9)
	k, start, seq, err := decodeWindowKey(long)
	require.NoError(t, err)
	require.Equal(t, []byte("ab\x00\x01"), k)
	require.EqualValues(t, -5, start)
	require.EqualValues(t, 9, seq)
	k, start, end, err := decodeSessionKey(encodeSessionKey(nil, []byte("a"), 10, -10))
	require.NoError(t, err)
	require.Equal(t, []byte("a"), k)
	require.EqualValues(t, -10, start)
	require.EqualValues(t, 10, end)
}

// upperBoundFor must bound every encoding of every key in [from, to] whose
// suffix is at most the given one, prefixes of to included. Random short
// keys over a tiny alphabet make prefixes common.
func TestUpperBoundCoversPrefixKeys(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []byte{0x00, 0x61, 0x7f, 0x80, 0xff}
	randKey := func() []byte {
		k := make([]byte, rng.IntN(4))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return k
	}
	checked := 0 // so that the test cannot pass by skipping every key
	for range 3000 {
		from, to := randKey(), randKey()
		var fromP []byte
		if rng.IntN(3) > 0 {
			fromP = from
		}
		if fromP != nil && bytes.Compare(fromP, to) > 0 {
			continue
		}
		maxStart := rng.Int64N(1<<20) - 1<<19
		bound := upperBoundFor(fromP, to, maxWindowSuffix(maxStart))
		for range 20 {
			k := randKey()
			if !inKeyRange(k, fromP, to) {
				continue
			}
			start := maxStart - rng.Int64N(1<<20)
			enc := encodeWindowKey(nil, k, start, rng.Uint32())
			require.LessOrEqual(t, bytes.Compare(enc, bound), 0, "key %x start %d from %x to %x: %x > bound %x", k, start, fromP, to, enc, bound)
			if fromP != nil {
				require.GreaterOrEqual(t, bytes.Compare(enc, fromP), 0)
			}
			checked++
		}
	}
	require.Greater(t, checked, 10_000, "too few keys fell in their range")
}

func FuzzWindowKey(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(make([]byte, 11))
	f.Add(encodeWindowKey(nil, []byte("key"), 0, 0))
	f.Add(encodeWindowKey(nil, nil, math.MinInt64, math.MaxUint32))
	f.Add(encodeWindowKey(nil, []byte("\xff\xff"), -1, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, start, seq, err := decodeWindowKey(b)
		if len(b) < windowKeySuffix {
			require.ErrorIs(t, err, ErrMalformedKey)
			return
		}
		require.NoError(t, err)
		require.Equal(t, b, encodeWindowKey(nil, k, start, seq))
		got, err := windowSchema{}.segmentTime(b)
		require.NoError(t, err)
		require.Equal(t, start, got)
	})
}

func FuzzSessionKey(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(make([]byte, 15))
	f.Add(encodeSessionKey(nil, []byte("key"), 10, 0))
	f.Add(encodeSessionKey(nil, nil, math.MaxInt64, math.MinInt64))
	f.Add(encodeSessionKey(nil, []byte("k"), 0, 1)) // ends before it starts
	f.Fuzz(func(t *testing.T, b []byte) {
		k, start, end, err := decodeSessionKey(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedKey)
			require.True(t, len(b) < sessionKeySuffix || readTime(b[len(b)-timeSize:]) > readTime(b[len(b)-2*timeSize:]),
				"rejected a well-formed key %x: %v", b, err)
			return
		}
		require.LessOrEqual(t, start, end)
		require.Equal(t, b, encodeSessionKey(nil, k, end, start))
		got, err := sessionSchema{}.segmentTime(b)
		require.NoError(t, err)
		require.Equal(t, end, got)
	})
}

// Times outside the int64 milliseconds clamp instead of overflowing; times
// come back in UTC, floored to the millisecond.
func TestTimeConversion(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(math.MinInt64), toMs(time.Unix(-1<<62, 0)))
	require.Equal(t, int64(math.MinInt64), toMs(minMsTime))
	require.Equal(t, int64(math.MaxInt64), toMs(maxMsTime.Add(time.Hour)))
	require.Equal(t, int64(math.MaxInt64), toMs(maxMsTime))
	require.Equal(t, int64(-62135596800000), toMs(time.Time{}))
	require.Equal(t, int64(-1), toMs(time.Unix(0, -1)))
	require.Equal(t, int64(1), toMs(time.Unix(0, 1_999_999)))
	require.Equal(t, time.UTC, fromMs(5).Location())
}

// Arbitrary changelog records restored into a window store: the restore
// either fails with ErrMalformedKey or succeeds, and then every read works
// and finds what it lists, extreme times included. Nothing panics.
func FuzzWindowRestore(f *testing.F) {
	f.Add(encodeWindowKey(nil, []byte("k"), 0, 0), []byte("v"), encodeWindowKey(nil, []byte("k"), 1, 0), false)
	f.Add(encodeWindowKey(nil, nil, math.MinInt64, 0), []byte{}, encodeWindowKey(nil, nil, math.MaxInt64, 7), true)
	f.Add([]byte("short"), []byte("v"), []byte(nil), false)
	f.Fuzz(func(t *testing.T, k1, v1, k2 []byte, tombstone bool) {
		st := openWindow(t, InMemoryWindowStore("f", time.Hour, time.Minute, true))
		var v2 []byte
		if !tombstone {
			v2 = []byte("second")
		}
		if v1 == nil {
			v1 = []byte{}
		}
		err := st.Restore([]KeyValue[[]byte, []byte]{{Key: k1, Value: v1}, {Key: k2, Value: v2}})
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedKey)
			require.True(t, len(k1) < windowKeySuffix || len(k2) < windowKeySuffix)
			return
		}
		for kv, err := range st.All() {
			require.NoError(t, err)
			_, ok, err := st.FetchOne(kv.Key.Key, kv.Key.Start)
			require.NoError(t, err)
			require.True(t, ok)
			require.NotEmpty(t, collect(t, st.Fetch(kv.Key.Key, kv.Key.Start, kv.Key.Start)))
			require.NotEmpty(t, collect(t, st.FetchRange(&kv.Key.Key, &kv.Key.Key, kv.Key.Start, kv.Key.Start)))
		}
		require.NoError(t, st.Put("after", "v", at(0)))
	})
}

// The same for a session store.
func FuzzSessionRestore(f *testing.F) {
	f.Add(encodeSessionKey(nil, []byte("k"), 1, 0), []byte("v"), encodeSessionKey(nil, []byte("k"), 5, 5), false)
	f.Add(encodeSessionKey(nil, nil, math.MaxInt64, math.MinInt64), []byte{}, encodeSessionKey(nil, nil, math.MinInt64, math.MinInt64), true)
	f.Add(encodeSessionKey(nil, []byte("k"), 0, 1), []byte("v"), []byte(nil), false)
	f.Fuzz(func(t *testing.T, k1, v1, k2 []byte, tombstone bool) {
		st := openSession(t, InMemorySessionStore("f", time.Hour))
		var v2 []byte
		if !tombstone {
			v2 = []byte("second")
		}
		if v1 == nil {
			v1 = []byte{}
		}
		err := st.Restore([]KeyValue[[]byte, []byte]{{Key: k1, Value: v1}, {Key: k2, Value: v2}})
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedKey)
			_, _, _, err1 := decodeSessionKey(k1)
			_, _, _, err2 := decodeSessionKey(k2)
			require.True(t, err1 != nil || err2 != nil)
			return
		}
		for kv, err := range st.FetchRange(nil, nil) {
			require.NoError(t, err)
			_, ok, err := st.FetchSession(kv.Key.Key, kv.Key.Start, kv.Key.End)
			require.NoError(t, err)
			require.True(t, ok)
			require.NotEmpty(t, collect(t, st.FindSessions(kv.Key.Key, kv.Key.End, kv.Key.Start)))
		}
	})
}
