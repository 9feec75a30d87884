package serde_test

import (
	"bytes"
	"cmp"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

// fuzzFixed checks a fixed-size serde on arbitrary input: Deserialize never
// panics, fails exactly when the length is wrong (or, with valid, the bytes
// are invalid) and then with ErrMalformed, and a successful decode
// re-encodes to the very same bytes, so each encoding has one meaning.
func fuzzFixed[T any](t *testing.T, s serde.Serde[T], size int, valid func([]byte) bool, data []byte) {
	v, err := s.Deserialize(data)
	if len(data) != size || !valid(data) {
		requireMalformed(t, err, s.Name())
		return
	}
	require.NoError(t, err)
	again, err := s.Serialize(v)
	require.NoError(t, err)
	require.Equal(t, data, again)
}

func anyBytes([]byte) bool { return true }

// addEncodings seeds f with the encodings of vs and with some wrong lengths.
func addEncodings[T any](f *testing.F, s serde.Serde[T], vs ...T) {
	for _, v := range vs {
		b, err := s.Serialize(v)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(nil))
	f.Add([]byte{0})
	f.Add(make([]byte, 3))
	f.Add(make([]byte, 9))
}

func FuzzInt64(f *testing.F) {
	addEncodings(f, serde.Int64(), math.MinInt64, -1, 0, 1, math.MaxInt64)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFixed(t, serde.Int64(), 8, anyBytes, data)
	})
}

func FuzzInt32(f *testing.F) {
	addEncodings(f, serde.Int32(), math.MinInt32, -1, 0, 1, math.MaxInt32)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFixed(t, serde.Int32(), 4, anyBytes, data)
	})
}

func FuzzFloat64(f *testing.F) {
	addEncodings(f, serde.Float64(), math.Inf(-1), -1, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, math.NaN())
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFixed(t, serde.Float64(), 8, anyBytes, data)
	})
}

func FuzzBool(f *testing.F) {
	addEncodings(f, serde.Bool(), false, true)
	f.Add([]byte{2})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFixed(t, serde.Bool(), 1, func(b []byte) bool { return b[0] <= 1 }, data)
	})
}

// FuzzInt64Order checks that bytes.Compare of two encodings agrees with the
// numeric comparison of the values.
func FuzzInt64Order(f *testing.F) {
	f.Add(int64(-1), int64(0))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, a, b int64) {
		ea, _ := serde.Int64().Serialize(a)
		eb, _ := serde.Int64().Serialize(b)
		require.Equal(t, cmp.Compare(a, b), bytes.Compare(ea, eb))
	})
}

// FuzzInt32Order is FuzzInt64Order for Int32.
func FuzzInt32Order(f *testing.F) {
	f.Add(int32(-1), int32(0))
	f.Add(int32(math.MinInt32), int32(math.MaxInt32))
	f.Fuzz(func(t *testing.T, a, b int32) {
		ea, _ := serde.Int32().Serialize(a)
		eb, _ := serde.Int32().Serialize(b)
		require.Equal(t, cmp.Compare(a, b), bytes.Compare(ea, eb))
	})
}

// FuzzFloat64Order is FuzzInt64Order for Float64, in the order Float64
// documents (-0 < +0); NaNs are skipped, as they have no numeric order.
func FuzzFloat64Order(f *testing.F) {
	f.Add(-1.0, 1.0)
	f.Add(math.Copysign(0, -1), 0.0)
	f.Add(math.Inf(-1), -math.MaxFloat64)
	f.Add(-math.SmallestNonzeroFloat64, math.Copysign(0, -1))
	f.Fuzz(func(t *testing.T, a, b float64) {
		if math.IsNaN(a) || math.IsNaN(b) {
			t.Skip()
		}
		ea, _ := serde.Float64().Serialize(a)
		eb, _ := serde.Float64().Serialize(b)
		require.Equal(t, floatOrder(a, b), bytes.Compare(ea, eb), "%v (%x) vs %v (%x)", a, ea, b, eb)
	})
}

// fuzzRecord is a JSON target with the kinds of fields records carry.
type fuzzRecord struct {
	Name  string             `json:"name"`
	Count int64              `json:"count"`
	Score float64            `json:"score"`
	OK    *bool              `json:"ok"`
	Tags  []string           `json:"tags"`
	Attrs map[string]int32   `json:"attrs"`
	Inner *fuzzRecord        `json:"inner"`
	Raw   map[string]any     `json:"raw"`
	Small uint8              `json:"small"`
	Multi map[string][]int16 `json:"multi"`
}

// FuzzJSON checks that Deserialize never panics, fails only with
// ErrMalformed, and that a decoded value survives a round trip unchanged. The
// bytes themselves need not match: JSON has many spellings of one value.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1`,
		`{"name":"a","count":-1,"score":1.5e300,"ok":true,"tags":["x",""],"attrs":{"k":7}}`,
		`{"inner":{"inner":{"name":"deep"}},"raw":{"a":[1,"b",null,{"c":false}]}}`,
		`{"NAME":"case-insensitive","small":255,"multi":{"m":[-32768,32767]}}`,
		`{"small":256}`, `{"count":9223372036854775808}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"name":"a"} trailing`, `{"name":`,
	} {
		f.Add([]byte(seed))
	}
	s := serde.JSON[fuzzRecord]()
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := s.Deserialize(data)
		if err != nil {
			requireMalformed(t, err, s.Name())
			return
		}
		b, err := s.Serialize(v)
		require.NoError(t, err)
		again, err := s.Deserialize(b)
		require.NoError(t, err)
		require.Equal(t, v, again)
		// The canonical encoding is a fixed point.
		b2, err := s.Serialize(again)
		require.NoError(t, err)
		require.Equal(t, b, b2)
	})
}

// FuzzNullableInt64 checks the null handling on arbitrary input: nil bytes
// are the only way to get a nil pointer, and everything else behaves as Int64.
func FuzzNullableInt64(f *testing.F) {
	addEncodings(f, serde.Int64(), 0, -1)
	f.Add([]byte{})
	s := serde.Nullable(serde.Int64())
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer may hand over an empty non-nil slice for a nil seed;
		// test both spellings of "no bytes" explicitly.
		for _, in := range [][]byte{data, nil} {
			p, err := s.Deserialize(in)
			switch {
			case in == nil:
				require.NoError(t, err)
				require.Nil(t, p)
			case len(in) != 8:
				requireMalformed(t, err, "int64")
				require.Nil(t, p)
			default:
				require.NoError(t, err)
				require.NotNil(t, p)
				b, err := s.Serialize(p)
				require.NoError(t, err)
				require.Equal(t, in, b)
			}
		}
	})
}

// FuzzBytes checks that Bytes and String are the identity and keep an empty
// value distinct from a null one.
func FuzzBytes(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte{})
	f.Add([]byte("日本\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := serde.Bytes().Deserialize(data)
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.Equal(t, data == nil, got == nil)

		str, err := serde.String().Deserialize(data)
		require.NoError(t, err)
		b, err := serde.String().Serialize(str)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, b))
		require.NotNil(t, b)
	})
}
