package embedded

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A cluster made by Open says, while it waits for an app, how far the app
// has got.
func TestWaitReportsProgress(t *testing.T) {
	defer func(d time.Duration) { ProgressEvery = d }(ProgressEvery)
	ProgressEvery = 50 * time.Millisecond
	var log bytes.Buffer
	c, err := Open("", &log, "prog")
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.CreateTopic(ctx, "in", 2))
	require.NoError(t, c.Produce(ctx, &kgo.Record{Topic: "in", Partition: 0, Value: []byte("a")}, &kgo.Record{Topic: "in", Partition: 1, Value: []byte("b")}))

	wctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	require.Error(t, c.WaitCaughtUp(wctx, "nobody", "in"), "no app commits")
	require.Contains(t, log.String(), "prog: starting an in-process Kafka")
	require.Contains(t, log.String(), "prog: waiting for the app: 0 of 2 offsets of in committed")
	require.GreaterOrEqual(t, strings.Count(log.String(), "waiting for the app"), 2)
}
