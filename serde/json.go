package serde

import (
	"encoding/json"
	"fmt"
	"reflect"
)

type jsonSerde[T any] struct{ name string }

// JSON returns a serde that encodes T with encoding/json. Its Name is
// "json[<type>]", for example "json[main.Order]".
//
// Deserialize follows json.Unmarshal: unknown object fields are ignored, so a
// producer may add fields before its consumers know them. It returns an
// *Error wrapping both ErrMalformed and the encoding/json error (so
// errors.As finds a *json.SyntaxError or *json.UnmarshalTypeError) when the
// input is not valid JSON for T, and also when the input is empty: an empty
// or nil record value is not a zero T. Wrap the serde in Nullable when the
// topic carries tombstones. The JSON literal null is valid and decodes to the
// zero T, as it does with json.Unmarshal.
//
// Serialize returns an *Error wrapping the encoding/json error for values
// encoding/json cannot encode (channels, functions, NaN or infinite floats).
func JSON[T any]() Serde[T] {
	return jsonSerde[T]{name: "json[" + reflect.TypeFor[T]().String() + "]"}
}

func (s jsonSerde[T]) Name() string { return s.name }

func (s jsonSerde[T]) Serialize(v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Serde: s.name, Op: "serialize", Err: err}
	}
	return b, nil
}

func (s jsonSerde[T]) Deserialize(data []byte) (T, error) {
	var v T
	if len(data) == 0 {
		return v, malformed(s.name, "empty input; a null (tombstone) record needs serde.Nullable")
	}
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T // Unmarshal may have filled v partly
		return zero, &Error{Serde: s.name, Op: "deserialize", Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	return v, nil
}
