// Package eos holds the delivery guarantees an App can run under, and
// documents the exactly-once protocol the App runs for ExactlyOnce.
//
//   - AtMostOnce: consumed offsets are committed before the records are
//     processed. A crash loses the records that were committed but not yet
//     processed; nothing is ever processed twice.
//   - AtLeastOnce (the default): a commit first flushes the stores and waits
//     for every produced record to be acknowledged, then commits the offsets
//     of the records processed. A crash re-processes what was processed after
//     the last commit; nothing is lost.
//   - ExactlyOnce: output, changelog writes and consumed offsets are committed
//     in one Kafka transaction, every CommitInterval (100 ms by default).
//
// # The exactly-once protocol
//
// Each stream thread has one transactional producer, its transactional.id
// <application.id>-<process id>-<thread index>; the process id is kept in
// <state.dir>/<application.id>/.process-id, so an instance restarted on its
// state directory fences its predecessor and aborts what it left open when
// it starts. Consumers read read_committed and fetch offsets with
// require_stable (KIP-447). A commit:
//
//  1. sends every store's writes since the last commit to its changelog topic
//     (the stores keep them in memory until then, and the task reads them
//     back);
//  2. flushes the producer: a record the broker rejected aborts the
//     transaction, which never commits without it;
//  3. adds the consumed offsets to the transaction with the consumer group's
//     metadata (generation and member id: sendOffsetsToTransaction) and
//     commits it;
//  4. only then applies the writes to the stores: a RocksDB store writes them
//     in one write batch together with the changelog offset they bring it to.
//
// A rebalance waits for the commit that ends the open transaction, so a task
// is only given up with its work committed.
//
// # When something fails
//
//   - A processing error that the handler does not skip aborts the
//     transaction and stops the app; the next run starts from the last commit.
//   - A transaction that aborts (a rebalance or a group error at commit, a
//     rejected record) takes every task of the thread back to its last
//     commit: the stores drop their uncommitted writes, the processors are
//     made anew, the input partitions are rewound. Nothing is restored.
//   - A producer that is fenced (a zombie: another instance took its
//     transactional id), or a transaction whose end failed so that the client
//     cannot know how it ended (a timeout), restarts the thread: its tasks
//     close without committing, and a new producer, whose initialization
//     settles the old transaction, rejoins the group; the tasks restore
//     whatever the cluster committed. Zombies of the consumer group (a member
//     that stalled past its session) are fenced by the group generation
//     (KIP-447): their offset commit fails, so their transaction aborts.
//   - Ten aborts or restarts in a row without a commit fail the app.
//
// # State after a crash
//
// Kafka Streams wipes and fully restores a task's state after an unclean
// shutdown under exactly-once. Here a store's backend only ever holds
// committed writes, and a RocksDB store keeps, atomically with them, the
// changelog offset they reflect (its write-ahead log is on under
// ExactlyOnce, unsynced: a killed process loses nothing the operating system
// has). After kill -9 a task restores only the committed tail of its
// changelog from that offset; an in-memory store restores its whole
// changelog, as it always does.
//
// # Limits
//
//   - Exactly once covers what the app reads from and writes to Kafka, and
//     its stores. A processor's side effects elsewhere (a call to another
//     service) happen again when a transaction is redone.
//   - A processor should keep its state in stores: its in-memory fields are
//     lost when a transaction aborts (it is made anew), as after a crash.
//   - Stream time and punctuation schedules start afresh when a task is
//     revived or restarted; a stream-time punctuation that ran in an aborted
//     transaction runs again.
//   - Readers of the output see it only when they read read_committed, and
//     only once the transaction commits: end-to-end latency is about the
//     commit interval.
//   - A crashed instance that is not restarted holds up read_committed
//     readers of the partitions it wrote to until its transaction times out
//     (Config.TransactionTimeout, 10 s by default).
//   - Two instances must not share a state directory: they would share
//     transactional ids and fence each other.
package eos
