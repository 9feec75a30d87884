//go:build soak || pgcrash

package streams_test

// What the soak test (soak_test.go) and the PostgreSQL crash test
// (pgcrash_test.go) share: sizes from the environment, kfake in a process
// of its own, and a description of a group's lag. Their app processes are
// the test binary's children (startChild, childMain in scaleout_test.go).

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gostreams/streams/internal/embedded"
)

// soakSize reads a positive integer from the environment, or def.
func soakSize(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s=%q", name, v)
	require.Positive(t, n, "%s", name)
	return n
}

// startBrokerProcess runs kfake in a child process of its own
// (brokerMain) and connects to it; the test's cleanup stops it, failed or
// not.
func startBrokerProcess(t *testing.T) *embedded.Cluster {
	t.Helper()
	broker := exec.Command(os.Args[0], "-test.run=^$")
	broker.Env = append(os.Environ(), "STREAMS_BROKER_CHILD=1")
	stdin, err := broker.StdinPipe()
	require.NoError(t, err)
	stdout, err := broker.StdoutPipe()
	require.NoError(t, err)
	broker.Stderr = os.Stderr
	require.NoError(t, broker.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = broker.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	addrs, ok := strings.CutPrefix(strings.TrimSpace(line), "BROKERS ")
	require.True(t, ok, "broker said %q", line)
	c, err := embedded.Connect(strings.Split(addrs, ","))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// ctxSoak bounds a catch-up wait of the soak and crash tests.
func ctxSoak(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// soakLag describes, per partition, the group's committed offset, the last
// stable offset and the end offset of topics.
func soakLag(t *testing.T, c *embedded.Cluster, group string, topics ...string) string {
	committed, err := c.Admin().FetchOffsets(ctxT(t), group)
	if err != nil {
		return err.Error()
	}
	stable, err := c.Admin().ListCommittedOffsets(ctxT(t), topics...)
	if err != nil {
		return err.Error()
	}
	ends, err := c.Admin().ListEndOffsets(ctxT(t), topics...)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := stable.Lookup(e.Topic, e.Partition)
		o, _ := committed.Lookup(e.Topic, e.Partition)
		fmt.Fprintf(&b, " %s-%d committed=%d stable=%d end=%d;", e.Topic, e.Partition, o.At, s.Offset, e.Offset)
	})
	return b.String()
}
