package postgres_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gostreams/streams/internal/pgtest"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/sink/postgres"
	"github.com/gostreams/streams/state"
)

// BenchmarkSink measures the sink's throughput (rows/s) beside a
// hand-written pgx insert of the same rows, on the package's shared
// server; `make bench-sink` runs it in rounds and prints each sink
// variant's ratio to its baseline (internal/benchratio). One op is one
// row: rows (topic, partition, offset, key, value) into a table keyed by
// the first three, committed every benchCommit rows (one task commit's
// worth) in a transaction of their own. Before each run the table is
// emptied and checkpointed, and autovacuum is off for it, so that no run
// inherits the previous one's dirty pages or vacuum.
//
// The sink runs its real code path without the runtime around it: the
// benchmark makes its processor with the supplier, initializes it with a
// fake processor.Context that reports each record's metadata, processes
// every record, and calls CommitExternal every benchCommit records, as a
// task's commit would. (The test driver commits after every record, which
// is no batch.)
//
//	Sink/ExactlyOnce/Queue    one INSERT per record, Batch.Queue; the offsets upsert in the same pgx.Batch
//	Sink/ExactlyOnce/Copy     Batch.Copy, one COPY per commit; the offsets upsert in a pgx.Batch before it
//	Sink/Idempotent/Upsert    Upsert.Queue (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE), no offsets
//	Sink/Hand/Batch           baseline of Queue: one pgx.Batch of the same INSERTs per transaction
//	Sink/Hand/CopyFrom        baseline of Copy: tx.CopyFrom of the same rows per transaction
//	Sink/Hand/BatchUpsert     baseline of Upsert: one pgx.Batch of the same upsert statements per transaction
func BenchmarkSink(b *testing.B) {
	srv := pgtest.Shared(b)
	pool := srv.Pool(b, srv.NewDatabase(b))
	ctx := context.Background()
	for _, ddl := range []string{benchEventsDDL, benchUpsertsDDL} {
		if _, err := pool.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
	}
	up := &postgres.Upsert{Table: "upserts", Key: []string{"topic", "part", "off"}, Columns: []string{"k", "v"}}
	if err := up.Prepare(); err != nil {
		b.Fatal(err)
	}

	queue := func(bt *postgres.Batch, rec processor.Record[string, int64]) error {
		md := bt.Record()
		bt.Queue(benchInsertSQL, md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
		return nil
	}
	copyRow := func(bt *postgres.Batch, rec processor.Record[string, int64]) error {
		md := bt.Record()
		return bt.Copy("events", benchColumns, md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
	}
	upsert := func(bt *postgres.Batch, rec processor.Record[string, int64]) error {
		md := bt.Record()
		return up.Queue(bt, []any{md.Topic, md.Partition, md.Offset}, []any{rec.Key, rec.Value})
	}

	handBatch := func(ctx context.Context, tx pgx.Tx, from, to int) error {
		var pb pgx.Batch
		for i := from; i < to; i++ {
			pb.Queue(benchInsertSQL, benchTopic, benchPartition, int64(i), benchKey(i), int64(i))
		}
		return tx.SendBatch(ctx, &pb).Close()
	}
	handCopy := func(ctx context.Context, tx pgx.Tx, from, to int) error {
		rows := make([][]any, 0, to-from)
		for i := from; i < to; i++ {
			rows = append(rows, []any{benchTopic, benchPartition, int64(i), benchKey(i), int64(i)})
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, benchColumns, pgx.CopyFromRows(rows))
		return err
	}
	handUpsert := func(ctx context.Context, tx pgx.Tx, from, to int) error {
		var pb pgx.Batch
		for i := from; i < to; i++ {
			pb.Queue(up.SQL(), benchTopic, benchPartition, int64(i), benchKey(i), int64(i), benchPartition, int64(i))
		}
		return tx.SendBatch(ctx, &pb).Close()
	}

	// A warm-up, so that the first variant measured does not pay alone
	// for a cold connection and server.
	for from := 0; from < 5*benchCommit; from += benchCommit {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return handBatch(ctx, tx, from, from+benchCommit) }); err != nil {
			b.Fatal(err)
		}
	}

	// Each variant runs beside its baseline, so that the two see the same
	// load of a shared machine; -sink.baselinefirst swaps each pair, so
	// that rounds alternating it (make bench-sink) cancel an order bias.
	pairs := []struct {
		sink, hand string
		runSink    func(*testing.B)
		runHand    func(*testing.B)
	}{
		{"ExactlyOnce/Queue", "Hand/Batch",
			func(b *testing.B) {
				benchSink(b, pool, "events", postgres.Sink[string, int64]{Pool: pool, Write: queue})
			},
			func(b *testing.B) { benchHand(b, pool, "events", handBatch) }},
		{"ExactlyOnce/Copy", "Hand/CopyFrom",
			func(b *testing.B) {
				benchSink(b, pool, "events", postgres.Sink[string, int64]{Pool: pool, Write: copyRow})
			},
			func(b *testing.B) { benchHand(b, pool, "events", handCopy) }},
		{"Idempotent/Upsert", "Hand/BatchUpsert",
			func(b *testing.B) {
				benchSink(b, pool, "upserts", postgres.Sink[string, int64]{Pool: pool, Mode: postgres.Idempotent, Write: upsert})
			},
			func(b *testing.B) { benchHand(b, pool, "upserts", handUpsert) }},
	}
	for _, p := range pairs {
		if *benchBaselineFirst {
			b.Run(p.hand, p.runHand)
			b.Run(p.sink, p.runSink)
		} else {
			b.Run(p.sink, p.runSink)
			b.Run(p.hand, p.runHand)
		}
	}
}

