package runtime

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gostreams/streams/processor"
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
	// process is this instance's id: the leader places a task's active
	// and standby replicas on different processes.
	process string
	// changelogs are, per sub-topology, the changelog topics a standby
	// follows (none: the sub-topology's tasks are stateless, and get no
	// standbys); endOffsets reads their ends, for the lags.
	changelogs map[int][]string
	endOffsets func(ctx context.Context, topics []string) (map[TopicPartition]int64, error)
	ha         haConfig
	log        *slog.Logger
	// requestShutdown makes the member ask for the application's shutdown.
	requestShutdown bool
	// onShutdown, if set, is called when an assignment says the
	// application is shutting down.
	onShutdown func()

	mu struct {
		sync.Mutex
		// owners is the latest task -> server map the leader sent;
		// replicas, the servers of each task's standby replicas.
		owners   map[taskKey]string
		replicas map[taskKey][]string
	}
}

// threadBalancer is the balancer of one stream thread's group member: it
// adds what the member holds (its standby tasks, the lags of its tasks) to
// its subscription, and hands its standby tasks from the assignment to its
// TaskManager.
type threadBalancer struct {
	*taskBalancer
	tm *TaskManager
}

func (b threadBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	info := subscriptionInfo{server: b.server, process: b.process, shutdown: b.requestShutdown}
	info.standbys, info.positions = b.tm.held()
	for k, v := range b.tm.checkpointed(b.changelogs) {
		if _, ok := info.positions[k]; !ok {
			info.positions[k] = v
		}
	}
	return b.joinMetadata(interests, current, generation, info)
}

func (b threadBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	parsed, info, err := b.parse(assignment)
	if err != nil {
		return nil, err
	}
	ids := make([]processor.TaskID, 0, len(info.standbys))
	for _, k := range info.standbys {
		ids = append(ids, processor.TaskID{Subtopology: k.sub, Partition: k.partition})
	}
	// The tasks the member runs from now on: a standby of one of them is
	// kept for the assignment callback to promote.
	var actives []processor.TaskID
	for topic, ps := range parsed {
		if sub, ok := b.tm.rt.subtopologyOf(topic); ok {
			for _, p := range ps {
				actives = append(actives, processor.TaskID{Subtopology: sub, Partition: p})
			}
		}
	}
	b.tm.setStandbys(ids, actives, info.probe)
	return parsed, nil
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
	return b.joinMetadata(interests, current, generation, subscriptionInfo{server: b.server, process: b.process, shutdown: b.requestShutdown})
}

func (b *taskBalancer) joinMetadata(interests []string, current map[string][]int32, generation int32, info subscriptionInfo) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 2
	meta.Topics = interests
	meta.Generation = generation
	meta.UserData = encodeSubscription(info)
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
	parsed, _, err := b.parse(assignment)
	return parsed, err
}

func (b *taskBalancer) parse(assignment []byte) (map[string][]int32, assignmentInfo, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, assignmentInfo{}, fmt.Errorf("streams: sync assignment: %w", err)
	}
	info, err := decodeAssignment(a.UserData)
	if err != nil {
		return nil, info, err
	}
	b.mu.Lock()
	b.mu.owners, b.mu.replicas = info.owners, info.replicas
	b.mu.Unlock()
	if info.shutdown && b.onShutdown != nil {
		b.onShutdown()
	}
	parsed, err := kgo.ParseConsumerSyncAssignment(assignment)
	return parsed, info, err
}

// owner returns the server that runs task (sub, p), as of the last
// rebalance.
func (b *taskBalancer) owner(sub int, p int32) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.mu.owners[taskKey{sub, p}]
	return s, ok
}

// replicas returns the servers that hold standby replicas of task (sub,
// p), as of the last rebalance.
func (b *taskBalancer) replicas(sub int, p int32) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.mu.replicas[taskKey{sub, p}])
}

