package streams

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// taskBalancer is the consumer group balancer of an app. It assigns tasks,
// not partitions: task (s, p) is partition p of every source topic of
// sub-topology s, and all of them go to one member, so co-partitioned topics
// are read together. It is sticky (a member keeps the tasks it owns, up to
// its fair share) and cooperative (a task that moves is first revoked from
// its owner, in one rebalance, and assigned to its new owner in the next,
// so unaffected tasks never stop).
type taskBalancer struct {
	subs []subSources
	// server is this instance's Config.ApplicationServer, sent in the
	// join metadata so the leader can tell every member who runs what.
	server string

	mu struct {
		sync.Mutex
		// owners is the latest task -> server map the leader sent.
		owners map[taskKey]string
	}
}

type taskKey struct {
	sub       int
	partition int32
}

// subSources are the source topics of one sub-topology, by cluster name.
type subSources struct {
	id       int
	topics   []string
	patterns []*regexp.Regexp
}

func (b *taskBalancer) ProtocolName() string { return "streams-tasks" }
func (b *taskBalancer) IsCooperative() bool  { return true }

// JoinGroupMetadata sends the member's topics, owned partitions and
// generation, as the cooperative-sticky protocol does; the owned partitions
// are what makes the assignment sticky and cooperative.
func (b *taskBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 2
	meta.Topics = interests
	meta.Generation = generation
	meta.UserData = []byte(b.server)
	for _, topic := range slices.Sorted(maps.Keys(current)) {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = topic
		owned.Partitions = current[topic]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment returns this member's partitions and keeps the map
// of task owners the leader put in the assignment's user data.
func (b *taskBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("streams: sync assignment: %w", err)
	}
	if owners, err := decodeOwners(a.UserData); err == nil && owners != nil {
		b.mu.Lock()
		b.mu.owners = owners
		b.mu.Unlock()
	}
	return kgo.ParseConsumerSyncAssignment(assignment)
}

// owner returns the server that runs task (sub, p), as of the last
// rebalance.
func (b *taskBalancer) owner(sub int, p int32) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.mu.owners[taskKey{sub, p}]
	return s, ok
}

// ownersPlan adds the task -> server map to every member's assignment.
type ownersPlan struct {
	plan   kgo.IntoSyncAssignment
	owners []byte
}

func (p ownersPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := p.plan.IntoSyncAssignment()
	for i := range out {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(out[i].MemberAssignment); err != nil {
			continue
		}
		a.UserData = p.owners
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

// encodeOwners writes the owners map as lines "<sub> <partition> <server>".
func encodeOwners(owners map[taskKey]string) []byte {
	keys := slices.SortedFunc(maps.Keys(owners), func(a, c taskKey) int {
		return cmp.Or(cmp.Compare(a.sub, c.sub), cmp.Compare(a.partition, c.partition))
	})
	var buf []byte
	buf = append(buf, "streams-owners-v1\n"...)
	for _, k := range keys {
		buf = fmt.Appendf(buf, "%d %d %s\n", k.sub, k.partition, owners[k])
	}
	return buf
}

func decodeOwners(data []byte) (map[taskKey]string, error) {
	lines := strings.Split(string(data), "\n")
	if len(lines) == 0 || lines[0] != "streams-owners-v1" {
		return nil, nil // no map (an old member, or a member without servers)
	}
	owners := map[taskKey]string{}
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("streams: owners line %q", l)
		}
		sub, err1 := strconv.Atoi(f[0])
		p, err2 := strconv.ParseInt(f[1], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("streams: owners line %q", l)
		}
		owners[taskKey{sub, int32(p)}] = f[2]
	}
	return owners, nil
}

func (b *taskBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	return cb, cb.MemberTopics(), err
}

type topicPartition struct {
	topic     string
	partition int32
}

type balanceTask struct {
	sub       int
	partition int32
	tps       []topicPartition
}

