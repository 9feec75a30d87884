//go:build pgcrash

package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/internal/pgtest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
	"github.com/gostreams/streams/topology"
)

// The crash test of the PostgreSQL sink (make pgcrash). For each of the
// sink's modes, kfake runs as a process of its own (as in the soak test),
// PostgreSQL as a server of the test's own (pgtest), and pgcrashApps app
// processes, static members of one group, share the pgcrashPartitions
// partitions of the input while the test SIGKILLs one of them at a random
// moment and starts it again, PGCRASH_KILLS times (default 10), and a
// generator writes PGCRASH_RECORDS records (default 100,000) over
// pgcrashKeys keys. Once the survivors have caught up, everything the
// database holds is compared with the input, read back from the topic.
//
//   - ExactlyOnce: each record is inserted into events, whose primary key
//     (topic, partition, offset) fails the app on a duplicate, and added
//     to its key's row of totals by an upsert that is not idempotent. App
//     processes 0 and 2 run under the ExactlyOnce guarantee, 1 under
//     AtLeastOnce, in one group: the sink's exactly-once rests on the
//     offsets it stores in the database, not on Kafka's transactions. (A
//     process keeps its guarantee across restarts: an AtLeastOnce run after
//     an ExactlyOnce one would leave its predecessor's transaction open,
//     holding the group up, for the transaction timeout.) Afterwards
//     events holds each input record once, totals equals the sums and
//     counts recomputed from the input, and the offsets table the input's
//     end offsets.
//   - Idempotent (AtLeastOnce): each record is added to its key's row of
//     idem_totals by postgres.Upsert, which skips a record applied
//     already, and counted in deliveries by an upsert that is not
//     idempotent, so that the test sees the records the database got more
//     than once. Afterwards idem_totals equals the recomputation, and
//     deliveries proves that records were redelivered (its counts sum to
//     more than the records) — else the test would not have tested the
//     upsert's skipping.
//
// The app processes send their offset commits pgcrashCommitDelay late
// (slowCommits), so that the kills often come between a task's commit in
// the database and its commit in Kafka, and the test requires that some
// did. Each mode prints a "PGCRASH <mode> ..." line when all its checks
// pass.
// PGCRASH_LOGDIR, if set, receives each app process's output
// (STREAMS_CHILD_LOG=1 makes the apps log).
func TestPostgresSinkSurvivesSIGKILL(t *testing.T) {
	records := soakSize(t, "PGCRASH_RECORDS", 100_000)
	kills := soakSize(t, "PGCRASH_KILLS", 10)
	srv := pgtest.Start(t)
	for _, mode := range []postgres.Mode{postgres.ExactlyOnce, postgres.Idempotent} {
		t.Run(mode.String(), func(t *testing.T) {
			runPgCrash(t, srv, mode, records, kills)
		})
	}
}

const (
	pgcrashPartitions = 4
	pgcrashKeys       = 50
	pgcrashApps       = 3
	pgcrashTopic      = "in"
)

// pgcrashCommitDelay holds back every offset commit of the app processes
// (slowCommits), so that a good part of the SIGKILLs land after a commit
// in the database and before the matching one in Kafka.
const pgcrashCommitDelay = 100 * time.Millisecond

// The app processes' topologies (childMain): the sink on the input topic,
// its database at STREAMS_PG_URL, with slowCommits.
func init() {
	childTopologies["pgcrash-exactly-once"] = func() (childApp, error) {
		g := eos.AtLeastOnce
		if os.Getenv("STREAMS_CHILD_EOS") != "" {
			g = eos.ExactlyOnce
		}
		top, err := pgcrashTopology(postgres.ExactlyOnce)
		return childApp{topology: top, guarantee: g, clientOptions: slowCommits(pgcrashCommitDelay)}, err
	}
	childTopologies["pgcrash-idempotent"] = func() (childApp, error) {
		top, err := pgcrashTopology(postgres.Idempotent)
		return childApp{topology: top, guarantee: eos.AtLeastOnce, clientOptions: slowCommits(pgcrashCommitDelay)}, err
	}
}

