package streams_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// Sinks partition as the Java client does, so other clients agree on where
// a key lives. librdkafka's "murmur2" partitioner is the Java-compatible
// one: kcat writes keyed records with it to "in"; the app copies them to
// "out" with the default partitioner; every key must land in the same
// partition in both.
func TestSinkPartitionsLikeTheJavaClient(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "this test needs kcat: apt-get install -y kcat (make setup installs it)")
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 7))
	require.NoError(t, c.CreateTopic(ctxT(t), "out", 7))

	var input strings.Builder
	for i := range 300 {
		fmt.Fprintf(&input, "key-%d:value-%d\n", i*7919, i)
	}
	cmd := exec.CommandContext(ctxT(t), kcat, "-P", "-b", c.Addrs()[0], "-t", "in", "-K", ":", "-X", "topic.partitioner=murmur2")
	cmd.Stdin = strings.NewReader(input.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())

	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	copyRec := topology.AddProcessor(b, "copy", processor.Func(func(ctx processor.Context[string, string], rec processor.Record[string, string]) error {
		return ctx.Forward(rec)
	}), src)
	topology.AddSink(b, "out", topology.Sink[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, copyRec)
	topo, err := b.Build()
	require.NoError(t, err)
	r := start(t, topo, config(t, c, "partitioner"))
	require.NoError(t, c.WaitCaughtUp(ctxT(t), "partitioner", "in"))
	require.NoError(t, r.stop(t))

	where := func(topic string) map[string]int32 {
		recs, err := c.ReadAll(ctxT(t), topic)
		require.NoError(t, err)
		m := map[string]int32{}
		for _, r := range recs {
			m[string(r.Key)] = r.Partition
		}
		return m
	}
	in, out := where("in"), where("out")
	require.Len(t, in, 300)
	require.Equal(t, in, out)
	used := map[int32]bool{}
	for _, p := range in {
		used[p] = true
	}
	require.Len(t, used, 7, "the keys spread over every partition, so the comparison means something")
}
