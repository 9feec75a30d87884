package window_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/window"
)

// The constructors and With… methods set what Kafka Streams' JoinWindows
// factories and before/after set; size and retention follow.
func TestJoinWindowsShape(t *testing.T) {
	t.Parallel()
	w := window.JoinTimeDifferenceWithNoGrace(100 * time.Millisecond)
	require.Equal(t, window.JoinWindows{Before: 100 * time.Millisecond, After: 100 * time.Millisecond}, w)
	require.Equal(t, 200*time.Millisecond, w.Size())
	require.Equal(t, 200*time.Millisecond, w.Retention())

	w = window.JoinTimeDifferenceAndGrace(50*time.Millisecond, 10*time.Millisecond).WithAfter(0)
	require.Equal(t, window.JoinWindows{Before: 50 * time.Millisecond, Grace: 10 * time.Millisecond}, w)
	require.Equal(t, 50*time.Millisecond, w.Size())
	require.Equal(t, 60*time.Millisecond, w.Retention())
	require.NoError(t, w.Validate())

	// A window moved off the record's time is fine while it is not empty.
	w = window.JoinTimeDifferenceWithNoGrace(10 * time.Millisecond).WithBefore(-5 * time.Millisecond)
	require.NoError(t, w.Validate())
	require.Equal(t, 5*time.Millisecond, w.Size())
	require.NoError(t, window.JoinTimeDifferenceWithNoGrace(0).Validate(), "records of the same time only")
}

// Bad windows are errors that name the field and the value.
func TestJoinWindowsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w    window.JoinWindows
		want []string
	}{
		{window.JoinTimeDifferenceWithNoGrace(-time.Millisecond), []string{"JoinWindows.Before (-1ms) + After (-1ms) is negative"}},
		{window.JoinTimeDifferenceWithNoGrace(5 * time.Millisecond).WithAfter(-6 * time.Millisecond), []string{"Before (5ms) + After (-6ms) is negative"}},
		{window.JoinTimeDifferenceAndGrace(time.Second, -time.Second), []string{"JoinWindows.Grace is -1s"}},
		{window.JoinTimeDifferenceWithNoGrace(1500 * time.Microsecond), []string{"JoinWindows.Before is 1.5ms; it must be whole milliseconds", "JoinWindows.After is 1.5ms"}},
		{window.JoinWindows{Before: -time.Second, After: 0, Grace: -1}, []string{"is negative", "JoinWindows.Grace is -1ns", "JoinWindows.Grace is -1ns; use 0 for none"}},
	} {
		err := tc.w.Validate()
		require.Error(t, err, "%+v", tc.w)
		for _, w := range tc.want {
			require.ErrorContains(t, err, w)
		}
	}
}
