package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/internal/pgtest"
	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newDB returns a pool on a database of the test's own, on the package's
// shared server.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	srv := pgtest.Shared(t)
	return srv.Pool(t, srv.NewDatabase(t))
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

const eventsDDL = `CREATE TABLE events (topic text, part int, off bigint, k text, v bigint, PRIMARY KEY (topic, part, off))`

// insertEvent writes one row per record, keyed by where the record came
// from.
func insertEvent(b *postgres.Batch, rec processor.Record[string, int64]) error {
	md := b.Record()
	b.Queue(`INSERT INTO events (topic, part, off, k, v) VALUES ($1, $2, $3, $4, $5)`, md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
	return nil
}

func copyEvent(b *postgres.Batch, rec processor.Record[string, int64]) error {
	md := b.Record()
	return b.Copy("events", []string{"topic", "part", "off", "k", "v"}, md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
}

func sinkTopology(t *testing.T, s postgres.Sink[string, int64]) *topology.Topology {
	t.Helper()
	return sinkTopologyOn(t, "in", s)
}

func sinkTopologyOn(t *testing.T, topic string, s postgres.Sink[string, int64]) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "in", topology.Source[string, int64]{Topics: []string{topic}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
	postgres.Add(b, "db", s, src)
	top, err := b.Build()
	require.NoError(t, err)
	return top
}

func driver(t *testing.T, top *topology.Topology) *testdriver.Driver {
	t.Helper()
	d, err := testdriver.New(top, testdriver.Options{ApplicationID: "app"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestExactlyOnceWritesRecordsAndOffsetsTogether(t *testing.T) {
	for name, write := range map[string]func(*postgres.Batch, processor.Record[string, int64]) error{
		"queue": insertEvent, "copy": copyEvent,
	} {
		t.Run(name, func(t *testing.T) {
			pool := newDB(t)
			exec(t, pool, eventsDDL)
			d := driver(t, sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: write}))
			in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
			for i := range 25 {
				require.NoError(t, in.PipeKeyValue(fmt.Sprintf("k%d", i%3), int64(i)))
			}
			require.EqualValues(t, 25, count(t, pool, `SELECT count(*) FROM events`))
			require.EqualValues(t, 300, count(t, pool, `SELECT sum(v) FROM events`)) // 0+1+...+24
			stored, err := postgres.StoredOffsets(context.Background(), pool, "", "app")
			require.NoError(t, err)
			require.Equal(t, map[processor.TopicPartition]int64{{Topic: "in", Partition: 0}: 25}, stored)
		})
	}
}

// A commit whose stored offsets are past its records is a zombie's: an
// instance the group gave up on, whose partitions another instance
// committed since. It must not commit.
func TestExactlyOnceZombieCannotCommitOverTheNewOwner(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, eventsDDL)
	top := sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: insertEvent})

	owner := driver(t, top)
	in := testdriver.CreateInputTopic(owner, "in", serde.String(), serde.Int64())
	for i := range 10 {
		require.NoError(t, in.PipeKeyValue("k", int64(i)))
	}

	// The zombie still works from offset 0: its first record's commit finds
	// offset 10 stored.
	zombieTop := sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: insertEvent})
	zombie := driver(t, zombieTop)
	zin := testdriver.CreateInputTopic(zombie, "in", serde.String(), serde.Int64())
	err := zin.PipeKeyValue("k", 100)
	require.Error(t, err)
	require.Contains(t, err.Error(), "another instance committed its partitions")
	require.Contains(t, err.Error(), `external sink "db"`)

	require.EqualValues(t, 10, count(t, pool, `SELECT count(*) FROM events`))
	require.EqualValues(t, 0, count(t, pool, `SELECT count(*) FROM events WHERE v = 100`))
}

func TestStatementErrorNamesTheStatementAndTheRecord(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, eventsDDL)
	d := driver(t, sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
		b.Queue(`INSERT INTO no_such_table VALUES ($1)`, rec.Value)
		return nil
	}}))
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	err := in.PipeKeyValue("k", 1)
	require.Error(t, err)
	require.Contains(t, err.Error(), `INSERT INTO no_such_table`)
	require.Contains(t, err.Error(), `record in-0@0`)
	require.Contains(t, err.Error(), `42P01`) // undefined_table
	require.False(t, processor.IsRetriable(err), "a missing table does not go away by retrying: %v", err)
	stored, err := postgres.StoredOffsets(context.Background(), pool, "", "app")
	require.NoError(t, err)
	require.Empty(t, stored, "the offsets commit with the statements or not at all")
}

