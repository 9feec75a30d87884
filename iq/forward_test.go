package iq_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/iq"
	"github.com/gostreams/streams/serde"
)

const forwardTimeout = 500 * time.Millisecond

// startInstances starts n instances of the counting app appID on c, each
// with the handler of "counts" served on its own listener on 127.0.0.1,
// the listener's address its ApplicationServer; set changes each config.
func startInstances(t *testing.T, c *embedded.Cluster, appID string, n int, set func(*streams.Config)) []*instance {
	t.Helper()
	out := make([]*instance, n)
	for i := range out {
		ln := listen(t)
		in := &instance{addr: ln.Addr().String(), tr: newCountingTransport()}
		cfg := config(t, c, appID, in.addr)
		if set != nil {
			set(&cfg)
		}
		in.app = start(t, counting(t), cfg)
		var err error
		in.h, err = iq.New(in.app, iq.Config{Server: in.addr, Client: &http.Client{Transport: in.tr}, ForwardTimeout: forwardTimeout, Logger: quiet})
		require.NoError(t, err)
		require.NoError(t, iq.KeyValue[string, int64](in.h, "counts", iq.StringKeys(), serde.String()))
		in.serveHanging(t, ln)
		out[i] = in
	}
	return out
}

// produceCounts produces key i of keys (n of them, "k000"...) i%5+1 times
// to "in", and returns the counts it makes.
func produceCounts(t *testing.T, c *embedded.Cluster, n int) map[string]int64 {
	t.Helper()
	want := map[string]int64{}
	var vs []string
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		want[k] = int64(i%5 + 1)
		for range want[k] {
			vs = append(vs, k)
		}
	}
	produce(t, c, "in", vs...)
	return want
}

// byServer maps each instance's address to it.
func byServer(ins []*instance) map[string]*instance {
	m := map[string]*instance{}
	for _, in := range ins {
		m[in.addr] = in
	}
	return m
}

// settled waits until every instance is running and sees all of them,
// and the four tasks of "counts" run, each with standbys standby
// replicas, on the instances' own count. (The assignment need not give
// every instance a task of "counts": with the stateless tasks of the
// re-keying, it balances tasks, not stateful ones alone.)
func settled(t *testing.T, ins []*instance, standbys int) {
	t.Helper()
	until(t, 30*time.Second, func() bool {
		active, standby := 0, 0
		for _, in := range ins {
			if in.app.State() != streams.Running || len(streams.AllMetadata(in.app)) != len(ins) {
				return false
			}
			copies, err := streams.LocalStores(in.app, "counts", streams.QueryOptions{StaleStores: true})
			require.NoError(t, err)
			for _, c := range copies {
				switch c.Kind {
				case streams.Active:
					active++
				case streams.Standby:
					standby++
				}
			}
		}
		return active == 4 && standby == 4*standbys
	}, "every instance runs and sees the others, the tasks of counts run with %d standby each: %s", standbys, describe(ins))
}