const (
	// benchCommit is how many records a commit writes.
	benchCommit = 1000

	benchEventsDDL  = `CREATE TABLE events (topic text, part int, off bigint, k text, v bigint, PRIMARY KEY (topic, part, off)) WITH (autovacuum_enabled = off)`
	benchUpsertsDDL = `CREATE TABLE upserts (topic text, part int, off bigint, k text, v bigint, last_partition int NOT NULL, last_offset bigint NOT NULL, PRIMARY KEY (topic, part, off)) WITH (autovacuum_enabled = off)`
	benchInsertSQL  = `INSERT INTO events (topic, part, off, k, v) VALUES ($1, $2, $3, $4, $5)`
)

var benchBaselineFirst = flag.Bool("sink.baselinefirst", false, "BenchmarkSink: run each baseline before its sink variant rather than after")

var benchColumns = []string{"topic", "part", "off", "k", "v"}

// benchTopic and benchPartition are where the records come from. They are
// variables, not constants, so that the hand-written writes box them into
// their arguments as the sink's Write boxes a record's metadata.
var (
	benchTopic     = "in"
	benchPartition = int32(0)
)

// benchKeys are the records' keys, made once so that neither side pays
// for formatting them.
var benchKeys = func() []string {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("customer-%04d", i)
	}
	return keys
}()

func benchKey(i int) string { return benchKeys[i%len(benchKeys)] }

