package runtime

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// member builds a group member that owns the given partitions.
func member(id string, gen int32, owned map[string][]int32) kmsg.JoinGroupResponseMember {
	b := &taskBalancer{}
	m := kmsg.NewJoinGroupResponseMember()
	m.MemberID = id
	m.ProtocolMetadata = b.JoinGroupMetadata([]string{"a", "b", "c"}, owned, gen)
	return m
}

// balance runs the balancer and returns each member's assignment.
func balance(t *testing.T, b *taskBalancer, topics map[string]int32, members ...kmsg.JoinGroupResponseMember) map[string]map[string][]int32 {
	t.Helper()
	gmb, _, err := b.MemberBalancer(members)
	require.NoError(t, err)
	plan, err := gmb.(*kgo.ConsumerBalancer).BalanceOrError(topics)
	require.NoError(t, err)
	out := map[string]map[string][]int32{}
	for _, a := range plan.IntoSyncAssignment() {
		parsed, err := b.ParseSyncAssignment(a.MemberAssignment)
		require.NoError(t, err)
		for _, ps := range parsed {
			slices.Sort(ps)
		}
		out[a.MemberID] = parsed
	}
	return out
}

// Sub-topology 0 reads a and b (co-partitioned, 4 partitions); 1 reads c
// (2 partitions): six tasks.
var twoSubs = &taskBalancer{subs: []subSources{{id: 0, topics: []string{"a", "b"}}, {id: 1, topics: []string{"c"}}}}
var twoSubsTopics = map[string]int32{"a": 4, "b": 4, "c": 2}

func taskCount(assigned map[string][]int32) int { return len(assigned["a"]) + len(assigned["c"]) }

func TestBalancerKeepsCoPartitionedTopicsTogether(t *testing.T) {
	t.Parallel()
	got := balance(t, twoSubs, twoSubsTopics, member("m1", -1, nil), member("m2", -1, nil), member("m3", -1, nil))
	all := map[string][]int32{}
	for id, as := range got {
		require.Equal(t, as["a"], as["b"], "%s: partition p of a and b must go to the same member", id)
		require.Equal(t, 2, taskCount(as), "%s: six tasks over three members", id)
		for topic, ps := range as {
			all[topic] = append(all[topic], ps...)
		}
	}
	for topic, n := range twoSubsTopics {
		slices.Sort(all[topic])
		var want []int32
		for p := range n {
			want = append(want, p)
		}
		require.Equal(t, want, all[topic], "every partition of %s is assigned exactly once", topic)
	}
}

func TestBalancerIsStickyWhenAMemberJoins(t *testing.T) {
	t.Parallel()
	// m1 owns three tasks, its fair share of six over two members: it keeps
	// them, and the newcomer gets the three that nobody owned.
	m1 := member("m1", 5, map[string][]int32{"a": {0, 1}, "b": {0, 1}, "c": {0}})
	got := balance(t, twoSubs, twoSubsTopics, m1, member("m2", -1, nil))
	require.Equal(t, map[string][]int32{"a": {0, 1}, "b": {0, 1}, "c": {0}}, got["m1"])
	require.Equal(t, map[string][]int32{"a": {2, 3}, "b": {2, 3}, "c": {1}}, got["m2"])
}

// With cooperative rebalancing, a task that moves is only revoked in the
// first rebalance; its new owner gets it in the next, after the old owner
// committed and gave it up. m2's first assignment is therefore empty.
func TestBalancerMovesTasksCooperatively(t *testing.T) {
	t.Parallel()
	m1 := member("m1", 5, map[string][]int32{"a": {0, 1, 2, 3}, "b": {0, 1, 2, 3}, "c": {0, 1}})
	got := balance(t, twoSubs, twoSubsTopics, m1, member("m2", -1, nil))
	require.Equal(t, 3, taskCount(got["m1"]), "m1 keeps its share")
	require.Equal(t, got["m1"]["a"], got["m1"]["b"])
	require.Zero(t, taskCount(got["m2"]), "moving tasks are not handed over in the same rebalance")

	// Second round: m1 owns what it kept; m2 now gets the rest.
	m1again := member("m1", 6, got["m1"])
	got2 := balance(t, twoSubs, twoSubsTopics, m1again, member("m2", 6, nil))
	require.Equal(t, got["m1"], got2["m1"])
	require.Equal(t, 3, taskCount(got2["m2"]))
	require.Equal(t, got2["m2"]["a"], got2["m2"]["b"])
}

