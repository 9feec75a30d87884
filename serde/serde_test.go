package serde_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/serde"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// roundTrip serializes v, deserializes the result and returns it with the
// encoding.
func roundTrip[T any](t *testing.T, s serde.Serde[T], v T) (T, []byte) {
	t.Helper()
	b, err := s.Serialize(v)
	require.NoError(t, err)
	got, err := s.Deserialize(b)
	require.NoError(t, err)
	return got, b
}

// requireMalformed checks that err is the deserialization error of the serde
// named name for bytes that are not a valid encoding.
func requireMalformed(t *testing.T, err error, name string) {
	t.Helper()
	require.ErrorIs(t, err, serde.ErrMalformed)
	se, ok := errors.AsType[*serde.Error](err)
	require.True(t, ok, "want a *serde.Error, got %T: %v", err, err)
	require.Equal(t, name, se.Serde)
	require.Equal(t, "deserialize", se.Op)
	require.Contains(t, err.Error(), "serde "+name+": deserialize: ")
}

func TestInt64RoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{math.MinInt64, math.MinInt64 + 1, -1 << 32, -256, -1, 0, 1, 255, 1 << 32, math.MaxInt64 - 1, math.MaxInt64} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.Int64(), v)
			require.Equal(t, v, got)
			require.Len(t, b, 8)
		})
	}
}

func TestInt32RoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int32{math.MinInt32, math.MinInt32 + 1, -65536, -1, 0, 1, 65535, math.MaxInt32 - 1, math.MaxInt32} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.Int32(), v)
			require.Equal(t, v, got)
			require.Len(t, b, 4)
		})
	}
}

func TestFloat64RoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    float64
	}{
		{"zero", 0},
		{"negative zero", math.Copysign(0, -1)},
		{"one", 1},
		{"minus one", -1},
		{"pi", math.Pi},
		{"smallest subnormal", math.SmallestNonzeroFloat64},
		{"minus smallest subnormal", -math.SmallestNonzeroFloat64},
		{"max", math.MaxFloat64},
		{"minus max", -math.MaxFloat64},
		{"+Inf", math.Inf(1)},
		{"-Inf", math.Inf(-1)},
		{"NaN", math.NaN()},
		{"negative NaN with payload", math.Float64frombits(0xfff8_0000_dead_beef)},
		{"signalling NaN", math.Float64frombits(0x7ff0_0000_0000_0001)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.Float64(), tt.v)
			// Compare bits: NaN != NaN, and -0 == +0 would hide a lost sign.
			require.Equal(t, math.Float64bits(tt.v), math.Float64bits(got), "got %v", got)
			require.Len(t, b, 8)
		})
	}
}

func TestBoolRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    bool
		want []byte
	}{{false, []byte{0}}, {true, []byte{1}}} {
		t.Run(fmt.Sprint(tt.v), func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.Bool(), tt.v)
			require.Equal(t, tt.v, got)
			require.Equal(t, tt.want, b)
		})
	}
}

func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, v string }{
		{"empty", ""},
		{"ascii", "hello"},
		{"unicode", "日本語 ✓ 🦀"},
		{"NUL bytes", "a\x00b\x00"},
		{"invalid UTF-8 is kept as is", "\xff\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.String(), tt.v)
			require.Equal(t, tt.v, got)
			require.Equal(t, []byte(tt.v), b)
			// An empty string is an empty value, not a Kafka null.
			require.NotNil(t, b)
		})
	}
}

func TestStringDeserializeNil(t *testing.T) {
	t.Parallel()
	got, err := serde.String().Deserialize(nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestBytesRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"data", []byte{0, 1, 2, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, b := roundTrip(t, serde.Bytes(), tt.v)
			require.Equal(t, tt.v, got)
			require.Equal(t, tt.v, b)
			// Bug: Bytes used append([]byte(nil), v...), which returns nil
			// for an empty v and so turned an empty value into a tombstone.
			require.Equal(t, tt.v == nil, b == nil, "serialize: nil-ness changed")
			require.Equal(t, tt.v == nil, got == nil, "deserialize: nil-ness changed")
		})
	}
}

func TestBytesCopies(t *testing.T) {
	t.Parallel()
	in := []byte("abc")
	out, err := serde.Bytes().Serialize(in)
	require.NoError(t, err)
	got, err := serde.Bytes().Deserialize(in)
	require.NoError(t, err)
	in[0] = 'X' // the caller reuses its buffer
	require.Equal(t, []byte("abc"), out)
	require.Equal(t, []byte("abc"), got)
}