// slowCommits makes the client send each request that commits offsets
// (OffsetCommit; under exactly-once EndTxn, which commits the
// transaction's offsets) d late, as a slow link to the coordinator would.
// Every commit of the sink's task runs the database's transaction first
// and Kafka's after, and a crash between the two is where the modes are
// put to the test: ExactlyOnce must start from the database's offsets, not
// the group's, which are behind; Idempotent starts from the group's,
// delivers the records again, and its upserts must skip them. Without the
// delay that window is a millisecond or two: in two runs of 10 kills per
// mode, no kill hit it.
func slowCommits(d time.Duration) []kgo.Opt {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return []kgo.Opt{kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, host)
		if err != nil {
			return nil, err
		}
		return slowCommitConn{conn, d}, nil
	})}
}

// slowCommitConn delays the writes of offset commits. kgo writes each
// request in one Write: a 4-byte length, then the request's key.
type slowCommitConn struct {
	net.Conn
	delay time.Duration
}

func (c slowCommitConn) Write(p []byte) (int, error) {
	if len(p) >= 6 {
		switch int16(binary.BigEndian.Uint16(p[4:6])) {
		case kmsg.OffsetCommit.Int16(), kmsg.EndTxn.Int16():
			time.Sleep(c.delay)
		}
	}
	return c.Conn.Write(p)
}

const pgcrashDDL = `
CREATE TABLE events (topic text NOT NULL, part int NOT NULL, off bigint NOT NULL, k text NOT NULL, v bigint NOT NULL,
	PRIMARY KEY (topic, part, off));
CREATE TABLE totals (k text PRIMARY KEY, total bigint NOT NULL, n bigint NOT NULL);
CREATE TABLE idem_totals (k text PRIMARY KEY, total bigint NOT NULL, n bigint NOT NULL,
	last_partition int NOT NULL, last_offset bigint NOT NULL);
CREATE TABLE deliveries (topic text NOT NULL, part int NOT NULL, off bigint NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (topic, part, off));`

func pgcrashTopology(mode postgres.Mode) (*topology.Topology, error) {
	pool, err := pgxpool.New(context.Background(), os.Getenv("STREAMS_PG_URL"))
	if err != nil {
		return nil, err
	}
	var write func(b *postgres.Batch, rec processor.Record[string, int64]) error
	switch mode {
	case postgres.ExactlyOnce:
		write = func(b *postgres.Batch, rec processor.Record[string, int64]) error {
			md := b.Record()
			// No ON CONFLICT: a record written twice fails the app.
			b.Queue(`INSERT INTO events (topic, part, off, k, v) VALUES ($1, $2, $3, $4, $5)`,
				md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
			// Not idempotent: only exactly-once keeps it right.
			b.Queue(`INSERT INTO totals (k, total, n) VALUES ($1, $2, 1)
	ON CONFLICT (k) DO UPDATE SET total = totals.total + EXCLUDED.total, n = totals.n + 1`, rec.Key, rec.Value)
			return nil
		}
	case postgres.Idempotent:
		up := &postgres.Upsert{Table: "idem_totals", Key: []string{"k"}, Columns: []string{"total", "n"},
			Set: map[string]string{"total": "idem_totals.total + EXCLUDED.total", "n": "idem_totals.n + 1"}}
		// Queue would prepare it on first use, from whichever task's
		// goroutine comes first.
		if err := up.Prepare(); err != nil {
			return nil, err
		}
		write = func(b *postgres.Batch, rec processor.Record[string, int64]) error {
			if err := up.Queue(b, []any{rec.Key}, []any{rec.Value, 1}); err != nil {
				return err
			}
			// Deliberately not idempotent: counts every delivery that
			// reached the database.
			md := b.Record()
			b.Queue(`INSERT INTO deliveries (topic, part, off, n) VALUES ($1, $2, $3, 1)
	ON CONFLICT (topic, part, off) DO UPDATE SET n = deliveries.n + 1`, md.Topic, md.Partition, md.Offset)
			return nil
		}
	}
	b := topology.NewBuilder()
	src := topology.AddSource(b, "in", topology.Source[string, int64]{Topics: []string{pgcrashTopic}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	postgres.Add(b, "db", postgres.Sink[string, int64]{Pool: pool, Mode: mode, Write: write}, src)
	return b.Build()
}

// pgApp is an app process, watched: done is closed when it has exited,
// for whatever reason, and then exit says how.
type pgApp struct {
	*child
	done chan struct{}
	exit error
}

func startPgApp(t *testing.T, c *embedded.Cluster, appID, name string, env ...string) *pgApp {
	t.Helper()
	a := &pgApp{child: startChild(t, c, appID, name, env...), done: make(chan struct{})}
	go func() {
		a.exit = a.cmd.Wait()
		close(a.done)
	}()
	// Before startChild's cleanup, which then finds the process waited for.
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		<-a.done
	})
	return a
}

// requireRunning fails the test if an app process exited on its own.
func requireRunning(t *testing.T, apps []*pgApp) {
	t.Helper()
	for _, a := range apps {
		select {
		case <-a.done:
			t.Fatalf("app process %s exited on its own (%v):\n%s", a.name, a.exit, tail(a.out.String(), 8000))
		default:
		}
	}
}

// kill SIGKILLs a, which must still be running, and waits until it is gone.
func (a *pgApp) kill(t *testing.T) {
	t.Helper()
	requireRunning(t, []*pgApp{a})
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	<-a.done
	ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL,
		"app process %s ended with %v, not by our SIGKILL:\n%s", a.name, a.exit, tail(a.out.String(), 8000))
}

