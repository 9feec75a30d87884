// Package runtime runs a topology on Kafka for the streams package, split
// the way Kafka Streams splits its runtime, with one owner per piece of
// state:
//
//   - Runtime (Kafka Streams' KafkaStreams client): plans and creates the
//     app's topics, holds the app's state directory lock, runs the stream
//     threads and keeps the app's State; supervise decides what happens
//     when a thread fails (Hooks.OnUncaughtError: replace the thread, stop
//     this instance, or stop every instance through the group).
//   - StreamThread: one consumer-group member and its poll loop, with an
//     explicit ThreadState.
//   - TaskManager: the thread's tasks by id and by input partition, the
//     assigned/revoked/lost handling, and everything the rebalance
//     callbacks touch, behind one lock. A revocation has one path: the
//     committer commits what it can of the tasks (release), then they are
//     closed, clean (checkpointed) or not.
//   - committer, one per guarantee (atMostOnce, atLeastOnce, exactlyOnce)
//     behind one interface; exactlyOnce owns the transaction session.
//   - ChangelogReader: restoration of the tasks' stores and their
//     checkpoints, and the standby tasks, which follow their stores'
//     changelogs through it until promoted (Promote restores the tail).
//   - GlobalStreamThread (with globalStateManager and task.GlobalTask, as
//     Kafka Streams' GlobalStreamThread, GlobalStateManager and
//     GlobalStateUpdateTask): the global stores, restored to their topics'
//     ends before any stream thread starts, then kept up to date on a
//     goroutine of their own, which Run starts and stops after the stream
//     threads; its failure stops the instance.
//   - RecordCollector: the sinks' output, the partitioner, produce errors
//     and the production handler.
//   - External sinks (topology.AddExternalSink, sink/postgres): every
//     committer commits them after the Kafka output is flushed and before
//     the offsets commit or the transaction ends (commitExternal, which
//     retries a processor.Retriable failure for Config.TaskTimeout); a
//     sink that stores its input offsets is where its sub-topology's
//     partitions start (storedOffsets, in the group's
//     AdjustFetchOffsetsFn), and under exactly-once an aborted
//     transaction takes its task back to what the sink committed, not to
//     the transaction's start.
//   - taskBalancer: the group's assignor, which assigns tasks, not
//     partitions, to instances as Kafka Streams' high-availability
//     assignor does (assignHA: lag-aware, sticky, standbys and warm-ups on
//     other instances, probing rebalances), then to their threads
//     (spreadOverThreads); subscriptions carry each instance's process id,
//     standby tasks and changelog positions, assignments the task owners,
//     the replica hosts, each member's standbys and the application
//     shutdown request.
//
// GroupClient, Transactions, ChangelogConsumer and Admin are the small
// interfaces over franz-go the loop needs, so that the commit and rebalance
// logic can be tested without a broker (see the fakes in the tests).
//
// # Goroutines and locks
//
// A thread's loop runs on its own goroutine; franz-go runs the rebalance
// callbacks on its group goroutine. With kgo.BlockRebalanceOnPoll a
// callback never runs between a non-empty poll and AllowRebalance, but it
// can run during a poll, during the restore poll, after an empty poll, and
// while an exactly-once transaction ends (End needs a lock of franz-go's
// that the callbacks hold, so the loop lets go of the TaskManager's lock
// for End; a task revoked meanwhile is closed without its transaction's
// writes, which the session aborts, or which its store restores from the
// changelog next time). Lock order, where more than one is held:
//
//	TaskManager.mu → Runtime.mu → StreamThread.mu
//	TaskManager.mu → the app's subscription and query registries (Hooks)
//	RecordCollector.mu is taken alone.
//
// The balancer's calls that run inside franz-go's join and sync
// (threadBalancer.JoinGroupMetadata and ParseSyncAssignment) hold
// franz-go's group lock, which a commit of the loop waits for while the
// loop holds TaskManager.mu: they never take TaskManager.mu. What a
// subscription says of the thread's tasks is a snapshot the loop
// publishes (publishHeld), and an assignment's standby tasks are handed
// to the loop (setStandbys, applied by reconcileStandbys). Taking the
// lock there deadlocked a thread against its own commit.
//
// # Where this differs from Kafka Streams
//
//   - The rebalance callbacks run on franz-go's goroutine, not inside the
//     thread's poll, hence the TaskManager's lock.
//   - Under exactly-once, franz-go's transaction session aborts a
//     transaction during which the group revoked partitions; Kafka Streams
//     commits it in its revocation handler instead. The work is redone from
//     the last commit, exactly once either way.
//   - ShutdownApplication is sent by a short-lived member that joins the
//     group with the request in its subscription; Kafka Streams sends it
//     through a live thread's consumer. Either way every member's
//     assignment carries it.
//   - A source's OffsetReset applies to partitions with no committed
//     offset; a committed offset that is out of range resets to the app's
//     Config.OffsetReset (franz-go has one reset offset per client).
//   - A task directory held by another thread of the process (a task that
//     moved between threads while its old owner closes it) is waited for,
//     up to 10 s, inside the assignment callback; Kafka Streams retries in
//     its poll loop.
package runtime