type order struct {
	ID     string            `json:"id"`
	Amount float64           `json:"amount"`
	Items  []string          `json:"items,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	Note   *string           `json:"note,omitempty"`
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	note := "leave at the door 🚪"
	tests := []struct {
		name string
		v    order
	}{
		{"zero", order{}},
		{"full", order{ID: "o-1", Amount: -12.5, Items: []string{"a", "b"}, Tags: map[string]string{"k": "v"}, Note: &note}},
		{"unicode", order{ID: "注文-ü"}},
		{"extreme amount", order{Amount: math.MaxFloat64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _ := roundTrip(t, serde.JSON[order](), tt.v)
			require.Equal(t, tt.v, got)
		})
	}
}

func TestJSONName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "json[serde_test.order]", serde.JSON[order]().Name())
	require.Equal(t, "json[*serde_test.order]", serde.JSON[*order]().Name())
	require.Equal(t, "json[map[string]int]", serde.JSON[map[string]int]().Name())
	require.Equal(t, "json[interface {}]", serde.JSON[any]().Name())
}

func TestJSONDeserialize(t *testing.T) {
	t.Parallel()
	s := serde.JSON[order]()

	t.Run("unknown fields are ignored", func(t *testing.T) {
		t.Parallel()
		got, err := s.Deserialize([]byte(`{"id":"o-1","added_later":true}`))
		require.NoError(t, err)
		require.Equal(t, order{ID: "o-1"}, got)
	})
	t.Run("null literal is the zero value", func(t *testing.T) {
		t.Parallel()
		got, err := s.Deserialize([]byte(`null`))
		require.NoError(t, err)
		require.Equal(t, order{}, got)
	})
	t.Run("syntax error is reachable with errors.As", func(t *testing.T) {
		t.Parallel()
		_, err := s.Deserialize([]byte(`{"id":`))
		requireMalformed(t, err, "json[serde_test.order]")
		_, ok := errors.AsType[*json.SyntaxError](err)
		require.True(t, ok, "want a *json.SyntaxError in the chain: %v", err)
	})
	t.Run("partial decode is not returned", func(t *testing.T) {
		t.Parallel()
		got, err := s.Deserialize([]byte(`{"id":"o-1","amount":"ten"}`))
		requireMalformed(t, err, "json[serde_test.order]")
		require.Equal(t, order{}, got)
	})
}

func TestJSONSerializeError(t *testing.T) {
	t.Parallel()
	_, err := serde.JSON[order]().Serialize(order{Amount: math.NaN()})
	require.Error(t, err)
	require.NotErrorIs(t, err, serde.ErrMalformed)
	se, ok := errors.AsType[*serde.Error](err)
	require.True(t, ok)
	require.Equal(t, "json[serde_test.order]", se.Serde)
	require.Equal(t, "serialize", se.Op)
	_, ok = errors.AsType[*json.UnsupportedValueError](err)
	require.True(t, ok, "want the encoding/json error in the chain: %v", err)
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		serde   string
		decode  func([]byte) error
		input   []byte
		message string // a substring the error must contain
	}{
		{"int64 nil", "int64", decodeWith(serde.Int64()), nil, "want 8 bytes, got 0"},
		{"int64 empty", "int64", decodeWith(serde.Int64()), []byte{}, "want 8 bytes, got 0"},
		{"int64 short", "int64", decodeWith(serde.Int64()), make([]byte, 7), "want 8 bytes, got 7"},
		{"int64 long", "int64", decodeWith(serde.Int64()), make([]byte, 9), "want 8 bytes, got 9"},
		{"int64 given int32", "int64", decodeWith(serde.Int64()), make([]byte, 4), "want 8 bytes, got 4"},
		{"int32 nil", "int32", decodeWith(serde.Int32()), nil, "want 4 bytes, got 0"},
		{"int32 short", "int32", decodeWith(serde.Int32()), make([]byte, 3), "want 4 bytes, got 3"},
		{"int32 given int64", "int32", decodeWith(serde.Int32()), make([]byte, 8), "want 4 bytes, got 8"},
		{"float64 nil", "float64", decodeWith(serde.Float64()), nil, "want 8 bytes, got 0"},
		{"float64 short", "float64", decodeWith(serde.Float64()), make([]byte, 4), "want 8 bytes, got 4"},
		{"float64 long", "float64", decodeWith(serde.Float64()), make([]byte, 16), "want 8 bytes, got 16"},
		{"bool nil", "bool", decodeWith(serde.Bool()), nil, "want 1 bytes, got 0"},
		{"bool long", "bool", decodeWith(serde.Bool()), []byte{0, 1}, "want 1 bytes, got 2"},
		{"bool byte 2", "bool", decodeWith(serde.Bool()), []byte{2}, "got 0x02"},
		{"bool byte 0xff", "bool", decodeWith(serde.Bool()), []byte{0xff}, "got 0xff"},
		{"bool ascii t", "bool", decodeWith(serde.Bool()), []byte("t"), "got 0x74"},
		{"json nil", "json[serde_test.order]", decodeWith(serde.JSON[order]()), nil, "empty input"},
		{"json empty", "json[serde_test.order]", decodeWith(serde.JSON[order]()), []byte{}, "empty input"},
		{"json truncated", "json[serde_test.order]", decodeWith(serde.JSON[order]()), []byte(`{"id":"o`), "unexpected end"},
		{"json trailing data", "json[serde_test.order]", decodeWith(serde.JSON[order]()), []byte(`{} {}`), "after top-level value"},
		{"json wrong type", "json[serde_test.order]", decodeWith(serde.JSON[order]()), []byte(`[1,2]`), "cannot unmarshal"},
		{"json int overflow", "json[int32]", decodeWith(serde.JSON[int32]()), []byte(`4294967296`), "cannot unmarshal"},
		{"json of int64 bytes", "json[int64]", decodeWith(serde.JSON[int64]()), []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.decode(tt.input)
			requireMalformed(t, err, tt.serde)
			require.Contains(t, err.Error(), tt.message)
		})
	}
}

