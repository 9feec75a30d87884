// Package reset resets a streams application so that it processes its
// input again from the start (or from a time, or an offset), as Kafka's
// kafka-streams-application-reset tool (StreamsResetter) does for Kafka
// Streams. The command cmd/streams-reset is this package behind Kafka's
// flags; Go code, a test say, can call it directly.
//
// The core types:
//
//   - Options: the application id (the app's consumer group and the
//     prefix of its internal topics), its input topics and where their
//     offsets go (a Position: ToEarliest, the default, ToLatest,
//     ToDatetime, ByDuration, ShiftBy, ToOffset, FromOffsets), its
//     intermediate topics, and Force.
//   - Plan: what a reset does, made by NewPlan without changing anything
//     (a dry run prints it) and done by Execute: for each input partition
//     the group's committed offset before and after, the intermediate
//     topics' partitions moved to their end, and the internal topics to
//     delete: every "<application.id>-…" topic with an internal topic's
//     suffix (IsInternal: store changelogs, repartition topics, a
//     foreign-key join's subscription and response topics), or those of
//     Options.InternalTopics.
//
// Resetting an app:
//
//  1. Stop every instance. NewPlan and Execute refuse while the group has
//     members (a *GroupNotEmptyError); Force removes members that are
//     stopped but still counted (static members, a long session timeout).
//  2. Plan and execute the reset (once, from anywhere, for all instances).
//  3. On every instance, delete the local state before it starts again:
//     App.CleanUp(), or delete <Config.StateDir>/<application.id>. A store
//     left there would be restored from its checkpoint and count the input
//     twice. An app whose sink/postgres ExactlyOnce sink keeps its offsets in
//     the database forgets them too: postgres.ResetOffsets.
//  4. Start the app: it reads its input from the new offsets and recreates
//     its internal topics.
//
// The output topics are not touched: the rerun appends to them.
package reset