// hosts returns every server's active and standby tasks, as of the last
// rebalance.
func (b *taskBalancer) hosts() (active, standby map[string][]taskKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	active, standby = map[string][]taskKey{}, map[string][]taskKey{}
	for k, s := range b.mu.owners {
		active[s] = append(active[s], k)
	}
	for k, ss := range b.mu.replicas {
		for _, s := range ss {
			standby[s] = append(standby[s], k)
		}
	}
	for _, m := range []map[string][]taskKey{active, standby} {
		for _, ks := range m {
			slices.SortFunc(ks, compareTaskKeys)
		}
	}
	return active, standby
}

func compareTaskKeys(x, y taskKey) int {
	return cmp.Or(cmp.Compare(x.sub, y.sub), cmp.Compare(x.partition, y.partition))
}

// ownersPlan adds the assignment's user data (the task -> server maps,
// the member's standby tasks, the shutdown request) to every member's
// assignment.
type ownersPlan struct {
	plan kgo.IntoSyncAssignment
	info func(member string) []byte
}

func (p ownersPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := p.plan.IntoSyncAssignment()
	for i := range out {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(out[i].MemberAssignment); err != nil {
			continue
		}
		a.UserData = p.info(out[i].MemberID)
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

// subscriptionInfo is what a member tells the leader in its subscription's
// user data.
type subscriptionInfo struct {
	server   string
	process  string
	shutdown bool
	// standbys are the member's standby tasks.
	standbys []taskKey
	// positions are, per task whose state the member has (active,
	// standby, or a checkpoint in the process's state directory), the sum
	// of the offsets its followed changelogs are at (Kafka Streams' task
	// offset sums), or caughtUp for a running active task.
	positions map[taskKey]int64
}

// caughtUp is the position of a running active task: it lacks nothing.
const caughtUp = -2

// assignmentInfo is what the leader tells every member in its
// assignment's user data.
type assignmentInfo struct {
	owners   map[taskKey]string
	replicas map[taskKey][]string
	// standbys are the member's standby tasks (warm-ups included).
	standbys []taskKey
	// probe asks for a probing rebalance after
	// Config.ProbingRebalanceInterval: warm-ups are catching up.
	probe    bool
	shutdown bool
}

// The user data are lines of text after a version line:
//
//	streams-subscription-v2          streams-assignment-v2
//	server <host:port>               owner <sub> <partition> <host:port>
//	process <id>                     replica <sub> <partition> <host:port>
//	standby <sub> <partition>        standby <sub> <partition>
//	task <sub> <partition> <offsets> probe
//	shutdown                         shutdown
//
// A v1 subscription (server and shutdown only) is read too.
const (
	subscriptionV1 = "streams-subscription-v1"
	subscriptionV2 = "streams-subscription-v2"
	assignmentV2   = "streams-assignment-v2"
)

func encodeSubscription(s subscriptionInfo) []byte {
	buf := []byte(subscriptionV2 + "\n")
	if s.server != "" {
		buf = fmt.Appendf(buf, "server %s\n", s.server)
	}
	if s.process != "" {
		buf = fmt.Appendf(buf, "process %s\n", s.process)
	}
	for _, k := range slices.SortedFunc(slices.Values(s.standbys), compareTaskKeys) {
		buf = fmt.Appendf(buf, "standby %d %d\n", k.sub, k.partition)
	}
	for _, k := range slices.SortedFunc(maps.Keys(s.positions), compareTaskKeys) {
		buf = fmt.Appendf(buf, "task %d %d %d\n", k.sub, k.partition, s.positions[k])
	}
	if s.shutdown {
		buf = append(buf, "shutdown\n"...)
	}
	return buf
}

// parseTaskKey reads "<sub> <partition>" and what follows, if anything.
func parseTaskKey(l, prefix string, rest bool) (taskKey, string, bool) {
	n := 2
	if rest {
		n = 3
	}
	f := strings.SplitN(strings.TrimPrefix(l, prefix), " ", n)
	if len(f) != n {
		return taskKey{}, "", false
	}
	sub, err1 := strconv.Atoi(f[0])
	p, err2 := strconv.ParseInt(f[1], 10, 32)
	if err1 != nil || err2 != nil || sub < 0 || p < 0 {
		return taskKey{}, "", false
	}
	k := taskKey{sub, int32(p)}
	if rest {
		return k, f[2], f[2] != ""
	}
	return k, "", true
}

func decodeSubscription(data []byte) (subscriptionInfo, error) {
	s := subscriptionInfo{positions: map[taskKey]int64{}}
	lines := strings.Split(string(data), "\n")
	if len(data) == 0 {
		return s, nil // a member with nothing to say
	}
	if lines[0] != subscriptionV1 && lines[0] != subscriptionV2 {
		return s, fmt.Errorf("streams: subscription user data of an unknown version %q", lines[0])
	}
	for _, l := range lines[1:] {
		bad := false
		switch {
		case l == "":
		case l == "shutdown":
			s.shutdown = true
		case strings.HasPrefix(l, "server "):
			s.server = strings.TrimPrefix(l, "server ")
		case strings.HasPrefix(l, "process "):
			s.process = strings.TrimPrefix(l, "process ")
		case strings.HasPrefix(l, "standby "):
			k, _, ok := parseTaskKey(l, "standby ", false)
			bad = !ok
			s.standbys = append(s.standbys, k)
		case strings.HasPrefix(l, "task "):
			k, rest, ok := parseTaskKey(l, "task ", true)
			off, err := strconv.ParseInt(rest, 10, 64)
			bad = !ok || err != nil
			s.positions[k] = off
		default:
			bad = true
		}
		if bad {
			return s, fmt.Errorf("streams: subscription user data line %q", l)
		}
	}
	return s, nil
}

func encodeAssignment(a assignmentInfo) []byte {
	buf := []byte(assignmentV2 + "\n")
	for _, k := range slices.SortedFunc(maps.Keys(a.owners), compareTaskKeys) {
		buf = fmt.Appendf(buf, "owner %d %d %s\n", k.sub, k.partition, a.owners[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(a.replicas), compareTaskKeys) {
		for _, s := range a.replicas[k] {
			buf = fmt.Appendf(buf, "replica %d %d %s\n", k.sub, k.partition, s)
		}
	}
	for _, k := range slices.SortedFunc(slices.Values(a.standbys), compareTaskKeys) {
		buf = fmt.Appendf(buf, "standby %d %d\n", k.sub, k.partition)
	}
	if a.probe {
		buf = append(buf, "probe\n"...)
	}
	if a.shutdown {
		buf = append(buf, "shutdown\n"...)
	}
	return buf
}

func decodeAssignment(data []byte) (assignmentInfo, error) {
	a := assignmentInfo{owners: map[taskKey]string{}, replicas: map[taskKey][]string{}}
	if len(data) == 0 {
		return a, nil
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != assignmentV2 {
		return a, fmt.Errorf("streams: assignment user data of an unknown version %q", lines[0])
	}
	for _, l := range lines[1:] {
		bad := false
		switch {
		case l == "":
		case l == "shutdown":
			a.shutdown = true
		case l == "probe":
			a.probe = true
		case strings.HasPrefix(l, "owner "):
			k, server, ok := parseTaskKey(l, "owner ", true)
			bad = !ok
			a.owners[k] = server
		case strings.HasPrefix(l, "replica "):
			k, server, ok := parseTaskKey(l, "replica ", true)
			bad = !ok
			a.replicas[k] = append(a.replicas[k], server)
		case strings.HasPrefix(l, "standby "):
			k, _, ok := parseTaskKey(l, "standby ", false)
			bad = !ok
			a.standbys = append(a.standbys, k)
		default:
			bad = true
		}
		if bad {
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

// Balance implements kgo.ConsumerBalancerBalance. It assigns tasks to
// instances (processes, each with its members, one per stream thread) as
// Kafka Streams' HighAvailabilityTaskAssignor does (assignHA), then
// spreads each instance's tasks over its threads (spreadOverThreads).
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	tasks := b.tasks(topics)
	members := cb.Members()
	n := len(members)
	infos := make([]subscriptionInfo, n)
	shutdown := false
	for m := range n {
		_, meta := cb.MemberAt(m)
		// A member whose user data cannot be read is given tasks but not
		// advertised: the balance must not fail on it.
		info, err := decodeSubscription(meta.UserData)
		if err != nil {
			info = subscriptionInfo{positions: map[taskKey]int64{}}
		}
		infos[m] = info
		shutdown = shutdown || info.shutdown
	}
	if shutdown {
		// Every member gives its tasks up and stops.
		plan := cb.NewPlan()
		plan.AdjustCooperative(cb)
		info := encodeAssignment(assignmentInfo{shutdown: true})
		return ownersPlan{plan: plan, info: func(string) []byte { return info }}
	}

	// The current owner of a task is the member that claims its first
	// partition with the highest generation (a member that missed a
	// rebalance may still claim what another member owns now).
	type claim struct {
		member int
		gen    int32
	}
	claims := map[topicPartition]claim{}
	for m := range n {
		_, meta := cb.MemberAt(m)
		for _, o := range meta.OwnedPartitions {
			for _, p := range o.Partitions {
				tp := topicPartition{o.Topic, p}
				if c, ok := claims[tp]; !ok || meta.Generation > c.gen {
					claims[tp] = claim{m, meta.Generation}
				}
			}
		}
	}
	byKey := map[taskKey]*balanceTask{}
	var keys []taskKey
	stateful := map[taskKey]bool{}
	prevActive := make([][]taskKey, n)
	for _, t := range tasks {
		if len(t.tps) == 0 {
			continue
		}
		k := taskKey{t.sub, t.partition}
		byKey[k] = t
		keys = append(keys, k)
		stateful[k] = len(b.changelogs[t.sub]) > 0
		if c, ok := claims[t.tps[0]]; ok {
			prevActive[c.member] = append(prevActive[c.member], k)
		}
	}

	// Instances: the members of one process together. A member that sends
	// no process id (an older version) is an instance of its own.
	clientOf := make([]string, n)
	var clients []haClient
	idx := map[string]int{}
	for m := range n {
		id := infos[m].process
		if id == "" {
			id = "member-" + members[m].MemberID
		}
		clientOf[m] = id
		i, ok := idx[id]
		if !ok {
			i = len(clients)
			idx[id] = i
			clients = append(clients, haClient{id: id, lag: map[taskKey]int64{}})
		}
		c := &clients[i]
		c.threads++
		c.prevActive = append(c.prevActive, prevActive[m]...)
		c.prevStandby = append(c.prevStandby, infos[m].standbys...)
	}
	lags := b.lags(keys, stateful, infos)
	for m := range n {
		c := &clients[idx[clientOf[m]]]
		for k, lag := range lags[m] {
			if old, ok := c.lag[k]; !ok || lag < old {
				c.lag[k] = lag
			}
		}
	}
	slices.SortFunc(clients, func(x, y haClient) int { return cmp.Compare(x.id, y.id) })
	res := assignHA(keys, stateful, clients, b.ha)
	if b.log != nil && b.log.Enabled(context.Background(), slog.LevelDebug) {
		for _, c := range clients {
			b.log.Debug("assignment", "instance", c.id, "threads", c.threads, "lags", fmt.Sprint(c.lag),
				"active", fmt.Sprint(res.active[c.id]), "standby", fmt.Sprint(res.standby[c.id]), "warmup", fmt.Sprint(res.warmup[c.id]), "probe", res.probe)
		}
	}

	plan := cb.NewPlan()
	owners := map[taskKey]string{}
	replicas := map[taskKey][]string{}
	standbysOf := map[string][]taskKey{}
	for _, c := range clients {
		var ms []haMember
		memberIdx := map[string]int{}
		for m := range n {
			if clientOf[m] == c.id {
				memberIdx[members[m].MemberID] = m
				ms = append(ms, haMember{id: members[m].MemberID, prevActive: prevActive[m], prevStandby: infos[m].standbys})
			}
		}
		slices.SortFunc(ms, func(x, y haMember) int { return cmp.Compare(x.id, y.id) })
		activeOf, standbyOf := spreadOverThreads(ms, res.active[c.id], slices.Concat(res.standby[c.id], res.warmup[c.id]))
		for id, ks := range activeOf {
			m := memberIdx[id]
			member, _ := cb.MemberAt(m)
			for _, k := range ks {
				moving := false
				for _, tp := range byKey[k].tps {
					plan.AddPartition(member, tp.topic, tp.partition)
					if c, ok := claims[tp]; ok && c.member != m {
						moving = true
					}
				}
				if infos[m].server != "" {
					owners[k] = infos[m].server
				}
				// A task that moves is revoked from its owner in this
				// rebalance and assigned in the next (AdjustCooperative):
				// meanwhile a new owner that holds a standby of it keeps
				// it, so that the task arrives with its state.
				if moving && slices.Contains(infos[m].standbys, k) && !slices.Contains(standbyOf[id], k) {
					standbyOf[id] = append(standbyOf[id], k)
				}
			}
		}
		for id, ks := range standbyOf {
			m := memberIdx[id]
			standbysOf[id] = ks
			for _, k := range ks {
				if infos[m].server != "" && !slices.Contains(replicas[k], infos[m].server) {
					replicas[k] = append(replicas[k], infos[m].server)
				}
			}
		}
	}
	plan.AdjustCooperative(cb)
	return ownersPlan{plan: plan, info: func(member string) []byte {
		return encodeAssignment(assignmentInfo{owners: owners, replicas: replicas, standbys: standbysOf[member], probe: res.probe})
	}}
}

// lags works out, per member, how many changelog records it lacks of each
// stateful task: the sum of the ends of the task's followed changelog
// partitions less the sum of the member's positions there (none: it lacks
// them all). Without the ends (the cluster did not answer), a member that
// has any state of a task counts as caught up on it, and one that has
// none is left out (it would restore from scratch), so that the
// assignment stays sticky.
func (b *taskBalancer) lags(keys []taskKey, stateful map[taskKey]bool, infos []subscriptionInfo) []map[taskKey]int64 {
	var topics []string
	for sub, ts := range b.changelogs {
		_ = sub
		for _, t := range ts {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	var ends map[TopicPartition]int64
	if len(topics) > 0 && b.endOffsets != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		ends, err = b.endOffsets(ctx, topics)
		cancel()
		if err != nil && b.log != nil {
			b.log.Warn("assignment: reading the changelogs' end offsets failed; every instance with a task's state counts as caught up on it", "error", err)
		}
	}
	// As in Kafka Streams, a member with no state of a task lacks all of
	// its changelogs, which may be few enough to count as caught up.
	out := make([]map[taskKey]int64, len(infos))
	for m, info := range infos {
		out[m] = map[taskKey]int64{}
		for _, k := range keys {
			if !stateful[k] {
				continue
			}
			pos, has := info.positions[k]
			switch {
			case has && (pos == caughtUp || ends == nil):
				out[m][k] = 0
			case ends != nil:
				var end int64
				for _, t := range b.changelogs[k.sub] {
					end += ends[TopicPartition{Topic: t, Partition: k.partition}]
				}
				out[m][k] = max(end-max(pos, 0), 0)
			}
		}
	}
	return out
}
