//go:build failover

package streams_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
)

// failoverKeys is the size of the store of the instance that is killed;
// STREAMS_FAILOVER_KEYS changes it.
func failoverKeys() int {
	if n, err := strconv.Atoi(os.Getenv("STREAMS_FAILOVER_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// The failover figure (make failover): an instance whose task holds a
// RocksDB store of a million keys is killed with SIGKILL; the test times,
// from the kill, how long until the surviving instance writes output for
// that task again, once with a standby replica on the survivor and once
// without one (every instance counts as caught up, so no warm-up either:
// the survivor restores the whole store). Both runs use a 1 s session
// timeout (STREAMS_FAILOVER_SESSION_TIMEOUT changes it; the broker allows
// 500 ms at least), which bounds how soon the group notices the kill.
//
// It prints both times from the kill, and also from the moment the
// survivor started rebalancing (the group noticed the kill), which leaves
// the session timeout out.
func TestFailoverTimeWithAndWithoutAStandby(t *testing.T) {
	keys := failoverKeys()
	without, withoutNoticed := failoverRun(t, keys, false)
	with, withNoticed := failoverRun(t, keys, true)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	line := fmt.Sprintf("FAILOVER %d keys: from the kill, without a standby %v, with a standby %v: ratio %.3f (aim < 0.1); "+
		"from the group's rebalance, without %v, with %v: ratio %.3f",
		keys, ms(without), ms(with), float64(with)/float64(without), ms(withoutNoticed), ms(withNoticed), float64(withNoticed)/float64(withoutNoticed))
	t.Log(line)
	fmt.Println(line)
}

// failoverRun returns how long after the kill the survivor wrote output,
// and how long after it began to rebalance.
func failoverRun(t *testing.T, keys int, standby bool) (time.Duration, time.Duration) {
	c, err := embedded.Start(kfake.GroupMinSessionTimeout(500 * time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	require.NoError(t, c.CreateTopic(ctx, "in", 1))
	require.NoError(t, c.CreateTopic(ctx, "out", 1))
	appID := fmt.Sprintf("failover-%v", standby)
	session := os.Getenv("STREAMS_FAILOVER_SESSION_TIMEOUT")
	if session == "" {
		session = "1s"
	}
	env := []string{"STREAMS_CHILD_TOPOLOGY=ha", "STREAMS_CHILD_ROCKSDB=1", "STREAMS_SESSION_TIMEOUT=" + session, "STREAMS_PRINT_LAG=1"}
	if standby {
		env = append(env, "STREAMS_STANDBYS=1")
	} else {
		env = append(env, "STREAMS_STANDBYS=0", fmt.Sprintf("STREAMS_ACCEPTABLE_LAG=%d", int64(1)<<62))
	}
	for i := 0; i < keys; i += 50_000 {
		recs := make([]*kgo.Record, 0, 50_000)
		for k := i; k < min(i+50_000, keys); k++ {
			recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%07d", k), Value: []byte("x")})
		}
		require.NoError(t, c.Produce(ctx, recs...))
	}
	p1 := startChild(t, c, appID, "P1", env...)
	require.NoError(t, c.WaitCaughtUp(ctx, appID, "in"))
	p2 := startChild(t, c, appID, "P2", env...)
	// P2 is in the group (and, with a standby, caught up) before the kill.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		out := p2.out.String()
		ready := strings.Contains(out, "LAG ") || !standby
		if standby {
			ready = lastLag(out) == 0
		}
		if ready && time.Now().After(p2Started(p2)) {
			break
		}
		require.True(t, time.Now().Before(deadline), "P2 never got ready: %s", out)
		time.Sleep(100 * time.Millisecond)
	}
	if !standby {
		time.Sleep(3 * time.Second) // P2 joined the group and got nothing
	}

	// Keep input coming, kill P1, and wait for P2's first output.
	reader, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	require.NoError(t, err)
	defer reader.Close()
	pollFor(ctx, reader, time.Second) // join the topic's end
	stopProducing := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = c.Produce(ctx, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "new%d", i), Value: []byte("x")})
		}
	}()
	defer func() { close(stopProducing); <-produced }()
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	stateLines := len(p2.out.String())
	require.NoError(t, p1.cmd.Process.Signal(syscall.SIGKILL))
	_ = p1.cmd.Wait()
	for {
		fs := pollFor(ctx, reader, time.Second)
		require.NoError(t, ctx.Err())
		found := false
		fs.EachRecord(func(r *kgo.Record) {
			found = found || strings.HasSuffix(string(r.Value), "@P2")
		})
		if found {
			wrote := time.Now()
			took := wrote.Sub(killed)
			noticed := rebalanceStart(p2.out.String()[stateLines:])
			require.False(t, noticed.IsZero(), "P2 rebalanced after the kill")
			t.Logf("standby=%v: P2 wrote output %v after P1 was killed, %v after it began to rebalance", standby, took, wrote.Sub(noticed))
			require.NoError(t, p2.cmd.Process.Signal(syscall.SIGTERM))
			_ = p2.cmd.Wait()
			n, longest, _ := childRestores(t, p2.out.String())
			t.Logf("standby=%v: P2 restored %d records (longest restore %v)", standby, n, longest)
			return took, wrote.Sub(noticed)
		}
	}
}

// pollFor polls cl for up to d.
func pollFor(ctx context.Context, cl *kgo.Client, d time.Duration) kgo.Fetches {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return cl.PollFetches(pctx)
}

// rebalanceStart is the time of the first "STATE <ns> Rebalancing" line
// of out, the zero Time if none.
func rebalanceStart(out string) time.Time {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "STATE" && f[2] == "Rebalancing" {
			if ns, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return time.Unix(0, ns)
			}
		}
	}
	return time.Time{}
}

// lastLag is the lag of the last "LAG" line of a child's output, -1 if none.
func lastLag(out string) int64 {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) == 5 && f[0] == "LAG" && f[3] == "standby" {
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// p2Started is when a child counts as having joined: two seconds after
// it started.
func p2Started(ch *child) time.Time { return ch.started.Add(2 * time.Second) }