// A Write that fails fails its record as a processing error, and what it
// queued before failing is not written.
func TestWriteErrorDropsTheRecordsStatements(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, eventsDDL)
	d := driver(t, sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
		if err := insertEvent(b, rec); err != nil {
			return err
		}
		if rec.Value < 0 {
			return fmt.Errorf("negative amount %d", rec.Value)
		}
		return nil
	}}))
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	require.NoError(t, in.PipeKeyValue("a", 1))
	err := in.PipeKeyValue("b", -1)
	var pe *processor.ProcessingError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "db", pe.Processor)
	require.EqualValues(t, 1, pe.Record.Offset)
	require.EqualValues(t, 1, count(t, pool, `SELECT count(*) FROM events`))
}

func TestUpsertAppliesARedeliveredRecordOnce(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, `CREATE TABLE totals (customer text PRIMARY KEY, total bigint NOT NULL, n bigint NOT NULL, last_partition int NOT NULL, last_offset bigint NOT NULL)`)
	up := &postgres.Upsert{Table: "totals", Key: []string{"customer"}, Columns: []string{"total", "n"},
		Set: map[string]string{"total": "totals.total + EXCLUDED.total", "n": "totals.n + 1"}}
	s := postgres.Sink[string, int64]{Pool: pool, Mode: postgres.Idempotent, Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
		return up.Queue(b, []any{rec.Key}, []any{rec.Value, 1})
	}}
	records := func(n int) []testdriver.KeyValue[string, int64] {
		var kvs []testdriver.KeyValue[string, int64]
		for i := range n {
			kvs = append(kvs, testdriver.KeyValue[string, int64]{Key: fmt.Sprintf("c%d", i%4), Value: int64(i)})
		}
		return kvs
	}
	first := driver(t, sinkTopology(t, s))
	require.NoError(t, testdriver.CreateInputTopic(first, "in", serde.String(), serde.Int64()).PipeKeyValues(records(40)))

	// A restart that reads the same 40 records again (the group's offsets
	// were not committed), and 20 more.
	again := driver(t, sinkTopology(t, s))
	require.NoError(t, testdriver.CreateInputTopic(again, "in", serde.String(), serde.Int64()).PipeKeyValues(records(60)))

	want := map[string][2]int64{}
	for _, kv := range records(60) {
		w := want[kv.Key]
		want[kv.Key] = [2]int64{w[0] + kv.Value, w[1] + 1}
	}
	rows, err := pool.Query(context.Background(), `SELECT customer, total, n FROM totals`)
	require.NoError(t, err)
	got := map[string][2]int64{}
	for rows.Next() {
		var c string
		var total, n int64
		require.NoError(t, rows.Scan(&c, &total, &n))
		got[c] = [2]int64{total, n}
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got)
	require.EqualValues(t, 0, count(t, pool, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'streams_offsets'`),
		"an idempotent sink stores no offsets")
}

func TestUpsertStatement(t *testing.T) {
	up := &postgres.Upsert{Table: "public.totals", Key: []string{"customer"}, Columns: []string{"total"}}
	require.NoError(t, up.Prepare())
	require.Equal(t, `INSERT INTO "public"."totals" AS "totals" ("customer", "total", "last_partition", "last_offset") VALUES ($1, $2, $3, $4) ON CONFLICT ("customer") DO UPDATE SET "total" = EXCLUDED."total", "last_partition" = EXCLUDED."last_partition", "last_offset" = EXCLUDED."last_offset" WHERE "totals"."last_partition" <> EXCLUDED."last_partition" OR "totals"."last_offset" < EXCLUDED."last_offset"`, up.SQL())

	require.ErrorContains(t, (&postgres.Upsert{Table: "t"}).Prepare(), "needs a Table and its Key columns")
	require.ErrorContains(t, (&postgres.Upsert{Table: "t", Key: []string{"k"}, Set: map[string]string{"x": "1"}}).Prepare(), `Set names column "x", which is not in Columns`)
	require.ErrorContains(t, (&postgres.Upsert{Table: "a.b.c", Key: []string{"k"}}).Prepare(), "want table or schema.table")
}

func TestCopyIsRejectedInIdempotentMode(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, eventsDDL)
	d := driver(t, sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Mode: postgres.Idempotent, Write: copyEvent}))
	err := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64()).PipeKeyValue("k", 1)
	require.ErrorContains(t, err, "COPY cannot skip a row it applied already")
}

// Copy runs once per row: the rows of one table share its parsed name,
// so that a row costs the sink no allocation of its own. (It used to
// parse the name, an allocation, for every row.)
func TestCopyOfATablesRowsAllocatesNothing(t *testing.T) {
	var b postgres.Batch // the zero Batch is ExactlyOnce's
	cols := []string{"k", "v"}
	values := []any{"k", int64(1)}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := b.Copy("events", cols, values...); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)

	require.NoError(t, b.Copy("s.other", cols, values...))
	require.ErrorContains(t, b.Copy("a.b.c", cols, values...), "want table or schema.table")
	require.NoError(t, b.Copy("events", cols, values...))
	require.Equal(t, 1+1000+2, b.Len(), "AllocsPerRun's warm-up, its runs and the two other rows")
}

// Rows copied into two tables in turn each go to their own table.
func TestCopyIntoTwoTablesInTurn(t *testing.T) {
	pool := newDB(t)
	exec(t, pool, eventsDDL)
	exec(t, pool, `CREATE SCHEMA audit`)
	exec(t, pool, `CREATE TABLE audit.log (off bigint PRIMARY KEY, k text)`)
	d := driver(t, sinkTopology(t, postgres.Sink[string, int64]{Pool: pool, Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
		if err := copyEvent(b, rec); err != nil {
			return err
		}
		return b.Copy("audit.log", []string{"off", "k"}, b.Record().Offset, rec.Key)
	}}))
	in := testdriver.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	for i := range 5 {
		require.NoError(t, in.PipeKeyValue(fmt.Sprintf("k%d", i), int64(i)))
	}
	require.EqualValues(t, 5, count(t, pool, `SELECT count(*) FROM events`))
	require.EqualValues(t, 5, count(t, pool, `SELECT count(*) FROM audit.log WHERE k = 'k' || off`))
}

func TestBuildRejectsAnExactlyOnceSinkBesideStoresOrKafkaSinks(t *testing.T) {
	pool := newDB(t)
	s := postgres.Sink[string, int64]{Pool: pool, Write: insertEvent}

	t.Run("store", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		counts := kstream.Stream(sb, []string{"in"}, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()}).
			GroupByKey().Count(kstream.Materialized[string, int64]{Name: "Counts"})
		postgres.To(counts.ToStream(), s)
		_, err := sb.Build()
		require.Error(t, err)
		require.Contains(t, err.Error(), `commits its records and the task's input offsets in PostgreSQL`)
		require.Contains(t, err.Error(), `state stores ["Counts"]`)
		require.Contains(t, err.Error(), "two transactional systems with no two-phase commit")
	})
	t.Run("kafka sink", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		in := kstream.Stream(sb, []string{"in"}, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()})
		in.To("out")
		postgres.To(in, s)
		_, err := sb.Build()
		require.ErrorContains(t, err, `Kafka sinks ["KSTREAM-SINK-0000000001"]`)
	})
	t.Run("two offset owners", func(t *testing.T) {
		b := topology.NewBuilder()
		src := topology.AddSource(b, "in", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
		postgres.Add(b, "db1", s, src)
		postgres.Add(b, "db2", s, src)
		_, err := b.Build()
		require.ErrorContains(t, err, `external sinks ["db1", "db2"] each store the task's input offsets`)
	})
	t.Run("chained through a topic", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		counts := kstream.Stream(sb, []string{"in"}, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()}).
			GroupByKey().Count(kstream.Materialized[string, int64]{Name: "Counts"})
		postgres.To(counts.ToStream().Repartition(), s)
		top, err := sb.Build()
		require.NoError(t, err)
		require.Contains(t, top.Describe().String(), "Processor: KSTREAM-PROCESSOR-")
	})
	t.Run("idempotent beside a store", func(t *testing.T) {
		sb := kstream.NewStreamsBuilder()
		counts := kstream.Stream(sb, []string{"in"}, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()}).
			GroupByKey().Count(kstream.Materialized[string, int64]{Name: "Counts"})
		idem := s
		idem.Mode = postgres.Idempotent
		postgres.To(counts.ToStream(), idem)
		_, err := sb.Build()
		require.NoError(t, err)
	})
	t.Run("bad config", func(t *testing.T) {
		b := topology.NewBuilder()
		src := topology.AddSource(b, "in", topology.Source[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()})
		postgres.Add(b, "db", postgres.Sink[string, int64]{Write: insertEvent}, src)
		_, err := b.Build()
		require.ErrorContains(t, err, `external sink "db": postgres sink: Pool is nil`)
	})
}