// A pattern source's matching topics are co-partitioned like listed ones;
// the task count is the largest partition count, and a task includes only
// the topics that have its partition.
func TestBalancerTasksFromPatternsAndUnevenCounts(t *testing.T) {
	t.Parallel()
	b := &taskBalancer{subs: []subSources{{id: 0, topics: []string{"x"}, patterns: []*regexp.Regexp{regexp.MustCompile(`orders-.*`)}}}}
	tasks := b.tasks(map[string]int32{"x": 2, "orders-eu": 3, "xorders-us": 5, "other": 7})
	var got []string
	for _, tk := range tasks {
		got = append(got, fmt.Sprintf("%d_%d%v", tk.sub, tk.partition, tk.tps))
	}
	require.Equal(t, []string{"0_0[{orders-eu 0} {x 0}]", "0_1[{orders-eu 1} {x 1}]", "0_2[{orders-eu 2}]"}, got)
}

// The leader tells every member which server runs which task: each
// member's assignment carries the whole map, and parsing it updates the
// balancer's view.
func TestBalancerSharesTaskOwners(t *testing.T) {
	t.Parallel()
	mk := func(id, server string, owned map[string][]int32) kmsg.JoinGroupResponseMember {
		b := &taskBalancer{server: server}
		m := kmsg.NewJoinGroupResponseMember()
		m.MemberID = id
		m.ProtocolMetadata = b.JoinGroupMetadata([]string{"a", "b", "c"}, owned, 3)
		return m
	}
	leader := &taskBalancer{subs: twoSubs.subs, server: "one:1"}
	gmb, _, err := leader.MemberBalancer([]kmsg.JoinGroupResponseMember{
		mk("m1", "one:1", map[string][]int32{"a": {0, 1}, "b": {0, 1}, "c": {0}}),
		mk("m2", "two:2", map[string][]int32{"a": {2, 3}, "b": {2, 3}, "c": {1}}),
	})
	require.NoError(t, err)
	plan, err := gmb.(*kgo.ConsumerBalancer).BalanceOrError(twoSubsTopics)
	require.NoError(t, err)
	for _, a := range plan.IntoSyncAssignment() {
		follower := &taskBalancer{}
		parsed, err := follower.ParseSyncAssignment(a.MemberAssignment)
		require.NoError(t, err)
		require.NotEmpty(t, parsed, "the member's own partitions still parse")
		for _, tc := range []struct {
			sub    int
			p      int32
			server string
		}{{0, 0, "one:1"}, {0, 1, "one:1"}, {1, 0, "one:1"}, {0, 2, "two:2"}, {0, 3, "two:2"}, {1, 1, "two:2"}} {
			got, ok := follower.owner(tc.sub, tc.p)
			require.True(t, ok, "%s: task %d_%d", a.MemberID, tc.sub, tc.p)
			require.Equal(t, tc.server, got, "%s: task %d_%d", a.MemberID, tc.sub, tc.p)
		}
	}
}

// Every sub-topology's tasks are spread over the members, not one
// sub-topology to each: two sub-topologies of four tasks over two members
// give each member two tasks of each.
func TestBalancerSpreadsEachSubtopology(t *testing.T) {
	t.Parallel()
	b := &taskBalancer{subs: []subSources{{id: 0, topics: []string{"a"}}, {id: 1, topics: []string{"c"}}}}
	got := balance(t, b, map[string]int32{"a": 4, "c": 4}, member("m1", -1, nil), member("m2", -1, nil))
	for id, as := range got {
		require.Len(t, as["a"], 2, "%s: tasks of sub-topology 0", id)
		require.Len(t, as["c"], 2, "%s: tasks of sub-topology 1", id)
	}
}
