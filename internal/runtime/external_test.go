package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
)

type countingLog struct{ n atomic.Int32 }

func (l *countingLog) Warn(string, ...any) { l.n.Add(1) }

func TestRetryExternal(t *testing.T) {
	t.Run("retriable failures are retried until they pass", func(t *testing.T) {
		calls := 0
		log := &countingLog{}
		err := retryExternal(context.Background(), time.Minute, log, func() error {
			calls++
			if calls < 3 {
				return processor.Retriable(errors.New("connection refused"))
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 3, calls)
		require.EqualValues(t, 3, log.n.Load(), "two retries and the success after them are logged")
	})
	t.Run("other failures are not retried", func(t *testing.T) {
		calls := 0
		err := retryExternal(context.Background(), time.Minute, &countingLog{}, func() error {
			calls++
			return errors.New("syntax error")
		})
		require.EqualError(t, err, "syntax error")
		require.Equal(t, 1, calls)
	})
	t.Run("retries stop at the timeout", func(t *testing.T) {
		calls := 0
		err := retryExternal(context.Background(), 250*time.Millisecond, &countingLog{}, func() error {
			calls++
			return processor.Retriable(errors.New("down"))
		})
		require.ErrorContains(t, err, "still failing after")
		require.ErrorContains(t, err, "the TaskTimeout")
		require.True(t, processor.IsRetriable(err))
		require.Less(t, calls, 5)
	})
	t.Run("retries stop when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := retryExternal(ctx, time.Minute, &countingLog{}, func() error {
			calls++
			cancel()
			return processor.Retriable(errors.New("down"))
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
}