// decodeWith erases the type of a serde's Deserialize so that serdes of
// different types fit in one table.
func decodeWith[T any](s serde.Serde[T]) func([]byte) error {
	return func(b []byte) error {
		_, err := s.Deserialize(b)
		return err
	}
}

// requireOrdered checks that the encodings of sorted, a slice sorted by the
// numeric order compare, are in the same order under bytes.Compare: each
// adjacent pair compares the same way as bytes as it does as numbers.
func requireOrdered[T any](t *testing.T, s serde.Serde[T], sorted []T, compare func(a, b T) int) {
	t.Helper()
	require.True(t, slices.IsSortedFunc(sorted, compare), "test bug: input not sorted")
	prev, err := s.Serialize(sorted[0])
	require.NoError(t, err)
	for i := 1; i < len(sorted); i++ {
		cur, err := s.Serialize(sorted[i])
		require.NoError(t, err)
		require.Equal(t, compare(sorted[i-1], sorted[i]), bytes.Compare(prev, cur),
			"%s: %v (%x) vs %v (%x)", s.Name(), sorted[i-1], prev, sorted[i], cur)
		prev = cur
	}
}

// floatOrder is the order Float64 encodes: numeric, with -0 below +0. NaNs
// are not ordered by it.
func floatOrder(a, b float64) int {
	if c := cmp.Compare(a, b); c != 0 || a != 0 {
		return c
	}
	return cmp.Compare(b2i(!math.Signbit(a)), b2i(!math.Signbit(b)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOrderPreserving(t *testing.T) {
	t.Parallel()
	const n = 10_000

	t.Run("int64", func(t *testing.T) {
		t.Parallel()
		r := rand.New(rand.NewPCG(1, 64))
		vs := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
		for range n {
			vs = append(vs, int64(r.Uint64()), r.Int64N(200)-100)
		}
		slices.Sort(vs)
		requireOrdered(t, serde.Int64(), vs, cmp.Compare[int64])
	})
	t.Run("int32", func(t *testing.T) {
		t.Parallel()
		r := rand.New(rand.NewPCG(1, 32))
		vs := []int32{math.MinInt32, math.MinInt32 + 1, -1, 0, 0, 1, math.MaxInt32 - 1, math.MaxInt32}
		for range n {
			vs = append(vs, int32(r.Uint32()), r.Int32N(200)-100)
		}
		slices.Sort(vs)
		requireOrdered(t, serde.Int32(), vs, cmp.Compare[int32])
	})
	t.Run("float64", func(t *testing.T) {
		t.Parallel()
		r := rand.New(rand.NewPCG(1, 0xf64))
		negZero := math.Copysign(0, -1)
		vs := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, negZero, negZero, 0, 0,
			math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
		for len(vs) < 3*n {
			// Random bit patterns cover every exponent, subnormals included;
			// the normal ones add near-equal values around zero.
			if v := math.Float64frombits(r.Uint64()); !math.IsNaN(v) {
				vs = append(vs, v)
			}
			vs = append(vs, r.NormFloat64(), math.Round(r.NormFloat64()*10))
		}
		slices.SortFunc(vs, floatOrder)
		requireOrdered(t, serde.Float64(), vs, floatOrder)
	})
	t.Run("float64 edges and NaNs", func(t *testing.T) {
		t.Parallel()
		// Strictly increasing encodings; NaNs sort outside the infinities,
		// by sign.
		vs := []float64{
			math.Float64frombits(0xffff_ffff_ffff_ffff), // negative NaN, largest payload
			math.Float64frombits(0xfff8_0000_0000_0000), // negative quiet NaN
			math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64,
			math.Copysign(0, -1), 0,
			math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1),
			math.NaN(),
			math.Float64frombits(0x7fff_ffff_ffff_ffff),
		}
		encs := make([][]byte, len(vs))
		for i, v := range vs {
			b, err := serde.Float64().Serialize(v)
			require.NoError(t, err)
			encs[i] = b
		}
		for i := 1; i < len(encs); i++ {
			require.Negative(t, bytes.Compare(encs[i-1], encs[i]), "%v (%x) !< %v (%x)", vs[i-1], encs[i-1], vs[i], encs[i])
		}
	})
	t.Run("bool", func(t *testing.T) {
		t.Parallel()
		requireOrdered(t, serde.Bool(), []bool{false, false, true, true}, func(a, b bool) int { return cmp.Compare(b2i(a), b2i(b)) })
	})
}

func TestNullable(t *testing.T) {
	t.Parallel()

	t.Run("nil is a tombstone both ways", func(t *testing.T) {
		t.Parallel()
		s := serde.Nullable(serde.Int64())
		b, err := s.Serialize(nil)
		require.NoError(t, err)
		require.Nil(t, b)
		v, err := s.Deserialize(nil)
		require.NoError(t, err)
		require.Nil(t, v)
	})
	t.Run("non-nil delegates", func(t *testing.T) {
		t.Parallel()
		s := serde.Nullable(serde.Int64())
		v := int64(-42)
		b, err := s.Serialize(&v)
		require.NoError(t, err)
		want, _ := serde.Int64().Serialize(v)
		require.Equal(t, want, b)
		got, err := s.Deserialize(b)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Equal(t, v, *got)
	})
	t.Run("empty string is not a tombstone", func(t *testing.T) {
		t.Parallel()
		s := serde.Nullable(serde.String())
		empty := ""
		b, err := s.Serialize(&empty)
		require.NoError(t, err)
		require.NotNil(t, b)
		require.Empty(t, b)
		got, err := s.Deserialize([]byte{})
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, *got)
	})
	t.Run("inner returning nil for a value still gives non-nil bytes", func(t *testing.T) {
		t.Parallel()
		inner := serde.New("nilling", func(string) ([]byte, error) { return nil, nil },
			func([]byte) (string, error) { return "", nil })
		v := "x"
		b, err := serde.Nullable(inner).Serialize(&v)
		require.NoError(t, err)
		require.NotNil(t, b)
	})
	t.Run("empty bytes go to inner", func(t *testing.T) {
		t.Parallel()
		got, err := serde.Nullable(serde.Int64()).Deserialize([]byte{})
		requireMalformed(t, err, "int64")
		require.Nil(t, got)
	})
	t.Run("inner errors pass through", func(t *testing.T) {
		t.Parallel()
		s := serde.Nullable(serde.JSON[order]())
		_, err := s.Deserialize([]byte("{"))
		requireMalformed(t, err, "json[serde_test.order]")
		_, err = s.Serialize(&order{Amount: math.Inf(1)})
		require.Error(t, err)
	})
	t.Run("name", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "nullable[json[serde_test.order]]", serde.Nullable(serde.JSON[order]()).Name())
	})
	t.Run("nil inner panics at construction", func(t *testing.T) {
		t.Parallel()
		require.Panics(t, func() { serde.Nullable[int64](nil) })
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	upper := serde.New("upper",
		func(v string) ([]byte, error) {
			if v == "" {
				return nil, errBoom
			}
			return []byte(strings.ToUpper(v)), nil
		},
		func(b []byte) (string, error) {
			if len(b) == 0 {
				return "", fmt.Errorf("%w: no bytes", serde.ErrMalformed)
			}
			if b[0] == '!' {
				// Delegate to a stock serde, whose error already names it.
				_, err := serde.Bool().Deserialize(b)
				return "", fmt.Errorf("flag: %w", err)
			}
			return strings.ToLower(string(b)), nil
		})

	t.Run("name", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "upper", upper.Name())
	})
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		got, b := roundTrip(t, upper, "abc")
		require.Equal(t, []byte("ABC"), b)
		require.Equal(t, "abc", got)
	})
	t.Run("serialize error is wrapped", func(t *testing.T) {
		t.Parallel()
		_, err := upper.Serialize("")
		require.ErrorIs(t, err, errBoom)
		se, ok := errors.AsType[*serde.Error](err)
		require.True(t, ok)
		require.Equal(t, &serde.Error{Serde: "upper", Op: "serialize", Err: errBoom}, se)
		require.Equal(t, "serde upper: serialize: boom", err.Error())
	})
	t.Run("deserialize error is wrapped", func(t *testing.T) {
		t.Parallel()
		_, err := upper.Deserialize(nil)
		requireMalformed(t, err, "upper")
		require.Equal(t, "serde upper: deserialize: serde: malformed data: no bytes", err.Error())
	})
	t.Run("a serde.Error is not wrapped twice", func(t *testing.T) {
		t.Parallel()
		_, err := upper.Deserialize([]byte("!!"))
		requireMalformed(t, err, "bool")
		require.NotContains(t, err.Error(), "upper")
		require.Equal(t, 1, strings.Count(err.Error(), "serde bool:"))
	})
	t.Run("nil funcs panic at construction", func(t *testing.T) {
		t.Parallel()
		require.Panics(t, func() { serde.New[int]("x", nil, func([]byte) (int, error) { return 0, nil }) })
		require.Panics(t, func() { serde.New[int]("x", func(int) ([]byte, error) { return nil, nil }, nil) })
	})
}