// benchReset empties table and checkpoints, so that every run writes its
// rows into the same empty table with no dirty pages of the run before.
func benchReset(b *testing.B, pool *pgxpool.Pool, table string) {
	b.Helper()
	ctx := context.Background()
	for _, sql := range []string{`TRUNCATE ` + table, `CHECKPOINT`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRuns numbers the sink's runs, each an application of its own: its
// offsets start from 0 in the offsets table, which the runs share.
var benchRuns atomic.Int64

// benchCheck fails b unless table holds b.N rows.
func benchCheck(b *testing.B, pool *pgxpool.Pool, table string) {
	b.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("%s holds %d rows; want %d", table, n, b.N)
	}
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchSink writes b.N records through s's processor, with a commit every
// benchCommit records and one at the end.
func benchSink(b *testing.B, pool *pgxpool.Pool, table string, s postgres.Sink[string, int64]) {
	benchReset(b, pool, table)
	ext := s.External()
	if ext.Err != nil {
		b.Fatal(ext.Err)
	}
	proc := ext.Supplier()
	pctx := &benchContext{appID: fmt.Sprintf("bench-%d", benchRuns.Add(1))}
	if err := proc.Init(pctx); err != nil {
		b.Fatal(err)
	}
	committer, ok := proc.(processor.ExternalCommitter)
	if !ok {
		b.Fatalf("the sink's processor %T is no processor.ExternalCommitter", proc)
	}
	ctx := context.Background()
	tp := processor.TopicPartition{Topic: benchTopic, Partition: benchPartition}
	offsets := map[processor.TopicPartition]int64{tp: 0}
	commit := func(next int) {
		offsets[tp] = int64(next)
		if err := committer.CommitExternal(ctx, offsets); err != nil {
			b.Fatal(err)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		pctx.md = processor.RecordMetadata{Topic: benchTopic, Partition: benchPartition, Offset: int64(i)}
		if err := proc.Process(processor.Record[string, int64]{Key: benchKey(i), Value: int64(i)}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%benchCommit == 0 {
			commit(i + 1)
		}
	}
	if b.N%benchCommit != 0 {
		commit(b.N)
	}
	b.StopTimer()
	reportRows(b)
	if err := proc.Close(); err != nil {
		b.Fatal(err)
	}
	benchCheck(b, pool, table)
	if s.Mode == postgres.ExactlyOnce {
		stored, err := postgres.StoredOffsets(ctx, pool, "", pctx.appID)
		if err != nil {
			b.Fatal(err)
		}
		if stored[tp] != int64(b.N) {
			b.Fatalf("stored offsets %v; want %s-%d at %d", stored, tp.Topic, tp.Partition, b.N)
		}
	}
}

// benchHand writes b.N rows by hand, write writing rows [from, to) in tx,
// a transaction per benchCommit rows.
func benchHand(b *testing.B, pool *pgxpool.Pool, table string, write func(ctx context.Context, tx pgx.Tx, from, to int) error) {
	benchReset(b, pool, table)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for from := 0; from < b.N; from += benchCommit {
		tx, err := pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := write(ctx, tx, from, min(from+benchCommit, b.N)); err != nil {
			_ = tx.Rollback(ctx)
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRows(b)
	benchCheck(b, pool, table)
}

// benchContext is the least of a task's processor.Context that the sink
// needs: the metadata of the record being processed, the application id.
type benchContext struct {
	appID string
	md    processor.RecordMetadata
}

func (c *benchContext) RecordMetadata() (processor.RecordMetadata, bool) { return c.md, true }
func (c *benchContext) ApplicationID() string                            { return c.appID }
func (c *benchContext) TaskID() processor.TaskID                         { return processor.TaskID{} }
func (c *benchContext) Commit()                                          {} // the benchmark commits every benchCommit records
func (c *benchContext) Logger() *slog.Logger                             { return slog.New(slog.DiscardHandler) }
func (c *benchContext) StreamTime() time.Time                            { return time.Time{} }
func (c *benchContext) WallClockTime() time.Time                         { return time.Now() }
func (c *benchContext) StateDir() string                                 { return "" }
func (c *benchContext) DroppedRecord()                                   {}
func (c *benchContext) Forward(processor.Record[struct{}, struct{}]) error {
	return errors.New("bench: a sink forwards nothing")
}
func (c *benchContext) ForwardTo(string, processor.Record[struct{}, struct{}]) error {
	return errors.New("bench: a sink forwards nothing")
}
func (c *benchContext) Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) (processor.Cancellable, error) {
	return nil, errors.New("bench: no punctuation")
}
func (c *benchContext) StateStore(name string) (state.Store, error) {
	return nil, fmt.Errorf("bench: store %q: %w", name, processor.ErrUnknownStore)
}

var _ processor.Context[struct{}, struct{}] = (*benchContext)(nil)
