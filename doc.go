// Package streams runs stream-processing topologies on Kafka: Kafka Streams'
// Processor API for Go.
//
// The core types:
//
//   - App: made with New from a topology (package topology) and a Config.
//     Run joins the consumer group Config.ApplicationID and processes until
//     its context is cancelled; Close stops it.
//   - Config: brokers, state directory, stream threads, commit interval,
//     delivery guarantee (package eos), and the handlers that decide what
//     happens to records that fail (DeserializationHandler,
//     ProcessingHandler, ProductionHandler).
//
// # How it runs
//
// Each of Config.NumStreamThreads goroutines is a member of the consumer
// group. The group's balancer assigns tasks, not partitions: task "s_p" is
// partition p of every source topic of sub-topology s, so co-partitioned
// topics are always read together. Rebalancing is cooperative: a task that
// moves is committed and closed by its old owner before its new owner
// opens it, and tasks that do not move never stop. Several processes with
// the same ApplicationID share the work the same way.
//
// The assignment is Kafka Streams' high-availability one: each instance
// reports how far behind its copy of each task's state is, and a stateful
// task moves only to an instance that is caught up
// (Config.AcceptableRecoveryLag), warming one up first where balance wants
// the task elsewhere (Config.MaxWarmupReplicas,
// Config.ProbingRebalanceInterval). With Config.NumStandbyReplicas, every
// stateful task has standby replicas on other instances, which follow its
// stores' changelogs; when the task's instance fails, the task moves to one
// of them and restores only the changelogs' tail. QueryOptions.StaleStores
// reads them; QueryMetadataForKey, AllMetadata and MetadataForStore say
// where the active and standby copies are, and App.LagInfo how far each
// local copy is behind.
//
// At start the app checks that its source topics exist and that the
// co-partitioned ones have the same partition count, and creates its
// internal topics: "<id>-<name>-repartition" for topology.AddRepartition,
// "<id>-<store>-changelog" (compacted) for stores with logging. An existing
// internal topic with the wrong partition count or cleanup policy is an
// error.
//
// A thread polls records, deserializes them into their tasks, processes
// each task's records smallest timestamp first, checks stream-time
// punctuation after every record and wall-clock punctuation on a timer, and
// commits every Config.CommitInterval or when a processor asks. A commit
// flushes the tasks' stores, waits until every produced record is
// acknowledged, then commits the offsets after the records processed, so
// under eos.AtLeastOnce nothing is lost: a crash repeats at most the work
// done since the last commit. Cancelling Run's context finishes the current
// step, commits, closes the tasks and leaves the group.
//
// # Life cycle
//
// An App has Kafka Streams' states (State): Created until Run, Rebalancing
// while its threads join the group, rebalance or restore stores, Running
// while all of them process, then PendingShutdown and NotRunning after a
// clean stop, or PendingError and Error after a failure. Config.OnStateChange
// hears every change. When a stream thread fails, Config.OnUncaughtError
// decides: ReplaceThread, ShutdownClient (the default) or
// ShutdownApplication, which stops every instance of the app. An instance
// locks its state directory, <StateDir>/<ApplicationID>, while it runs;
// CleanUp removes it when no instance does.
//
// The runtime itself is in internal/runtime, split as Kafka Streams splits
// its own; its package documentation says how and where it differs.
//
// Sinks produce with the Java client's default partitioner (murmur2 of the
// serialized key), so other Kafka clients agree on where a key lives.
package streams
