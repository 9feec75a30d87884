package serde_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gostreams/streams/serde"
)

// Int64 encodings sort like the numbers they encode, so a store keyed by
// Int64 range-scans in numeric order.
func ExampleInt64() {
	s := serde.Int64()
	var keys [][]byte
	for _, v := range []int64{42, -1, 0, -300, 7} {
		b, _ := s.Serialize(v)
		keys = append(keys, b)
	}
	slices.SortFunc(keys, bytes.Compare) // the order a store iterates in
	for _, k := range keys {
		v, _ := s.Deserialize(k)
		fmt.Printf("%x %d\n", k, v)
	}
	// Output:
	// 7ffffffffffffed4 -300
	// 7fffffffffffffff -1
	// 8000000000000000 0
	// 8000000000000007 7
	// 800000000000002a 42
}

// Float64 keeps numeric order across signs, zeros and infinities.
func ExampleFloat64() {
	s := serde.Float64()
	for _, v := range []float64{-2.5, -0.5, 0, 0.5, 2.5} {
		b, _ := s.Serialize(v)
		fmt.Printf("%x %v\n", b, v)
	}
	// Output:
	// 3ffbffffffffffff -2.5
	// 401fffffffffffff -0.5
	// 8000000000000000 0
	// bfe0000000000000 0.5
	// c004000000000000 2.5
}

// JSON encodes any Go type; its errors name the type.
func ExampleJSON() {
	type Order struct {
		ID     string  `json:"id"`
		Amount float64 `json:"amount"`
	}
	s := serde.JSON[Order]()

	b, _ := s.Serialize(Order{ID: "o-1", Amount: 9.5})
	fmt.Println(string(b))

	o, _ := s.Deserialize([]byte(`{"id":"o-2","amount":3,"currency":"EUR"}`))
	fmt.Printf("%+v\n", o)

	_, err := s.Deserialize([]byte(`{"id":`))
	fmt.Println(errors.Is(err, serde.ErrMalformed))
	fmt.Println(err)
	// Output:
	// {"id":"o-1","amount":9.5}
	// {ID:o-2 Amount:3}
	// true
	// serde json[serde_test.Order]: deserialize: serde: malformed data: unexpected end of JSON input
}

// New turns two funcs into a Serde. Here a time.Duration travels as the
// decimal string of its nanoseconds, which clients in other languages can
// read.
func ExampleNew() {
	durations := serde.New("duration",
		func(d time.Duration) ([]byte, error) {
			return strconv.AppendInt(nil, int64(d), 10), nil
		},
		func(b []byte) (time.Duration, error) {
			n, err := strconv.ParseInt(string(b), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %w", serde.ErrMalformed, err)
			}
			return time.Duration(n), nil
		})

	b, _ := durations.Serialize(1500 * time.Millisecond)
	fmt.Println(string(b))
	d, _ := durations.Deserialize(b)
	fmt.Println(d)

	_, err := durations.Deserialize([]byte("soon"))
	var serr *serde.Error
	fmt.Println(errors.As(err, &serr), serr.Serde, serr.Op)
	// Output:
	// 1500000000
	// 1.5s
	// true duration deserialize
}

// Nullable maps a nil pointer to a Kafka null value (a tombstone) and back.
func ExampleNullable() {
	s := serde.Nullable(serde.String())

	b, _ := s.Serialize(nil)
	fmt.Println(b == nil) // a tombstone: deletes the key downstream

	empty := ""
	b, _ = s.Serialize(&empty)
	fmt.Println(b == nil) // an empty value is not a tombstone

	v, _ := s.Deserialize(nil)
	fmt.Println(v == nil)

	v, _ = s.Deserialize([]byte("hello"))
	fmt.Println(*v)
	// Output:
	// true
	// false
	// true
	// hello
}