// Two instances of one app share four partitions; a GET to either, for
// every key, answers its count: from its own store for its keys, forwarded
// to the other for the other's, which the answer's host says. A forwarded
// request is never forwarded again. Scans read the local instance only.
func TestKeysAreForwardedToTheirOwner(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	const appID = "iq-forward"
	ins := startInstances(t, c, appID, 2, nil)
	settled(t, ins, 0)
	want := produceCounts(t, c, 40)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", streams.RepartitionTopic(appID, "by-key")))
	servers := byServer(ins)

	for _, in := range ins {
		forwarded, forwardedMissing := 0, 0
		for key, n := range want {
			md, err := streams.QueryMetadataForKey(in.app, "counts", key, serde.String())
			require.NoError(t, err)
			require.Contains(t, servers, md.Server)
			got := getAs[iq.KeyResult[string, int64]](t, 200, in.url("/stores/counts/keys/"+key))
			require.Equal(t, iq.KeyResult[string, int64]{
				Source: iq.Source{Store: "counts", Host: md.Server, Partitions: []int32{md.Partition}},
				Key:    key, Value: n,
			}, got, "asked %s", in.addr)
			require.Equal(t, md.Local, md.Server == in.addr)
			if !md.Local {
				forwarded++
			}
			missing := key + "-missing"
			mdm, err := streams.QueryMetadataForKey(in.app, "counts", missing, serde.String())
			require.NoError(t, err)
			e := getError(t, 404, iq.CodeKeyNotFound, in.url("/stores/counts/keys/"+missing))
			require.Equal(t, mdm.Server, e.Host, "a key not found is answered by its owner")
			if !mdm.Local {
				forwardedMissing++
			}
		}
		require.Positive(t, forwarded, "%s owns every key: nothing was forwarded", in.addr)
		require.Less(t, forwarded, len(want), "%s owns no key", in.addr)
		sent, failed := in.tr.counts(other(ins, in).addr)
		require.Equal(t, forwarded+forwardedMissing, sent, "one forwarded request per key of the other")
		require.Zero(t, failed)
	}

	// Marked forwarded, a request for another's key is not forwarded again.
	a, b := ins[0], ins[1]
	for key := range want {
		md, err := streams.QueryMetadataForKey(a.app, "counts", key, serde.String())
		require.NoError(t, err)
		if md.Local {
			continue
		}
		sent, _ := a.tr.counts(b.addr)
		e := getError(t, 503, iq.CodeUnavailable, a.url("/stores/counts/keys/"+key), iq.HeaderForwarded, "test")
		require.Contains(t, e.Message, md.Task.String())
		after, _ := a.tr.counts(b.addr)
		require.Equal(t, sent, after, "the forwarded request went nowhere")
		break
	}

	// Scans are local: the two instances' parts make the whole store.
	seen := map[string]int64{}
	var parts [][]int32
	for _, in := range ins {
		r := getAs[iq.EntriesResult[string, int64]](t, 200, in.url("/stores/counts/keys"))
		require.Equal(t, in.addr, r.Host)
		parts = append(parts, r.Partitions)
		for _, e := range r.Entries {
			_, dup := seen[e.Key]
			require.False(t, dup, "%s is in both parts", e.Key)
			seen[e.Key] = e.Value
		}
	}
	require.Equal(t, want, seen)
	require.ElementsMatch(t, []int32{0, 1, 2, 3}, append(parts[0], parts[1]...))

	// Both instances' metadata, from either.
	md := getAs[iq.MetadataResult](t, 200, a.url("/metadata"))
	require.Len(t, md.Instances, 2)
	require.ElementsMatch(t, []string{a.addr, b.addr}, []string{md.Instances[0].Server, md.Instances[1].Server})
}

// other returns the instance of the two that is not in.
func other(ins []*instance, in *instance) *instance {
	if ins[0] == in {
		return ins[1]
	}
	return ins[0]
}

