// Package eos holds the delivery guarantees an App can run under and, with
// ExactlyOnce, the transactional commit protocol.
//
//   - AtMostOnce: consumed offsets are committed before the records are
//     processed. A crash loses the records that were committed but not yet
//     processed; nothing is ever processed twice.
//   - AtLeastOnce (the default): a commit first flushes the stores and waits
//     for every produced record to be acknowledged, then commits the offsets
//     of the records processed. A crash re-processes what was processed after
//     the last commit; nothing is lost.
//   - ExactlyOnce: output, changelog writes and consumed offsets are committed
//     in one Kafka transaction. Not available yet: an App configured with it
//     fails to start with ErrExactlyOnceUnavailable.
package eos
