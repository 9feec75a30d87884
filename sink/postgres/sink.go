package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/topology"
)

// Mode is how a sink makes its writes take effect once.
type Mode int

const (
	// ExactlyOnce stores the task's input offsets in the database, in the
	// transaction of the records' statements, and starts the task from
	// them.
	ExactlyOnce Mode = iota
	// Idempotent stores no offsets: the records since the last commit are
	// written again after a crash (at least once), and the statements must
	// ignore what they applied already (see Upsert).
	Idempotent
)

func (m Mode) String() string {
	switch m {
	case ExactlyOnce:
		return "ExactlyOnce"
	case Idempotent:
		return "Idempotent"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultOffsetsTable is the table where an ExactlyOnce sink stores the
// offsets, unless Sink.OffsetsTable names another.
const DefaultOffsetsTable = "streams_offsets"

// DefaultMaxBatch is Sink.MaxBatch's default.
const DefaultMaxBatch = 10_000

// Sink writes the records of a stream into PostgreSQL. Its zero value is
// not usable: Pool and Write are required.
type Sink[K, V any] struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Write turns one record into its statements and rows, which it adds
	// to b. It runs on the task's goroutine; nothing reaches the database
	// before the task's commit. An error fails the record as a processing
	// error (Config.OnProcessingError decides), and what Write added for
	// it is dropped. Required.
	Write func(b *Batch, rec processor.Record[K, V]) error
	// Mode is ExactlyOnce (the default) or Idempotent.
	Mode Mode
	// OffsetsTable is where ExactlyOnce stores the offsets, created if it
	// does not exist; "schema.table" names a schema. Default
	// DefaultOffsetsTable.
	OffsetsTable string
	// MaxBatch is how many statements and rows a task collects before it
	// asks for a commit, so that a batch stays bounded whatever the commit
	// interval. Default DefaultMaxBatch.
	MaxBatch int
}

// Add adds the sink below parents as the node name (Processor API).
func Add[K, V any](b *topology.Builder, name string, s Sink[K, V], parents ...topology.Node[K, V]) {
	topology.AddExternalSink(b, name, s.External(), parents...)
}

// To writes the stream to the sink (kstream); the stream ends there.
func To[K, V any](stream kstream.KStream[K, V], s Sink[K, V], named ...kstream.Named) {
	stream.ToExternal(s.External(), named...)
}

// External returns the sink as a topology.ExternalSink, for
// topology.AddExternalSink and KStream.ToExternal (Add and To call it).
func (s Sink[K, V]) External() topology.ExternalSink[K, V] {
	if s.OffsetsTable == "" {
		s.OffsetsTable = DefaultOffsetsTable
	}
	if s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	ext := topology.ExternalSink[K, V]{System: "PostgreSQL"}
	offsets, err := newOffsetsTable(s.OffsetsTable)
	switch {
	case s.Pool == nil:
		ext.Err = errors.New("postgres sink: Pool is nil")
	case s.Write == nil:
		ext.Err = errors.New("postgres sink: Write is nil; give a function that adds each record's statements to the batch")
	case s.Mode != ExactlyOnce && s.Mode != Idempotent:
		ext.Err = fmt.Errorf("postgres sink: Mode %v is not ExactlyOnce or Idempotent", s.Mode)
	case s.MaxBatch < 0:
		ext.Err = fmt.Errorf("postgres sink: MaxBatch is %d; use 0 for the default, or a positive count", s.MaxBatch)
	case err != nil:
		ext.Err = err
	}
	if ext.Err != nil {
		return ext
	}
	offsets.pool = s.Pool
	ext.Supplier = func() processor.Processor[K, V, struct{}, struct{}] {
		return &sinkProcessor[K, V]{s: s, offsets: offsets, batch: Batch{mode: s.Mode}}
	}
	if s.Mode == ExactlyOnce {
		ext.StoredOffsets = offsets.read
	}
	return ext
}

// Batch collects the statements and rows of the records a task processed
// since its last commit, in order. Sink.Write adds to it.
type Batch struct {
	mode Mode
	ops  []op
	rows int
	// rec is the input record being written.
	rec processor.RecordMetadata
	// copyTable is the table name Copy parsed last, into copyID: the rows
	// of one table share its identifier rather than each parse the name
	// (an allocation per row).
	copyTable string
	copyID    pgx.Identifier
}

type op struct {
	sql  string
	args []any
	// copy, when set, is a row for COPY into table (sql is unused).
	table   pgx.Identifier
	columns []string
	rec     processor.RecordMetadata
}

// Queue adds a statement with its arguments ($1, $2, ...).
func (b *Batch) Queue(sql string, args ...any) {
	b.ops = append(b.ops, op{sql: sql, args: args, rec: b.rec})
}

// Copy adds a row for table, sent with COPY FROM with the consecutive
// rows of the same table and columns: the fastest way in for an
// insert-only table. COPY cannot skip a row applied already, so it is for
// ExactlyOnce sinks only.
func (b *Batch) Copy(table string, columns []string, values ...any) error {
	if b.mode != ExactlyOnce {
		return fmt.Errorf("postgres sink: Copy into %q in %v mode: COPY cannot skip a row it applied already; use Queue with an idempotent statement (Upsert)", table, b.mode)
	}
	if len(columns) != len(values) {
		return fmt.Errorf("postgres sink: Copy into %q: %d columns but %d values", table, len(columns), len(values))
	}
	if b.copyID == nil || table != b.copyTable {
		id, err := parseIdentifier(table)
		if err != nil {
			return err
		}
		b.copyTable, b.copyID = table, id
	}
	b.ops = append(b.ops, op{table: b.copyID, columns: columns, args: values, rec: b.rec})
	b.rows++
	return nil
}

// Record is where the record being written comes from: its topic,
// partition and offset.
func (b *Batch) Record() processor.RecordMetadata { return b.rec }

// Len is the number of statements and rows in the batch.
func (b *Batch) Len() int { return len(b.ops) }

func (b *Batch) reset() {
	clear(b.ops)
	b.ops, b.rows = b.ops[:0], 0
}

// sinkProcessor is one task's instance of a sink.
type sinkProcessor[K, V any] struct {
	s       Sink[K, V]
	offsets *offsetsTable
	ctx     processor.Context[struct{}, struct{}]
	appID   string
	batch   Batch
	// first is, per input partition, the offset of the first record
	// written since the last commit: the stored offset a commit replaces
	// must not be past it (see offsetsTable.upsert).
	first map[processor.TopicPartition]int64
	// committed are the offsets of the last commit.
	committed map[processor.TopicPartition]int64
}

func (p *sinkProcessor[K, V]) Init(ctx processor.Context[struct{}, struct{}]) error {
	p.ctx, p.appID = ctx, ctx.ApplicationID()
	p.first = map[processor.TopicPartition]int64{}
	return nil
}

func (p *sinkProcessor[K, V]) Process(rec processor.Record[K, V]) error {
	md, ok := p.ctx.RecordMetadata()
	if !ok {
		md = processor.NoRecord
	}
	p.batch.rec = md
	n, rows := len(p.batch.ops), p.batch.rows
	if err := p.s.Write(&p.batch, rec); err != nil {
		clear(p.batch.ops[n:])
		p.batch.ops, p.batch.rows = p.batch.ops[:n], rows
		return err
	}
	if md.Offset >= 0 {
		tp := processor.TopicPartition{Topic: md.Topic, Partition: md.Partition}
		if _, seen := p.first[tp]; !seen {
			p.first[tp] = md.Offset
		}
	}
	if len(p.batch.ops) >= p.s.MaxBatch {
		p.ctx.Commit()
	}
	return nil
}

// Close drops what was not committed: the records are read again.
func (p *sinkProcessor[K, V]) Close() error {
	p.batch.reset()
	return nil
}

// CommitExternal implements processor.ExternalCommitter.
func (p *sinkProcessor[K, V]) CommitExternal(ctx context.Context, offsets map[processor.TopicPartition]int64) error {
	eo := p.s.Mode == ExactlyOnce
	if len(p.batch.ops) == 0 && (!eo || maps.Equal(offsets, p.committed)) {
		return nil
	}
	if eo {
		if err := p.offsets.ensure(ctx); err != nil {
			return err
		}
	}
	err := p.commit(ctx, offsets)
	if errors.Is(err, errFenced) {
		// Either another instance committed these partitions (this one is
		// a zombie), or an earlier try of this very commit did and its
		// outcome was lost with the connection: then the stored offsets are
		// the ones this commit writes.
		stored, rerr := p.offsets.read(ctx, p.appID, keys(offsets))
		if rerr != nil {
			return rerr
		}
		if !maps.Equal(stored, offsets) {
			return fmt.Errorf("%w: stored %v, this task's %v", err, stored, offsets)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	p.batch.reset()
	clear(p.first)
	p.committed = maps.Clone(offsets)
	return nil
}

// errFenced is what a commit fails with when the stored offsets of its
// partitions are past the records it writes.
var errFenced = errors.New("postgres sink: the offsets table holds offsets past this task's records: another instance committed its partitions since (this one was given up by the group), so this one must not")

// commit runs the batch, and in ExactlyOnce mode the offsets, in one
// transaction.
func (p *sinkProcessor[K, V]) commit(ctx context.Context, offsets map[processor.TopicPartition]int64) error {
	tx, err := p.s.Pool.Begin(ctx)
	if err != nil {
		return classify(fmt.Errorf("postgres sink: beginning a transaction: %w", err), false)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	closed := func() bool { return tx.Conn().IsClosed() }

	var pb pgx.Batch
	// kinds says, per queued statement, which op it is (-1 for an offset).
	var kinds []int
	if p.s.Mode == ExactlyOnce {
		for _, tp := range keys(offsets) {
			from, ok := p.first[tp]
			if !ok {
				from = offsets[tp]
			}
			pb.Queue(p.offsets.upsertSQL, p.appID, tp.Topic, tp.Partition, offsets[tp], from)
			kinds = append(kinds, -1)
		}
	}
	send := func() error {
		if len(kinds) == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, &pb)
		for _, k := range kinds {
			ct, err := br.Exec()
			if err != nil {
				_ = br.Close()
				if strings.Contains(err.Error(), "preprocessing batch") {
					// pgx prepares the batch's statements before it runs
					// any, and its error does not say which failed.
					k = p.culprit(ctx, kinds, k)
				}
				if k < 0 {
					return classify(fmt.Errorf("postgres sink: writing the offsets to %s: %w", p.offsets.name, err), closed())
				}
				o := p.batch.ops[k]
				return classify(fmt.Errorf("postgres sink: statement %q for record %s-%d@%d: %w",
					abbreviate(o.sql), o.rec.Topic, o.rec.Partition, o.rec.Offset, err), closed())
			}
			if k < 0 && ct.RowsAffected() == 0 {
				_ = br.Close()
				return errFenced
			}
		}
		if err := br.Close(); err != nil {
			return classify(fmt.Errorf("postgres sink: %w", err), closed())
		}
		pb, kinds = pgx.Batch{}, kinds[:0]
		return nil
	}
	ops := p.batch.ops
	for i := 0; i < len(ops); i++ {
		o := ops[i]
		if o.table == nil {
			pb.Queue(o.sql, o.args...)
			kinds = append(kinds, i)
			continue
		}
		if err := send(); err != nil {
			return err
		}
		j := i + 1
		for j < len(ops) && ops[j].table != nil && sameTarget(ops[j], o) {
			j++
		}
		rows := make([][]any, 0, j-i)
		for _, r := range ops[i:j] {
			rows = append(rows, r.args)
		}
		if _, err := tx.CopyFrom(ctx, o.table, o.columns, pgx.CopyFromRows(rows)); err != nil {
			return classify(fmt.Errorf("postgres sink: COPY of %d rows into %s (records from %s-%d@%d): %w",
				len(rows), o.table.Sanitize(), o.rec.Topic, o.rec.Partition, o.rec.Offset, err), closed())
		}
		i = j - 1
	}
	if err := send(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(fmt.Errorf("postgres sink: committing: %w", err), true)
	}
	return nil
}

// culprit finds the statement of the batch that PostgreSQL cannot
// prepare, by preparing each on a connection of its own (which runs
// nothing), for an error message that names it; def if none fails.
func (p *sinkProcessor[K, V]) culprit(ctx context.Context, kinds []int, def int) int {
	c, err := p.s.Pool.Acquire(ctx)
	if err != nil {
		return def
	}
	defer c.Release()
	seen := map[string]bool{}
	for _, k := range kinds {
		sql := p.offsets.upsertSQL
		if k >= 0 {
			sql = p.batch.ops[k].sql
		}
		if seen[sql] {
			continue
		}
		seen[sql] = true
		if _, err := c.Conn().Prepare(ctx, "", sql); err != nil {
			return k
		}
	}
	return def
}

func sameTarget(a, b op) bool {
	return slices.Equal(a.table, b.table) && slices.Equal(a.columns, b.columns)
}

func abbreviate(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 120 {
		return sql[:117] + "..."
	}
	return sql
}

// offsetsTable is an ExactlyOnce sink's table of offsets, shared by the
// sink's tasks.
type offsetsTable struct {
	pool               *pgxpool.Pool
	name               string
	createSQL          string
	upsertSQL, readSQL string
	mu                 struct {
		sync.Mutex
		created bool
	}
}

func newOffsetsTable(name string) (*offsetsTable, error) {
	id, err := parseIdentifier(name)
	if err != nil {
		return nil, err
	}
	t := id.Sanitize()
	return &offsetsTable{
		name: t,
		createSQL: `CREATE TABLE IF NOT EXISTS ` + t + ` (
	application_id text NOT NULL,
	topic text NOT NULL,
	partition integer NOT NULL,
	next_offset bigint NOT NULL,
	committed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (application_id, topic, partition))`,
		// The update applies only if the stored offset is not past the
		// first record this commit writes ($5): a zombie's commit, or a
		// retry of a commit that did commit, updates nothing.
		upsertSQL: `INSERT INTO ` + t + ` AS o (application_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
	ON CONFLICT (application_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, committed_at = now()
	WHERE o.next_offset <= $5`,
		readSQL: `SELECT topic, partition, next_offset FROM ` + t + ` WHERE application_id = $1`,
	}, nil
}

// ensure creates the table once per process.
func (t *offsetsTable) ensure(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.created {
		return nil
	}
	if _, err := t.pool.Exec(ctx, t.createSQL); err != nil && !alreadyExists(err) {
		return classify(fmt.Errorf("postgres sink: creating the offsets table %s: %w", t.name, err), false)
	}
	t.mu.created = true
	return nil
}

// read returns the stored offsets of partitions.
func (t *offsetsTable) read(ctx context.Context, appID string, partitions []processor.TopicPartition) (map[processor.TopicPartition]int64, error) {
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	all, err := t.readAll(ctx, appID)
	if err != nil {
		return nil, classify(err, false)
	}
	out := map[processor.TopicPartition]int64{}
	for _, tp := range partitions {
		if off, ok := all[tp]; ok {
			out[tp] = off
		}
	}
	return out, nil
}

// readAll returns every offset stored for appID.
func (t *offsetsTable) readAll(ctx context.Context, appID string) (map[processor.TopicPartition]int64, error) {
	rows, err := t.pool.Query(ctx, t.readSQL, appID)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: reading the offsets from %s: %w", t.name, err)
	}
	out := map[processor.TopicPartition]int64{}
	var tp processor.TopicPartition
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &off}, func() error {
		out[tp] = off
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres sink: reading the offsets from %s: %w", t.name, err)
	}
	return out, nil
}

// StoredOffsets returns the offsets an ExactlyOnce sink stored in table
// (DefaultOffsetsTable if empty) for the application appID: per input
// partition, the offset of the next record to read.
func StoredOffsets(ctx context.Context, pool *pgxpool.Pool, table, appID string) (map[processor.TopicPartition]int64, error) {
	if table == "" {
		table = DefaultOffsetsTable
	}
	t, err := newOffsetsTable(table)
	if err != nil {
		return nil, err
	}
	t.pool = pool
	return t.readAll(ctx, appID)
}

func parseIdentifier(name string) (pgx.Identifier, error) {
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("postgres sink: table name %q: want table or schema.table", name)
		}
	}
	if len(parts) > 2 {
		return nil, fmt.Errorf("postgres sink: table name %q: want table or schema.table", name)
	}
	return pgx.Identifier(parts), nil
}

func keys(m map[processor.TopicPartition]int64) []processor.TopicPartition {
	out := make([]processor.TopicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	// A fixed order, so that two tasks never lock rows in opposite orders.
	sortPartitions(out)
	return out
}
