// Package postgres is a sink that writes a stream into PostgreSQL, exactly
// once or idempotently, on github.com/jackc/pgx/v5.
//
// The user gives a pool and a function, Sink.Write, that turns each record
// into SQL statements (Batch.Queue) or rows to copy (Batch.Copy). The
// sink owns the transactions: the statements of the records a task
// processed since its last commit are sent, at the task's commit, in one
// pgx.Batch (and COPY for copied rows) inside one database transaction.
// Add a sink with Add (Processor API) or To (kstream).
//
// # Exactly once: the offsets in the database
//
// In ExactlyOnce mode (the default) the transaction also writes the task's
// input offsets, per topic and partition, to a table the sink creates
// (Sink.OffsetsTable, by default streams_offsets, keyed by application id,
// topic and partition). When a task is assigned, its partitions are read
// from the offsets in that table, not from the consumer group's, which the
// runtime still commits afterwards for lag monitoring only. So each input
// record's statements are committed once, whatever is killed and when:
// what a crash loses had not committed in the database and is read again;
// what committed is never read again.
//
// This holds for a sub-topology whose only transactional writer is the
// sink: a state store or a Kafka sink commits in Kafka, the sink in
// PostgreSQL, and there is no two-phase commit between the two. Build
// rejects such a sub-topology. To aggregate and then write the result to
// the database, write the aggregate to a topic and read that topic in the
// sink's own sub-topology (kstream's To and Stream, or Repartition); under
// streams' ExactlyOnce guarantee that topic is read read_committed, so the
// chain is exactly once from end to end. Under AtLeastOnce the topic may
// hold duplicates of the upstream output, which the sink then writes once
// each.
//
// Each commit also checks that the offsets it replaces are not ahead of
// the records it writes: a zombie (an instance the group gave up on that
// still runs) cannot commit over the new owner of its partitions; its
// commit fails. When a commit's outcome is unknown (the connection was lost
// during COMMIT), the retry reads the stored offsets to find out whether it
// committed, and does not apply the statements twice.
//
// The stored offsets are positions in the topics of one Kafka cluster. An
// app moved to another cluster, or whose input topic was deleted and made
// anew, must forget them (ResetOffsets), as part of resetting the
// application: else its tasks would start at offsets of the old topic.
//
// What is not guaranteed: statements whose effects leave the transaction
// (a NOTIFY is fine, it is transactional; a dblink call or a sequence's
// nextval is not rolled back) happen as often as the statement runs; a
// record processed and then rolled back by a failed commit is processed
// again.
//
// # Idempotent mode: at least once, applied once
//
// In Idempotent mode no offsets are stored: the transaction holds the
// statements only, and the task's offsets are committed to the group
// after it, so a crash repeats the records since the last commit. The
// statements must ignore a record they applied already. Upsert makes that
// statement for the common per-key row: it applies a record only if its
// (partition, offset) is newer than the one stored with the row, as
// INSERT ... ON CONFLICT ... DO UPDATE ... WHERE last_offset < $n. It
// assumes that all records of one key come from one partition, as Kafka's
// key partitioning makes them. Idempotent mode allows state stores and
// Kafka sinks beside the sink.
//
// # Failures
//
// A failure that may pass (the server restarting, a lost connection, a
// serialization failure or deadlock, too many connections) is retried by
// the runtime with a backoff for up to the app's Config.TaskTimeout; the
// thread does not process meanwhile. Any other failure (a statement's
// syntax, a constraint violated) fails the stream thread with an error that
// names the statement and the input record it was written for.
package postgres