// TestGolden pins the byte encodings: they are the keys of persistent stores
// and changelogs, so a change here breaks every store written before it.
// Regenerate with go test ./serde/ -run TestGolden -update, and only on
// purpose.
func TestGolden(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	line := func(name string, v any, b []byte, err error) {
		require.NoError(t, err)
		enc := fmt.Sprintf("%x", b)
		switch {
		case b == nil:
			enc = "nil"
		case len(b) == 0:
			enc = "empty"
		}
		fmt.Fprintf(&out, "%-8s %-24v %s\n", name, v, enc)
	}
	for _, v := range []int64{math.MinInt64, -256, -1, 0, 1, 256, math.MaxInt64} {
		b, err := serde.Int64().Serialize(v)
		line("int64", v, b, err)
	}
	for _, v := range []int32{math.MinInt32, -256, -1, 0, 1, 256, math.MaxInt32} {
		b, err := serde.Int32().Serialize(v)
		line("int32", v, b, err)
	}
	for _, v := range []float64{math.Inf(-1), -math.MaxFloat64, -1.5, -1, -math.SmallestNonzeroFloat64,
		math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 1, 1.5, math.MaxFloat64, math.Inf(1), math.NaN()} {
		b, err := serde.Float64().Serialize(v)
		line("float64", v, b, err)
	}
	for _, v := range []bool{false, true} {
		b, err := serde.Bool().Serialize(v)
		line("bool", v, b, err)
	}
	for _, v := range []string{"", "a", "日本"} {
		b, err := serde.String().Serialize(v)
		line("string", fmt.Sprintf("%q", v), b, err)
	}
	b, err := serde.JSON[order]().Serialize(order{ID: "o-1", Amount: 2.5, Items: []string{"x"}})
	line("json", "order", b, err)
	b, err = serde.Nullable(serde.Int64()).Serialize(nil)
	line("nullable", "nil", b, err)

	path := filepath.Join("testdata", "encodings.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	require.Equal(t, string(want), out.String())
}
