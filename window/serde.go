package window

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
)

// TimeWindowedSerde encodes a time-windowed key as Kafka Streams'
// TimeWindowedSerializer does: the inner serde's bytes, then the window
// start in Unix milliseconds, 8 bytes big-endian. The end is not written:
// decoding sets it to Start + size.
func TimeWindowedSerde[K any](inner serde.Serde[K], size time.Duration) serde.Serde[state.Windowed[K]] {
	name := "time-windowed[" + inner.Name() + "]"
	return serde.New(name,
		func(w state.Windowed[K]) ([]byte, error) {
			b, err := inner.Serialize(w.Key)
			if err != nil {
				return nil, err
			}
			return binary.BigEndian.AppendUint64(b, uint64(w.Start.UnixMilli())), nil
		},
		func(b []byte) (state.Windowed[K], error) {
			if len(b) < 8 {
				return state.Windowed[K]{}, fmt.Errorf("%w: %d bytes, fewer than the 8 of a window start", serde.ErrMalformed, len(b))
			}
			k, err := inner.Deserialize(b[:len(b)-8])
			if err != nil {
				return state.Windowed[K]{}, err
			}
			start := time.UnixMilli(int64(binary.BigEndian.Uint64(b[len(b)-8:]))).UTC()
			return state.Windowed[K]{Key: k, Start: start, End: start.Add(size)}, nil
		})
}

// SessionWindowedSerde encodes a session-windowed key as Kafka Streams'
// SessionWindowedSerializer does: the inner serde's bytes, then the session
// end and start in Unix milliseconds, 8 bytes big-endian each.
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[state.Windowed[K]] {
	name := "session-windowed[" + inner.Name() + "]"
	return serde.New(name,
		func(w state.Windowed[K]) ([]byte, error) {
			b, err := inner.Serialize(w.Key)
			if err != nil {
				return nil, err
			}
			b = binary.BigEndian.AppendUint64(b, uint64(w.End.UnixMilli()))
			return binary.BigEndian.AppendUint64(b, uint64(w.Start.UnixMilli())), nil
		},
		func(b []byte) (state.Windowed[K], error) {
			if len(b) < 16 {
				return state.Windowed[K]{}, fmt.Errorf("%w: %d bytes, fewer than the 16 of a session's end and start", serde.ErrMalformed, len(b))
			}
			k, err := inner.Deserialize(b[:len(b)-16])
			if err != nil {
				return state.Windowed[K]{}, err
			}
			end := time.UnixMilli(int64(binary.BigEndian.Uint64(b[len(b)-16:]))).UTC()
			start := time.UnixMilli(int64(binary.BigEndian.Uint64(b[len(b)-8:]))).UTC()
			if end.Before(start) {
				return state.Windowed[K]{}, fmt.Errorf("%w: session ends at %v, before its start %v", serde.ErrMalformed, end, start)
			}
			return state.Windowed[K]{Key: k, Start: start, End: end}, nil
		})
}