// stop stops a with SIGTERM and requires a clean exit.
func (a *pgApp) stop(t *testing.T) {
	t.Helper()
	requireRunning(t, []*pgApp{a})
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-a.done:
		require.NoError(t, a.exit, "app process %s on SIGTERM:\n%s", a.name, tail(a.out.String(), 8000))
	case <-time.After(60 * time.Second):
		// Stuck: SIGQUIT makes the Go runtime print every goroutine.
		_ = a.cmd.Process.Signal(syscall.SIGQUIT)
		<-a.done
		t.Fatalf("app process %s did not stop within 60s of SIGTERM:\n%s", a.name, a.out.String())
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// runPgCrash is one mode's run of TestPostgresSinkSurvivesSIGKILL.
func runPgCrash(t *testing.T, srv *pgtest.Server, mode postgres.Mode, records, kills int) {
	began := time.Now()
	elapsed := func() time.Duration { return time.Since(began).Round(time.Millisecond) }
	appID, topologyName := "pgcrash-eos", "pgcrash-exactly-once"
	if mode == postgres.Idempotent {
		appID, topologyName = "pgcrash-idempotent", "pgcrash-idempotent"
	}

	c := startBrokerProcess(t)
	require.NoError(t, c.CreateTopic(ctxT(t), pgcrashTopic, pgcrashPartitions))
	url := srv.NewDatabase(t)
	pool := srv.Pool(t, url)
	_, err := pool.Exec(ctxT(t), pgcrashDDL)
	require.NoError(t, err)

	// Each app process has a state directory of its own that outlives its
	// restarts, as a restarted instance would: it keeps the process id,
	// and so its transactional id, with which a restart aborts at once
	// the transaction its predecessor left open. (With a new one, that
	// transaction would hold the offsets of its partitions unstable, and
	// the group stalled, for the transaction timeout.)
	dirs := make([]string, pgcrashApps)
	apps := make([]*pgApp, pgcrashApps)
	var all []*pgApp
	runs := make([]int, pgcrashApps)
	start := func(i int) {
		env := []string{"STREAMS_CHILD_TOPOLOGY=" + topologyName, "STREAMS_PG_URL=" + url, "STREAMS_STATE_DIR=" + dirs[i],
			"STREAMS_INSTANCE_ID=" + appID + "-app" + strconv.Itoa(i)}
		if mode == postgres.ExactlyOnce && i%2 == 0 {
			env = append(env, "STREAMS_CHILD_EOS=1")
		}
		apps[i] = startPgApp(t, c, appID, fmt.Sprintf("app%d-run%d", i, runs[i]), env...)
		all = append(all, apps[i])
	}
	t.Cleanup(func() {
		if dir := os.Getenv("PGCRASH_LOGDIR"); dir != "" {
			for _, a := range all {
				_ = os.WriteFile(filepath.Join(dir, mode.String()+"-"+a.name+".log"), []byte(a.out.String()), 0o644)
			}
		}
	})
	for i := range apps {
		dirs[i] = t.TempDir()
		start(i)
	}
	t.Logf("%v: broker, database and %d app processes started", elapsed(), pgcrashApps)

	// The generator: values 1..1000 at random over keys k0..k49,
	// partitioned by key, spread over a little more than the kills take
	// (0.85s apart on average), so that the processes die while records
	// flow.
	spread := time.Duration(kills) * 1100 * time.Millisecond
	generated := make(chan error, 1)
	genCtx, stopGen := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	// Before the broker's cleanup: a test that failed stops the generator
	// first.
	t.Cleanup(func() {
		stopGen()
		<-genDone
	})
	go func() {
		defer close(genDone)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		const chunk = 200
		for from := 0; from < records; from += chunk {
			n := min(chunk, records-from)
			recs := make([]*kgo.Record, 0, n)
			for range n {
				v, err := serde.Int64().Serialize(1 + rng.Int64N(1000))
				if err != nil {
					generated <- err
					return
				}
				recs = append(recs, &kgo.Record{Topic: pgcrashTopic, Key: []byte("k" + strconv.Itoa(rng.IntN(pgcrashKeys))), Value: v})
			}
			if err := c.Produce(genCtx, recs...); err != nil {
				generated <- err
				return
			}
			select {
			case <-genCtx.Done():
				generated <- genCtx.Err()
				return
			case <-time.After(spread * chunk / time.Duration(records)):
			}
		}
		generated <- nil
	}()

	// The killer: SIGKILL a random app process at a random moment, and
	// start it again. inFlight counts the kills that came while the
	// database (ExactlyOnce) or the group (Idempotent) was behind the
	// input, so that work was lost mid-way; dbAhead those that came while
	// the database had committed records that the group had not.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	inFlight, dbAhead := 0, 0
	for k, generatedAll := 0, false; k < kills || !generatedAll; {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		requireRunning(t, apps)
		select {
		case err := <-generated:
			require.NoError(t, err)
			generatedAll = true
			t.Logf("%v: generated %d records", elapsed(), records)
		default:
		}
		if k >= kills {
			continue
		}
		i := rng.IntN(pgcrashApps)
		p := pgcrashOffsets(t, c, pool, appID)
		apps[i].kill(t)
		behind, ahead := p.groupBehind, p.dbAhead
		if mode == postgres.ExactlyOnce {
			behind = p.dbBehind
		}
		if behind > 0 {
			inFlight++
		}
		if ahead > 0 {
			dbAhead++
		}
		k++
		t.Logf("%v: kill %d: %s (%v)", elapsed(), k, apps[i].name, p)
		runs[i]++
		start(i)
	}
	t.Logf("%v: %d kills done, %d with records in flight; waiting for the apps to catch up", elapsed(), kills, inFlight)
	require.Positive(t, inFlight, "no kill came while records were in flight: the test tested nothing")
	if mode == postgres.ExactlyOnce {
		t.Logf("%d kills came while the database was ahead of the group", dbAhead)
		require.Positive(t, dbAhead, "no kill came while the database was ahead of the group: starting from the database's offsets went untested")
	}

	// The survivors finish: the database's offsets, or the group's, reach
	// the input's end.
	ends := pgcrashEnds(t, c)
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for caughtUp := false; !caughtUp; {
		requireRunning(t, apps)
		if mode == postgres.ExactlyOnce {
			stored, err := postgres.StoredOffsets(ctx, pool, "", appID)
			require.NoError(t, err)
			caughtUp = maps.Equal(stored, ends)
		} else {
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			caughtUp = c.WaitCaughtUp(wctx, appID, pgcrashTopic) == nil
			cancel()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the apps did not catch up within 10 minutes: %v", pgcrashOffsets(t, c, pool, appID))
		case <-progress.C:
			t.Logf("%v: still catching up: %v", elapsed(), pgcrashOffsets(t, c, pool, appID))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("%v: caught up", elapsed())
	if mode == postgres.ExactlyOnce {
		// Not a check: the group's offsets are only for lag monitoring.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.WaitCaughtUp(wctx, appID, pgcrashTopic)
		cancel()
		t.Logf("%v: the group's offsets caught up too: %v (%v)", elapsed(), err == nil, pgcrashOffsets(t, c, pool, appID))
	}
	for _, a := range apps {
		a.stop(t)
	}

	// The input, read back.
	in, err := c.ReadAll(ctxT(t), pgcrashTopic)
	require.NoError(t, err)
	require.Len(t, in, records)
	type where struct {
		part int32
		off  int64
	}
	type event struct {
		k string
		v int64
	}
	type total struct{ total, n int64 }
	inputs := make(map[where]event, records)
	want := map[string]total{}
	last := map[string]where{}
	for _, r := range in {
		v, err := serde.Int64().Deserialize(r.Value)
		require.NoError(t, err)
		inputs[where{r.Partition, r.Offset}] = event{string(r.Key), v}
		w := want[string(r.Key)]
		want[string(r.Key)] = total{w.total + v, w.n + 1}
		last[string(r.Key)] = where{r.Partition, r.Offset}
	}
	require.Len(t, inputs, records)
	query := func(sql string) pgx.Rows {
		rows, err := pool.Query(ctxT(t), sql)
		require.NoError(t, err, sql)
		return rows
	}

	switch mode {
	case postgres.ExactlyOnce:
		var n int64
		require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM events`).Scan(&n))
		require.EqualValues(t, records, n, "rows in events")
		got := make(map[where]event, records)
		var topic string
		var w where
		var e event
		_, err := pgx.ForEachRow(query(`SELECT topic, part, off, k, v FROM events`), []any{&topic, &w.part, &w.off, &e.k, &e.v}, func() error {
			if topic != pgcrashTopic {
				return fmt.Errorf("events row %v from topic %q", w, topic)
			}
			got[w] = e
			return nil
		})
		require.NoError(t, err)
		requireSameMap(t, inputs, got, "events (by partition and offset) against the input")

		gotTotals := map[string]total{}
		var k string
		var tot total
		_, err = pgx.ForEachRow(query(`SELECT k, total, n FROM totals`), []any{&k, &tot.total, &tot.n}, func() error {
			gotTotals[k] = tot
			return nil
		})
		require.NoError(t, err)
		requireSameMap(t, want, gotTotals, "totals against the input's sums and counts")

		stored, err := postgres.StoredOffsets(ctxT(t), pool, "", appID)
		require.NoError(t, err)
		require.Equal(t, ends, stored, "the offsets table against the input's end offsets")
		fmt.Printf("PGCRASH ExactlyOnce records=%d partitions=%d keys=%d apps=%d kills=%d in-flight=%d db-ahead=%d elapsed=%v ok\n",
			records, pgcrashPartitions, len(want), pgcrashApps, kills, inFlight, dbAhead, elapsed())

	case postgres.Idempotent:
		gotTotals := map[string]total{}
		gotLast := map[string]where{}
		var k string
		var tot total
		var w where
		_, err := pgx.ForEachRow(query(`SELECT k, total, n, last_partition, last_offset FROM idem_totals`),
			[]any{&k, &tot.total, &tot.n, &w.part, &w.off}, func() error {
				gotTotals[k], gotLast[k] = tot, w
				return nil
			})
		require.NoError(t, err)
		requireSameMap(t, want, gotTotals, "idem_totals against the input's sums and counts")
		requireSameMap(t, last, gotLast, "idem_totals' last applied record against each key's last input record")

		deliveries := map[where]int64{}
		var topic string
		var n, sum int64
		_, err = pgx.ForEachRow(query(`SELECT topic, part, off, n FROM deliveries`), []any{&topic, &w.part, &w.off, &n}, func() error {
			if topic != pgcrashTopic {
				return fmt.Errorf("deliveries row %v from topic %q", w, topic)
			}
			deliveries[w] = n
			sum += n
			return nil
		})
		require.NoError(t, err)
		require.Len(t, deliveries, records, "every input record was delivered")
		for w := range inputs {
			_, ok := deliveries[w]
			require.True(t, ok, "input record %d@%d was never delivered", w.part, w.off)
		}
		twice := 0
		for _, n := range deliveries {
			if n > 1 {
				twice++
			}
		}
		redelivered := sum - int64(records)
		require.Positive(t, redelivered,
			"no record reached the database twice: the kills never landed between a database commit and the group's, and the upsert's skipping went untested")
		fmt.Printf("PGCRASH Idempotent records=%d partitions=%d keys=%d apps=%d kills=%d redelivered=%d (%d records more than once) elapsed=%v ok\n",
			records, pgcrashPartitions, len(want), pgcrashApps, kills, redelivered, twice, elapsed())
	}
}

// requireSameMap compares two large maps and names a few of the keys where
// they differ, rather than printing both.
func requireSameMap[K comparable, V comparable](t *testing.T, want, got map[K]V, what string) {
	t.Helper()
	if maps.Equal(want, got) {
		return
	}
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%v: want %v, missing", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%v: want %v, got %v", k, w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%v: not wanted, got %v", k, g))
		}
	}
	slices.Sort(diffs)
	n := len(diffs)
	if n > 20 {
		diffs = diffs[:20]
	}
	t.Fatalf("%s: %d entries wanted, %d got, %d differ; the first:\n%s", what, len(want), len(got), n, strings.Join(diffs, "\n"))
}

// pgcrashEnds returns the input's end offsets.
func pgcrashEnds(t *testing.T, c *embedded.Cluster) map[processor.TopicPartition]int64 {
	t.Helper()
	listed, err := c.Admin().ListEndOffsets(ctxT(t), pgcrashTopic)
	require.NoError(t, err)
	ends := map[processor.TopicPartition]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err)
		ends[processor.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
	})
	return ends
}

// pgcrashProgress is how far the database and the group are, in records
// summed over the input's partitions: behind the input's end, and the
// database ahead of the group.
type pgcrashProgress struct {
	dbBehind, groupBehind, dbAhead int64
	// db is whether the sink stores offsets (ExactlyOnce).
	db bool
}

func (p pgcrashProgress) String() string {
	if !p.db {
		return fmt.Sprintf("group %d records behind", p.groupBehind)
	}
	return fmt.Sprintf("database %d records behind, group %d behind, database %d ahead of the group", p.dbBehind, p.groupBehind, p.dbAhead)
}

// pgcrashOffsets compares the offsets the sink stored (none in Idempotent
// mode), the group's committed offsets and the input's end offsets.
func pgcrashOffsets(t *testing.T, c *embedded.Cluster, pool *pgxpool.Pool, appID string) pgcrashProgress {
	t.Helper()
	stored, dbErr := postgres.StoredOffsets(ctxT(t), pool, "", appID)
	if dbErr != nil && !strings.Contains(dbErr.Error(), "42P01") { // no offsets table (yet)
		require.NoError(t, dbErr)
	}
	group := map[processor.TopicPartition]int64{}
	committed, err := c.Admin().FetchOffsets(ctxT(t), appID)
	if err == nil { // else the group is not there yet
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				group[processor.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
			}
		})
	}
	p := pgcrashProgress{db: dbErr == nil}
	for tp, end := range pgcrashEnds(t, c) {
		db, g := max(stored[tp], 0), max(group[tp], 0)
		p.dbBehind += end - db
		p.groupBehind += end - g
		p.dbAhead += max(db-g, 0)
	}
	return p
}
