package serde

import "errors"

type funcSerde[T any] struct {
	name string
	ser  func(T) ([]byte, error)
	de   func([]byte) (T, error)
}

// New returns a Serde named name that calls ser and de, as http.HandlerFunc
// turns a func into a Handler. It panics if ser or de is nil.
//
// An error from ser or de comes back as an *Error naming this serde, with Op
// "serialize" or "deserialize" and the func's error as Err. An error that
// already has an *Error in its chain (for example from a stock serde the func
// delegates to) is returned unchanged rather than wrapped twice. For the
// runtime to treat undecodable bytes as such, de should wrap ErrMalformed.
//
// Like every Serde, the result must be safe for concurrent use, so ser and de
// must be too. The slice de receives may be reused after de returns; copy
// what you keep.
func New[T any](name string, ser func(T) ([]byte, error), de func([]byte) (T, error)) Serde[T] {
	if ser == nil || de == nil {
		panic("serde: New(" + name + ") needs non-nil ser and de funcs")
	}
	return funcSerde[T]{name: name, ser: ser, de: de}
}

func (s funcSerde[T]) Name() string { return s.name }

func (s funcSerde[T]) Serialize(v T) ([]byte, error) {
	b, err := s.ser(v)
	if err != nil {
		return nil, s.wrap("serialize", err)
	}
	return b, nil
}

func (s funcSerde[T]) Deserialize(data []byte) (T, error) {
	v, err := s.de(data)
	if err != nil {
		var zero T
		return zero, s.wrap("deserialize", err)
	}
	return v, nil
}

func (s funcSerde[T]) wrap(op string, err error) error {
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	return &Error{Serde: s.name, Op: op, Err: err}
}

type nullableSerde[T any] struct {
	name  string
	inner Serde[T]
}

// Nullable adapts inner to pointers so that a Kafka null survives the trip:
// a nil *T serializes to nil bytes, which Kafka stores as a null value (a
// tombstone, which deletes the key from a compacted topic or a store), and
// nil bytes deserialize to a nil *T. Any other value is delegated to inner.
//
// Null and empty stay distinct, as they are in Kafka: a non-nil *T always
// serializes to a non-nil slice, even if inner returns nil for it, and a
// non-nil empty slice is passed to inner (String decodes it to "", Int64
// rejects it). The Name is "nullable[<inner name>]"; errors from inner are
// returned unchanged and name inner. Nullable panics if inner is nil.
func Nullable[T any](inner Serde[T]) Serde[*T] {
	if inner == nil {
		panic("serde: Nullable needs a non-nil inner serde")
	}
	return nullableSerde[T]{name: "nullable[" + inner.Name() + "]", inner: inner}
}

func (s nullableSerde[T]) Name() string { return s.name }

func (s nullableSerde[T]) Serialize(v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := s.inner.Serialize(*v)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{} // a present value must not turn into a tombstone
	}
	return b, nil
}

func (s nullableSerde[T]) Deserialize(data []byte) (*T, error) {
	if data == nil {
		return nil, nil
	}
	v, err := s.inner.Deserialize(data)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
