package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ResetOffsets deletes the offsets an ExactlyOnce sink stored in table
// (DefaultOffsetsTable if empty) for the application appID, so that its
// tasks start from the consumer group's offsets (or their reset) again. The
// stored offsets are positions in the topics of one Kafka cluster: call it
// when the app moves to another cluster, or its input topics are deleted
// and made anew, as part of resetting the application. It is not for a
// running app. A missing table is no error.
func ResetOffsets(ctx context.Context, pool *pgxpool.Pool, table, appID string) error {
	if table == "" {
		table = DefaultOffsetsTable
	}
	t, err := newOffsetsTable(table)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `DELETE FROM `+t.name+` WHERE application_id = $1`, appID); err != nil && !undefinedTable(err) {
		return fmt.Errorf("postgres sink: resetting the offsets of %q in %s: %w", appID, t.name, err)
	}
	return nil
}
