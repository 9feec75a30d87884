// Package testdriver runs a topology with no broker, synchronously, for unit
// tests: what net/http/httptest is to net/http.
//
// The core types:
//
//   - Driver: made with New from a built topology. It runs one task per
//     sub-topology, with the same task code as the real runtime. Close it
//     when done.
//   - InputTopic[K, V]: made with CreateInputTopic. Pipe (and PipeValue,
//     PipeKeyValue, PipeRecord and their list forms) serializes a record,
//     feeds it to the topology and returns once it and everything it caused
//     downstream has been processed. Records piped without a timestamp get
//     the topic's current time, which can advance automatically
//     (WithAutoAdvance).
//   - OutputTopic[K, V]: made with CreateOutputTopic. ReadValue,
//     ReadKeyValue, ReadRecord and their list forms read what the topology
//     produced, in order. Reading an empty topic returns ErrEmptyTopic, never
//     a zero value.
//
// Stores are read with GetStore, KeyValueStore and TimestampedKeyValueStore.
//
// # What it does for you
//
//   - Stream-time punctuations are checked after every processed record, as
//     the real runtime does.
//   - Wall-clock time is a mock clock that starts at the Unix epoch (see
//     Options) and moves only with AdvanceWallClock, which runs every
//     wall-clock punctuation at each time it falls due on the way.
//   - Records sent to a topic that a source of the topology reads
//     (repartition topics, named "<application id>-<name>-repartition", or
//     any topic you write and read back) are fed back in before Pipe returns.
//   - Every task is committed after each Pipe.
//   - A record piped (or sent) to the topic of a global store
//     (topology.AddGlobalStore, kstream.GlobalTable) goes through the
//     store's processor at once: the next record of any task reads it.
//
// Everything runs on the caller's goroutine; the driver starts none.
//
// Errors come back from the call that caused them: Pipe returns a
// *processor.ProcessingError when a processor fails and a
// *processor.DeserializationError when a source cannot decode a record.
package testdriver
