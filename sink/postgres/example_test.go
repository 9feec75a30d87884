package postgres_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gostreams/streams/kstream"
	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/sink/postgres"
)

// Orders go into a table exactly once: each commit of a task writes its
// orders and the task's offsets in one transaction. (It needs a database,
// so it has no output to check.)
func ExampleTo() {
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1/shop")
	if err != nil {
		log.Fatal(err)
	}
	sb := kstream.NewStreamsBuilder()
	orders := kstream.Stream(sb, []string{"orders"}, kstream.Consumed[string, int64]{KeySerde: serde.String(), ValueSerde: serde.Int64()})
	postgres.To(orders, postgres.Sink[string, int64]{
		Pool: pool,
		Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
			md := b.Record() // where the record came from: a natural primary key
			b.Queue(`INSERT INTO orders (topic, part, off, customer, cents) VALUES ($1, $2, $3, $4, $5)`,
				md.Topic, md.Partition, md.Offset, rec.Key, rec.Value)
			return nil
		},
	})
	if _, err := sb.Build(); err != nil {
		log.Fatal(err)
	}
}

// At least once, applied once: a per-customer total that a redelivered
// record does not change, since the row remembers the offset of the last
// record it applied.
func ExampleUpsert() {
	var pool *pgxpool.Pool // connected elsewhere
	totals := &postgres.Upsert{
		Table:   "totals", // (customer text PRIMARY KEY, cents bigint, last_partition int, last_offset bigint)
		Key:     []string{"customer"},
		Columns: []string{"cents"},
		Set:     map[string]string{"cents": "totals.cents + EXCLUDED.cents"},
	}
	_ = postgres.Sink[string, int64]{
		Pool: pool,
		Mode: postgres.Idempotent,
		Write: func(b *postgres.Batch, rec processor.Record[string, int64]) error {
			return totals.Queue(b, []any{rec.Key}, []any{rec.Value})
		},
	}
}
