//go:build soak

package streams_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams"
	"github.com/gostreams/streams/internal/checkpoint"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/state/rocksdb"
)

// The exactly-once soak (make soak): kfake runs as a process of its own; a
// generator writes SOAK_RECORDS records (default 200,000) over 5 partitions
// and SOAK_KEYS keys (default 100); three app processes run the
// exactly-once topology of eosTopology on RocksDB (an echo, and through a
// repartition a per-key sum and count in stores with changelogs) while the
// test SIGKILLs and restarts them at random moments, SOAK_KILLS times
// (default 10). Then a read_committed verifier checks that the echo equals
// the input partition by partition, that every sum and count record equals
// the value recomputed from the input, in order, once; that the changelogs
// and the stores on disk hold the recomputed final values; and that no
// transaction is left open. Only then does it print ALL-RECORDS-DELIVERED.
//
// The app processes are static members of the group (group.instance.id): a
// restarted process takes its predecessor's place at once. With dynamic
// members kfake sometimes kept a killed member in a stable group, holding
// its partitions, for minutes.
func TestSoakExactlyOnce(t *testing.T) {
	records := soakSize(t, "SOAK_RECORDS", 200_000)
	keys := soakSize(t, "SOAK_KEYS", 100)
	kills := soakSize(t, "SOAK_KILLS", 10)
	const partitions, appID = 5, "soak"
	began := time.Now()
	elapsed := func() time.Duration { return time.Since(began).Round(time.Millisecond) }

	// The broker, in its own process.
	c := startBrokerProcess(t)
	for _, topic := range []string{"in", "echo", "totals"} {
		require.NoError(t, c.CreateTopic(ctxT(t), topic, partitions))
	}

	// Three app processes, each with a state directory of its own that
	// outlives its restarts.
	dirs := make([]string, 3)
	procs := make([]*child, 3)
	var all []*child
	start := func(i int, run int) {
		procs[i] = startChild(t, c, appID, fmt.Sprintf("app%d-run%d", i, run),
			"STREAMS_CHILD_TOPOLOGY=eos-rocksdb", "STREAMS_STATE_DIR="+dirs[i], "STREAMS_INSTANCE_ID=soak-app"+strconv.Itoa(i))
		all = append(all, procs[i])
	}
	if dir := os.Getenv("SOAK_LOGDIR"); dir != "" {
		// Each app process's output (its log with STREAMS_CHILD_LOG=1), for
		// looking into a slow or failed run.
		t.Cleanup(func() {
			for _, p := range all {
				_ = os.WriteFile(filepath.Join(dir, p.name+".log"), []byte(p.out.String()), 0o644)
			}
		})
	}
	for i := range procs {
		dirs[i] = t.TempDir()
		start(i, 0)
	}
	t.Logf("%v: broker and apps started", elapsed())

	// The generator: values 1..records, keyed k0..k(keys-1), partitioned
	// by key.
	generated := make(chan error, 1)
	go func() {
		const chunk = 2000
		for from := 0; from < records; from += chunk {
			n := min(chunk, records-from)
			recs := make([]*kgo.Record, 0, n)
			for i := from; i < from+n; i++ {
				recs = append(recs, &kgo.Record{Topic: "in", Key: []byte("k" + strconv.Itoa(i%keys)), Value: []byte(strconv.Itoa(i + 1))})
			}
			if err := c.Produce(ctxT(t), recs...); err != nil {
				generated <- err
				return
			}
			// Spread the input over about 8 s, the time the kills take, so
			// that processes die while there is work in flight.
			time.Sleep(8 * time.Second * chunk / time.Duration(records))
		}
		generated <- nil
	}()

	// The killer: SIGKILL a random app process at a random moment, and
	// start it again on its state directory.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	runs := make([]int, 3)
	genDone := false
	for k := 0; k < kills || !genDone; {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		select {
		case err := <-generated:
			require.NoError(t, err)
			genDone = true
		default:
		}
		if k >= kills {
			continue
		}
		i := rng.IntN(3)
		require.NoError(t, procs[i].cmd.Process.Signal(syscall.SIGKILL))
		_ = procs[i].cmd.Wait()
		runs[i]++
		k++
		t.Logf("%v: kill %d: app%d (run %d)", elapsed(), k, i, runs[i]-1)
		start(i, runs[i])
	}
	t.Logf("%v: generated %d records; %d kills done; waiting for the apps to catch up", elapsed(), records, kills)
	caughtUp := time.Now()

	repartition := streams.RepartitionTopic(appID, "by-key")
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	waitDone := make(chan error, 1)
	go func() { waitDone <- c.WaitCaughtUp(ctxSoak(t), appID, "in", repartition) }()
	for waiting := true; waiting; {
		select {
		case err := <-waitDone:
			require.NoError(t, err)
			waiting = false
		case <-progress.C:
			t.Logf("%v: still catching up: %s", elapsed(), soakLag(t, c, appID, "in", repartition, "echo", "totals"))
		}
	}
	t.Logf("caught up in %v", time.Since(caughtUp).Round(time.Millisecond))
	for _, p := range procs {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for i, p := range procs {
		exited := make(chan error, 1)
		go func() { exited <- p.cmd.Wait() }()
		select {
		case err := <-exited:
			require.NoError(t, err, "app%d: %s", i, p.out.String())
		case <-time.After(60 * time.Second):
			// Stuck: SIGQUIT makes the Go runtime print every goroutine.
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			<-exited
			t.Fatalf("app%d did not stop within 60s of SIGTERM:\n%s", i, p.out.String())
		}
	}

	// A last run of app0 alone takes every task over: it restores each
	// store it has on disk from the offset kept with it, the others from
	// their changelogs, processes a record of every key, and closes cleanly,
	// so every task's stores are on disk with a current checkpoint.
	start(0, runs[0]+1)
	last := make([]*kgo.Record, 0, keys)
	for k := range keys {
		last = append(last, &kgo.Record{Topic: "in", Key: []byte("k" + strconv.Itoa(k)), Value: []byte(strconv.Itoa(records + k + 1))})
	}
	require.NoError(t, c.Produce(ctxT(t), last...))
	require.NoError(t, c.WaitCaughtUp(ctxSoak(t), appID, "in", repartition))
	require.NoError(t, procs[0].cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, procs[0].cmd.Wait(), "app0: %s", procs[0].out.String())

	t.Logf("%v: verifying", elapsed())
	verifyExactlyOnce(t, c, appID)
	verifyStoresOnDisk(t, c, appID, dirs[:1])
	t.Logf("%v: verified", elapsed())
	fmt.Printf("ALL-RECORDS-DELIVERED: %d records, %d partitions, %d keys, %d SIGKILLs, 3 app processes\n", records, partitions, keys, kills)
}

// verifyStoresOnDisk checks that the RocksDB stores that the apps closed
// last, for each partition, hold the final sums and counts recomputed from
// the input. A task directory is current when its checkpoint is at the
// changelog's end; a directory a task left earlier is not, and is skipped.
func verifyStoresOnDisk(t *testing.T, c *embedded.Cluster, appID string, dirs []string) {
	t.Helper()
	in, err := c.ReadAll(ctxT(t), "in")
	require.NoError(t, err)
	want := map[string]map[string]int64{"sums": {}, "counts": {}}
	for _, r := range in {
		v, err := strconv.ParseInt(string(r.Value), 10, 64)
		require.NoError(t, err)
		want["sums"][string(r.Key)] += v
		want["counts"][string(r.Key)]++
	}
	for store, final := range want {
		changelog := streams.ChangelogTopic(appID, store)
		listed, err := c.Admin().ListEndOffsets(ctxT(t), changelog)
		require.NoError(t, err)
		ends := map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) {
			end, err := c.VisibleEnd(ctxT(t), changelog, o.Partition, o.Offset)
			require.NoError(t, err)
			ends[o.Partition] = end
		})
		got := map[string]int64{}
		current := map[int32]bool{}
		for _, dir := range dirs {
			tasks, err := filepath.Glob(filepath.Join(dir, appID, "*_*"))
			require.NoError(t, err)
			for _, taskDir := range tasks {
				cp, err := checkpoint.Read(taskDir)
				if err != nil || cp == nil {
					continue
				}
				for part, off := range cp {
					end, ok := ends[part.Partition]
					if part.Topic != changelog || !ok || off < end {
						continue
					}
					current[part.Partition] = true
					st := state.NewKeyValueStoreBuilder(rocksdb.KeyValueStore(store, rocksdb.Options{}), serde.String(), serde.Int64()).
						WithLoggingDisabled().BuildStore()
					require.NoError(t, st.Init(state.StoreContext{Dir: taskDir}))
					for kv, err := range st.All() {
						require.NoError(t, err)
						got[kv.Key] = kv.Value
					}
					require.NoError(t, st.Close())
				}
			}
		}
		require.Len(t, current, len(ends), "store %s: every partition has a store closed at its changelog's end", store)
		require.Equal(t, final, got, "store %s on disk", store)
	}
}
