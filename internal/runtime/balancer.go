package runtime

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
//
// It also carries the request to shut the whole application down
// (ShutdownApplication), as Kafka Streams carries it in its assignment's
// error code: a member that asks for it says so in its subscription, and a
// leader that sees it assigns no task to anyone and tells every member to
// stop.
type taskBalancer struct {
	subs []subSources
	// server is this instance's Config.ApplicationServer, sent in the
	// join metadata so the leader can tell every member who runs what.
	server string
	// requestShutdown makes the member ask for the application's shutdown.
	requestShutdown bool
	// onShutdown, if set, is called when an assignment says the
	// application is shutting down.
	onShutdown func()

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
	meta.UserData = encodeSubscription(subscriptionInfo{server: b.server, shutdown: b.requestShutdown})
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
	info, err := decodeAssignment(a.UserData)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.mu.owners = info.owners
	b.mu.Unlock()
	if info.shutdown && b.onShutdown != nil {
		b.onShutdown()
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

// ownersPlan adds the assignment's user data (the task -> server map and
// the shutdown request) to every member's assignment.
type ownersPlan struct {
	plan kgo.IntoSyncAssignment
	info []byte
}

func (p ownersPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := p.plan.IntoSyncAssignment()
	for i := range out {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(out[i].MemberAssignment); err != nil {
			continue
		}
		a.UserData = p.info
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

// subscriptionInfo is what a member tells the leader in its subscription's
// user data.
type subscriptionInfo struct {
	server   string
	shutdown bool
}

// assignmentInfo is what the leader tells every member in its
// assignment's user data.
type assignmentInfo struct {
	owners   map[taskKey]string
	shutdown bool
}

// The user data are lines of text after a version line:
//
//	streams-subscription-v1          streams-assignment-v1
//	server <host:port>               owner <sub> <partition> <host:port>
//	shutdown                         shutdown
const (
	subscriptionV1 = "streams-subscription-v1"
	assignmentV1   = "streams-assignment-v1"
)

func encodeSubscription(s subscriptionInfo) []byte {
	buf := []byte(subscriptionV1 + "\n")
	if s.server != "" {
		buf = fmt.Appendf(buf, "server %s\n", s.server)
	}
	if s.shutdown {
		buf = append(buf, "shutdown\n"...)
	}
	return buf
}

func decodeSubscription(data []byte) (subscriptionInfo, error) {
	var s subscriptionInfo
	lines := strings.Split(string(data), "\n")
	if len(data) == 0 {
		return s, nil // a member with nothing to say
	}
	if lines[0] != subscriptionV1 {
		return s, fmt.Errorf("streams: subscription user data of an unknown version %q", lines[0])
	}
	for _, l := range lines[1:] {
		switch {
		case l == "":
		case l == "shutdown":
			s.shutdown = true
		case strings.HasPrefix(l, "server "):
			s.server = strings.TrimPrefix(l, "server ")
		default:
			return s, fmt.Errorf("streams: subscription user data line %q", l)
		}
	}
	return s, nil
}

func encodeAssignment(a assignmentInfo) []byte {
	keys := slices.SortedFunc(maps.Keys(a.owners), func(x, y taskKey) int {
		return cmp.Or(cmp.Compare(x.sub, y.sub), cmp.Compare(x.partition, y.partition))
	})
	buf := []byte(assignmentV1 + "\n")
	for _, k := range keys {
		buf = fmt.Appendf(buf, "owner %d %d %s\n", k.sub, k.partition, a.owners[k])
	}
	if a.shutdown {
		buf = append(buf, "shutdown\n"...)
	}
	return buf
}

func decodeAssignment(data []byte) (assignmentInfo, error) {
	a := assignmentInfo{owners: map[taskKey]string{}}
	if len(data) == 0 {
		return a, nil
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != assignmentV1 {
		return a, fmt.Errorf("streams: assignment user data of an unknown version %q", lines[0])
	}
	for _, l := range lines[1:] {
		switch {
		case l == "":
		case l == "shutdown":
			a.shutdown = true
		case strings.HasPrefix(l, "owner "):
			f := strings.SplitN(strings.TrimPrefix(l, "owner "), " ", 3)
			if len(f) != 3 {
				return a, fmt.Errorf("streams: assignment user data line %q", l)
			}
			sub, err1 := strconv.Atoi(f[0])
			p, err2 := strconv.ParseInt(f[1], 10, 32)
			if err1 != nil || err2 != nil {
				return a, fmt.Errorf("streams: assignment user data line %q", l)
			}
			a.owners[taskKey{sub, int32(p)}] = f[2]
		default:
			return a, fmt.Errorf("streams: assignment user data line %q", l)
		}
	}
	return a, nil
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
	servers := make([]string, n)
	shutdown := false
	for m := range n {
		_, meta := cb.MemberAt(m)
		// A member whose user data cannot be read is given tasks but not
		// advertised: the balance must not fail on it.
		info, _ := decodeSubscription(meta.UserData)
		servers[m] = info.server
		shutdown = shutdown || info.shutdown
	}
	if shutdown {
		// Every member gives its tasks up and stops.
		plan := cb.NewPlan()
		plan.AdjustCooperative(cb)
		return ownersPlan{plan: plan, info: encodeAssignment(assignmentInfo{shutdown: true})}
	}

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
		member, _ := cb.MemberAt(m)
		for _, t := range assigned[m] {
			for _, tp := range t.tps {
				plan.AddPartition(member, tp.topic, tp.partition)
			}
			if servers[m] != "" {
				owners[taskKey{t.sub, t.partition}] = servers[m]
			}
		}
	}
	plan.AdjustCooperative(cb)
	return ownersPlan{plan: plan, info: encodeAssignment(assignmentInfo{owners: owners})}
}
