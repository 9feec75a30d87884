package streams_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gostreams/streams"
)

// The fault sweep: the transaction and offset APIs fail in the ways a real
// cluster makes them fail, while the app runs under ExactlyOnce. Each case
// asserts that its fault fired and that the output is still exactly once.
func TestExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	// recovery says how the app must have got over the fault: "" by the
	// client's own retries, "abort" by aborting the transaction and
	// reviving its tasks, "restart" by making the thread anew.
	cases := []struct {
		name     string
		fault    kfake.Fault
		recovery string
	}{
		{"EndTxn fenced producer", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.ProducerFenced}, "restart"},
		{"EndTxn concurrent transactions", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.ConcurrentTransactions, Count: 3}, ""},
		{"EndTxn not coordinator", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.NotCoordinator, Count: 2}, ""},
		{"EndTxn timed out after the broker applied it", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.RequestTimedOut, Count: 2}, "restart"},
		{"TxnOffsetCommit concurrent transactions", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.ConcurrentTransactions, Count: 2}, "abort"},
		{"TxnOffsetCommit not coordinator", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.NotCoordinator, Count: 2}, ""},
		{"TxnOffsetCommit rebalance in progress", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RebalanceInProgress}, "abort"},
		{"TxnOffsetCommit timed out after the broker applied it", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RequestTimedOut, Count: 2}, "restart"},
		{"OffsetFetch unstable offset commit", kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Err: kerr.UnstableOffsetCommit, Count: 2}, ""},
		// franz-go gets over a fenced produce by itself (it bumps the epoch
		// and retries, as KIP-890 allows).
		{"Produce fenced producer", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "totals", Err: kerr.ProducerFenced}, ""},
		// A record the broker rejects for good: its transaction must not
		// commit without it.
		{"Produce rejected record", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "totals", Err: kerr.MessageTooLarge}, "abort"},
		{"InitProducerID concurrent transactions", kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ConcurrentTransactions, Count: 2}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t)
			eosTopics(t, c)
			eosInput(t, c, 0, 300, 20)
			h := c.Kfake().Fault(tc.fault)
			cfg := eosConfig(t, c, "faults")
			cfg.CommitInterval = 30 * time.Millisecond
			app := mustApp(t, eosTopology(t, nil), cfg)
			require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, "faults", "in", streams.RepartitionTopic("faults", "by-key")))
			require.Positive(t, h.Hits(), "the fault never fired")
			m := app.Metrics()
			switch tc.recovery {
			case "abort":
				require.Positive(t, m.Aborts, "the fault should have aborted a transaction")
			case "restart":
				require.Positive(t, m.ThreadRestarts, "the fault should have restarted the thread")
			}
			t.Logf("fault hits: %d, transactions aborted: %d, threads restarted: %d", h.Hits(), m.Aborts, m.ThreadRestarts)
			eosInput(t, c, 300, 100, 20) // and the app goes on after it
			app = mustApp(t, eosTopology(t, nil), cfg)
			require.NoError(t, c.RunUntilCaughtUp(ctxT(t), app, "faults", "in", streams.RepartitionTopic("faults", "by-key")))
			verifyExactlyOnce(t, c, "faults")
		})
	}
}
