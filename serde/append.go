package serde

// Appender is implemented by serdes that can encode into a buffer the caller
// owns, which lets the runtime encode without allocating for every record
// (into a reused scratch buffer, or key and value into one allocation).
// AppendSerialize must append exactly the bytes Serialize returns.
//
// Appending cannot tell an empty encoding from a nil one, and nil is a Kafka
// null (a tombstone). So only a serde that never encodes a value as nil may
// implement Appender: String, Int32, Int64, Float64 and Bool do; Bytes
// (nil stays nil), Nullable and JSON do not.
type Appender[T any] interface {
	AppendSerialize(dst []byte, v T) ([]byte, error)
}

// Append appends the encoding of v to dst, through s's Appender if it has
// one and through Serialize otherwise.
func Append[T any](s Serde[T], dst []byte, v T) ([]byte, error) {
	if a, ok := s.(Appender[T]); ok {
		return a.AppendSerialize(dst, v)
	}
	b, err := s.Serialize(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