// tasks lists every task the known topics make, by partition then
// sub-topology.
func (b *taskBalancer) tasks(topics map[string]int32) []*balanceTask {
	var tasks []*balanceTask
	for _, s := range b.subs {
		var mine []string
		for t := range topics {
			if slices.Contains(s.topics, t) || slices.ContainsFunc(s.patterns, func(p *regexp.Regexp) bool { return fullMatch(p, t) }) {
				mine = append(mine, t)
			}
		}
		slices.Sort(mine)
		var n int32
		for _, t := range mine {
			n = max(n, topics[t])
		}
		for p := range n {
			bt := &balanceTask{sub: s.id, partition: p}
			for _, t := range mine {
				if p < topics[t] {
					bt.tps = append(bt.tps, topicPartition{t, p})
				}
			}
			tasks = append(tasks, bt)
		}
	}
	slices.SortFunc(tasks, func(a, c *balanceTask) int {
		return cmp.Or(cmp.Compare(a.partition, c.partition), cmp.Compare(a.sub, c.sub))
	})
	return tasks
}

func fullMatch(p *regexp.Regexp, s string) bool {
	loc := p.FindStringIndex(s)
	return loc != nil && loc[0] == 0 && loc[1] == len(s)
}

// Balance implements kgo.ConsumerBalancerBalance.
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	tasks := b.tasks(topics)
	n := len(cb.Members())

	// The current owner of a task is the member that claims its first
	// partition with the highest generation (a member that missed a
	// rebalance may still claim what another member owns now).
	type claim struct {
		member int
		gen    int32
	}
	claims := map[topicPartition]claim{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		idx := slices.IndexFunc(cb.Members(), func(x kmsg.JoinGroupResponseMember) bool { return x.MemberID == m.MemberID })
		for _, o := range meta.OwnedPartitions {
			for _, p := range o.Partitions {
				tp := topicPartition{o.Topic, p}
				if c, ok := claims[tp]; !ok || meta.Generation > c.gen {
					claims[tp] = claim{idx, meta.Generation}
				}
			}
		}
	})
	owned := make([][]*balanceTask, n)
	var free []*balanceTask
	for _, t := range tasks {
		if len(t.tps) == 0 {
			continue
		}
		if c, ok := claims[t.tps[0]]; ok {
			owned[c.member] = append(owned[c.member], t)
		} else {
			free = append(free, t)
		}
	}

	// Quotas: every member gets len(tasks)/n, and the members that own the
	// most get the remainder, so that as few tasks as possible move.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, c int) int { return cmp.Compare(len(owned[c]), len(owned[a])) })
	quota := make([]int, n)
	for rank, m := range order {
		quota[m] = len(tasks) / n
		if rank < len(tasks)%n {
			quota[m]++
		}
	}
	assigned := make([][]*balanceTask, n)
	for m := range n {
		keep := min(quota[m], len(owned[m]))
		assigned[m] = owned[m][:keep:keep]
		free = append(free, owned[m][keep:]...)
	}
	slices.SortFunc(free, func(a, c *balanceTask) int {
		return cmp.Or(cmp.Compare(a.partition, c.partition), cmp.Compare(a.sub, c.sub))
	})
	// Deal the free tasks to the members with room: to the one with the
	// fewest tasks of the same sub-topology, then the fewest tasks, so that
	// every sub-topology (and its state) is spread over the members.
	perSub := make([]map[int]int, n)
	for m := range n {
		perSub[m] = map[int]int{}
		for _, t := range assigned[m] {
			perSub[m][t.sub]++
		}
	}
	for _, t := range free {
		best := -1
		for m := range n {
			if len(assigned[m]) >= quota[m] {
				continue
			}
			if best < 0 || perSub[m][t.sub] < perSub[best][t.sub] ||
				perSub[m][t.sub] == perSub[best][t.sub] && len(assigned[m]) < len(assigned[best]) {
				best = m
			}
		}
		assigned[best] = append(assigned[best], t)
		perSub[best][t.sub]++
	}

	plan := cb.NewPlan()
	owners := map[taskKey]string{}
	for m := range n {
		member, meta := cb.MemberAt(m)
		for _, t := range assigned[m] {
			for _, tp := range t.tps {
				plan.AddPartition(member, tp.topic, tp.partition)
			}
			if len(meta.UserData) > 0 {
				owners[taskKey{t.sub, t.partition}] = string(meta.UserData)
			}
		}
	}
	plan.AdjustCooperative(cb)
	return ownersPlan{plan: plan, owners: encodeOwners(owners)}
}
