package serde_test

import (
	"testing"

	"github.com/gostreams/streams/serde"
)

// benchRoundTrip measures one Serialize plus one Deserialize of v.
func benchRoundTrip[T any](b *testing.B, s serde.Serde[T], v T) {
	b.ReportAllocs()
	for b.Loop() {
		data, err := s.Serialize(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Deserialize(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B)  { benchRoundTrip(b, serde.String(), "customer-00042") }
func BenchmarkBytes(b *testing.B)   { benchRoundTrip(b, serde.Bytes(), []byte("customer-00042")) }
func BenchmarkInt64(b *testing.B)   { benchRoundTrip(b, serde.Int64(), int64(-1234567890)) }
func BenchmarkInt32(b *testing.B)   { benchRoundTrip(b, serde.Int32(), int32(-1234567)) }
func BenchmarkFloat64(b *testing.B) { benchRoundTrip(b, serde.Float64(), -3.25) }
func BenchmarkBool(b *testing.B)    { benchRoundTrip(b, serde.Bool(), true) }

func BenchmarkJSON(b *testing.B) {
	benchRoundTrip(b, serde.JSON[order](), order{ID: "o-1", Amount: 12.5, Items: []string{"a", "b"}})
}

func BenchmarkNullableInt64(b *testing.B) {
	v := int64(42)
	benchRoundTrip(b, serde.Nullable(serde.Int64()), &v)
}