// With one standby replica per task, three instances: when the owner of
// keys cannot be reached (its HTTP server first hangs, past the forward
// timeout, then its listener is closed; its app runs on), a GET to either
// other instance is answered from the standby replica, marked stale: by
// the instance that holds it itself, after its forward to the owner
// failed, or forwarded to it by the third, with ?stale=true. With the
// standby unreachable too, the answer is a 503 listing both attempts.
func TestUnreachableOwnerFallsBackToTheStandby(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	require.NoError(t, c.CreateTopic(ctxT(t), "in", 4))
	const appID = "iq-standby"
	ins := startInstances(t, c, appID, 3, func(cfg *streams.Config) { cfg.NumStandbyReplicas = 1 })
	settled(t, ins, 1)
	want := produceCounts(t, c, 60)
	require.NoError(t, c.WaitCaughtUp(ctxT(t), appID, "in", streams.RepartitionTopic(appID, "by-key")))
	servers := byServer(ins)
	meta := map[string]streams.KeyQueryMetadata{}
	for key := range want {
		md, err := streams.QueryMetadataForKey(ins[0].app, "counts", key, serde.String())
		require.NoError(t, err)
		require.Len(t, md.Standbys, 1, key)
		require.NotEqual(t, md.Server, md.Standbys[0])
		meta[key] = md
	}
	// The standbys have caught up: each answers its keys from its replica
	// when asked for a stale read.
	until(t, 30*time.Second, func() bool {
		for key, n := range want {
			sb := servers[meta[key].Standbys[0]]
			status, body := get(t, sb.url("/stores/counts/keys/"+key+"?stale=true"))
			if status == http.StatusNotFound { // not in the replica yet
				return false
			}
			require.Equal(t, http.StatusOK, status, "%s", body)
			var got iq.KeyResult[string, int64]
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, sb.addr, got.Host, "a stale read is answered by the replica at once")
			require.True(t, got.Stale)
			if got.Value != n {
				return false
			}
		}
		return true
	}, "the standbys hold every count")

	// A scan with ?stale=true reads the standby replicas too.
	staleScans := 0
	for _, in := range ins {
		copies, err := streams.LocalStores(in.app, "counts", streams.QueryOptions{StaleStores: true})
		require.NoError(t, err)
		holdsStandby := slices.ContainsFunc(copies, func(c streams.LocalStore) bool { return c.Kind == streams.Standby })
		r := getAs[iq.EntriesResult[string, int64]](t, 200, in.url("/stores/counts/keys?stale=true"))
		require.Len(t, r.Partitions, len(copies))
		require.Equal(t, holdsStandby, r.Stale, in.addr)
		fresh := getAs[iq.EntriesResult[string, int64]](t, 200, in.url("/stores/counts/keys"))
		require.False(t, fresh.Stale)
		if holdsStandby {
			require.Less(t, len(fresh.Partitions), len(r.Partitions))
			require.Less(t, len(fresh.Entries), len(r.Entries))
			staleScans++
		}
	}
	require.Positive(t, staleScans)

	// The owner of k000 hangs: the other two time out on it and answer
	// from the standby.
	down := servers[meta["k000"].Server]
	down.hang.Store(true)
	for _, in := range ins {
		if in == down {
			continue
		}
		began := time.Now()
		got := getAs[iq.KeyResult[string, int64]](t, 200, in.url("/stores/counts/keys/k000"))
		require.GreaterOrEqual(t, time.Since(began), forwardTimeout, "%s waited for the owner", in.addr)
		require.Equal(t, iq.Source{Store: "counts", Host: meta["k000"].Standbys[0], Stale: true, Partitions: []int32{meta["k000"].Partition}}, got.Source)
		require.Equal(t, want["k000"], got.Value)
		sent, failed := in.tr.counts(down.addr)
		require.Equal(t, 1, sent)
		require.Equal(t, 1, failed, "the request to the hanging owner timed out")
	}

	// The owner's listener closed: connections are refused.
	require.NoError(t, down.srv.Close())
	local, remote := 0, 0
	for key, n := range want {
		md := meta[key]
		for _, in := range ins {
			if in == down {
				continue
			}
			got := getAs[iq.KeyResult[string, int64]](t, 200, in.url("/stores/counts/keys/"+key))
			if md.Server != down.addr {
				require.Equal(t, iq.Source{Store: "counts", Host: md.Server, Partitions: []int32{md.Partition}}, got.Source, "a key of a reachable owner: %s", key)
				require.Equal(t, n, got.Value)
				continue
			}
			require.Equal(t, iq.KeyResult[string, int64]{
				Source: iq.Source{Store: "counts", Host: md.Standbys[0], Stale: true, Partitions: []int32{md.Partition}},
				Key:    key, Value: n,
			}, got, "%s asked for a key of the unreachable %s", in.addr, down.addr)
			if in.addr == md.Standbys[0] {
				local++
			} else {
				remote++
			}
		}
	}
	require.Positive(t, local, "an instance answered from its own standby")
	require.Positive(t, remote, "an instance forwarded to the standby")
	for _, in := range ins {
		if in != down {
			sent, failed := in.tr.counts(down.addr)
			require.Positive(t, failed, "%s tried the owner, in vain", in.addr)
			require.Equal(t, sent, failed, "no request reached the closed listener")
		}
	}
	require.Equal(t, streams.Running, down.app.State(), "the owner's app still runs: only its HTTP is down")
	md, err := streams.QueryMetadataForKey(ins[0].app, "counts", "k000", serde.String())
	require.NoError(t, err)
	require.Equal(t, down.addr, md.Server, "the key's task did not move")

	// The standby's own instance, asked for a stale read, answers without
	// trying the owner.
	sb := servers[meta["k000"].Standbys[0]]
	before, _ := sb.tr.counts(down.addr)
	got := getAs[iq.KeyResult[string, int64]](t, 200, sb.url("/stores/counts/keys/k000?stale"))
	require.True(t, got.Stale)
	after, _ := sb.tr.counts(down.addr)
	require.Equal(t, before, after)

	// With the standby's listener closed too, the third instance has no
	// one to ask: a 503 that lists what it tried.
	require.NoError(t, sb.srv.Close())
	var third *instance
	for _, in := range ins {
		if in != down && in != sb {
			third = in
		}
	}
	e := getError(t, 503, iq.CodeUnavailable, third.url("/stores/counts/keys/k000"))
	require.Len(t, e.Tried, 2)
	require.Equal(t, iq.Attempt{Host: down.addr, Stale: false, Error: e.Tried[0].Error}, e.Tried[0])
	require.Equal(t, iq.Attempt{Host: sb.addr, Stale: true, Error: e.Tried[1].Error}, e.Tried[1])
	require.Contains(t, e.Tried[0].Error, "connection refused")
}

// describe is what each instance says about all of them, for a failure's
// message; it is a fmt.Stringer so that it is computed when printed.
type describe []*instance

func (d describe) String() string {
	var b strings.Builder
	for _, in := range d {
		fmt.Fprintf(&b, "\n%s (%v):", in.addr, in.app.State())
		for _, m := range streams.AllMetadata(in.app) {
			fmt.Fprintf(&b, " [%s active %v standby %v]", m.Server, m.ActiveTasks, m.StandbyTasks)
		}
	}
	return b.String()
}
