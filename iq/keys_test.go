package iq_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/iq"
)

func TestKeyCodecs(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a/b", "ü", "%2F"} {
		k, err := iq.StringKeys().ParseKey(s)
		require.NoError(t, err)
		require.Equal(t, s, iq.StringKeys().FormatKey(k))
	}
	for _, n := range []int64{0, -1, 42, -9223372036854775808, 9223372036854775807} {
		s := iq.Int64Keys().FormatKey(n)
		got, err := iq.Int64Keys().ParseKey(s)
		require.NoError(t, err)
		require.Equal(t, n, got)
	}
	for _, s := range []string{"", "x", "1.5", "9223372036854775808", " 1"} {
		_, err := iq.Int64Keys().ParseKey(s)
		require.ErrorContains(t, err, "is not a decimal int64", s)
	}
	upper := iq.KeyFuncs[string]{Parse: func(s string) (string, error) { return strings.ToUpper(s), nil }, Format: strings.ToLower}
	k, err := upper.ParseKey("ab")
	require.NoError(t, err)
	require.Equal(t, "AB", k)
	require.Equal(t, "ab", upper.FormatKey(k))
}

// Int64Keys parses what it formats, and never panics.
func FuzzInt64Keys(f *testing.F) {
	for _, s := range []string{"0", "-1", "+7", "9223372036854775807", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := iq.Int64Keys().ParseKey(s)
		if err != nil {
			_, perr := strconv.ParseInt(s, 10, 64)
			require.Error(t, perr)
			return
		}
		back, err := iq.Int64Keys().ParseKey(iq.Int64Keys().FormatKey(n))
		require.NoError(t, err)
		require.Equal(t, n, back)
	})
}
