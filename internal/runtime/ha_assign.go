package runtime

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// This file is the assignment algorithm of Kafka Streams' high-availability
// task assignor (KIP-441) as pure functions over plain data: the group
// leader gathers, per instance, its threads, its previous tasks and its
// lag on each stateful task, and assignHA decides which instance runs each
// task, which instances keep standbys, and where warm-up replicas go.
// spreadOverThreads then splits one instance's share over its threads.
//
// The idea of KIP-441 is that a stateful task never moves to an instance
// that would have to restore its state first while another instance could
// run it at once: the task stays on a caught-up instance, the instance the
// balance wants gets a warm-up replica, and a probing rebalance moves the
// task when the warm-up has caught up. Over a few rebalances the
// assignment converges on the balanced one without a restore pause.
//
// assignHA works in four steps:
//
//  1. A balanced target for every task (haPlan.balancedTargets): quotas by
//     threads, sticky to the previous active owner, each sub-topology
//     spread (no instance above its share of one, rounded up), and the
//     tasks that move sent where their state already is; then, if need
//     be, changed as little as possible so that every instance is within
//     one task of its share of each sub-topology, of the stateful tasks
//     and of all tasks (haPlan.boundTargets).
//  2. The actives (haPlan.placeActives): a stateful task whose target is
//     not caught up stays on a caught-up instance (it is parked).
//  3. The standbys (haPlan.placeStandbys): on instances that have the
//     state first, then on the least loaded, then balanced by load.
//  4. The warm-ups (haPlan.placeWarmups): one on the target of each parked
//     task, up to haConfig.maxWarmups, unless a standby is there already.
//
// Where this differs from Kafka Streams:
//
//   - The target is sticky and state-aware by itself. Kafka Streams deals
//     the stateful tasks round-robin and balances them, and stickiness
//     comes only from parking tasks on caught-up instances; here a task
//     keeps its owner while the owner is within its quota, so an instance
//     that joins or leaves moves only about its share, stateless tasks
//     included, and every instance is held to its share of each
//     sub-topology.
//   - A parked task stays on its previous owner if that is caught up, else
//     on the caught-up instance with the least lag; Kafka Streams takes the
//     least loaded caught-up instance, one with a standby first.
//   - A standby is not moved to a caught-up instance with a warm-up left on
//     the instance the balance wanted (Kafka's standby movements); standbys
//     prefer instances that have the state when they are placed, and only
//     the actives get warm-ups.
//   - probe is also true when a parked task's target holds a standby of it
//     (which then stands in for the warm-up, so none is placed): the task
//     still has to move once that standby has caught up, and without a
//     probing rebalance it would wait for the next unrelated one. Kafka
//     Streams counts that movement too.
//   - A task missing from an instance's lag has no state there, and is
//     never caught up (Kafka Streams computes the lag from the changelog's
//     end, so an empty changelog makes every instance caught up). A caller
//     that knows the changelogs' ends can put the full lag in instead.

// haClient is one instance (process) of the app in the group, as the
// leader sees it.
type haClient struct {
	// id is the process id, unique per instance; clients are ordered by
	// it, for determinism.
	id string
	// threads is the number of its stream threads (group members), its
	// capacity; values below 1 count as 1.
	threads int
	// prevActive are the tasks its threads ran as active in the previous
	// generation.
	prevActive []taskKey
	// prevStandby are the tasks it held as standby (or warm-up) in the
	// previous generation.
	prevStandby []taskKey
	// lag is, per stateful task whose state the instance has (running,
	// standby, or on disk from a checkpoint), how many changelog records
	// it lacks (0: caught up; a negative lag counts as 0). A task missing
	// from lag has no state there: it would restore from scratch. A task
	// the instance runs as active belongs in lag too, with 0.
	lag map[taskKey]int64
}

// haConfig is what of the app's Config the assignor uses.
type haConfig struct {
	// standbys is Config.NumStandbyReplicas: the standbys of each
	// stateful task, at most one per instance other than its active's.
	// Negative counts as 0.
	standbys int
	// maxWarmups is Config.MaxWarmupReplicas (default 2): the warm-ups one
	// assignment may place, over all tasks. Values below 1 count as 1, as
	// Kafka Streams requires at least one (with none, a parked task could
	// never move).
	maxWarmups int
	// acceptableLag is Config.AcceptableRecoveryLag (default 10,000): an
	// instance whose lag on a task is at most this is caught up on it.
	// math.MaxInt64 makes every instance caught up on every task, state
	// or not (no warm-ups ever); negative counts as 0.
	acceptableLag int64
}

// haAssignment is what assignHA decided. Clients with nothing of a kind
// have no entry in its map.
type haAssignment struct {
	active  map[string][]taskKey // per client id, sorted
	standby map[string][]taskKey // per client id, sorted: real standbys
	// warmup is, per client id, sorted, the warm-up replicas: standbys
	// beyond haConfig.standbys, placed where a task should move once they
	// have caught up.
	warmup map[string][]taskKey
	// probe is true when a probing rebalance should follow: warm-ups were
	// placed (or a parked task's target holds a standby of it), and their
	// tasks should move once caught up.
	probe bool
}

// compareTasks orders tasks by sub-topology, then partition, as Kafka
// Streams orders its TaskIds.
func compareTasks(a, b taskKey) int {
	return cmp.Or(cmp.Compare(a.sub, b.sub), cmp.Compare(a.partition, b.partition))
}

// sortedTasks returns tasks sorted, without duplicates, in a new slice.
func sortedTasks(tasks []taskKey) []taskKey {
	out := slices.Clone(tasks)
	slices.SortFunc(out, compareTasks)
	return slices.Compact(out)
}

// assignHA assigns tasks (all of them; stateful says which have
// changelogged state) to clients, as Kafka Streams'
// HighAvailabilityTaskAssignor does: every task one active, balanced by
// threads, sticky, lag-aware (a warm-up where a move would mean a
// restore), and min(cfg.standbys, clients-1) standbys per stateful task.
// The same input, in any order, gives the same output.
func assignHA(tasks []taskKey, stateful map[taskKey]bool, clients []haClient, cfg haConfig) haAssignment {
	p := newHAPlan(tasks, stateful, clients, cfg)
	if len(p.clients) == 0 {
		return haAssignment{active: map[string][]taskKey{}, standby: map[string][]taskKey{}, warmup: map[string][]taskKey{}}
	}
	p.balancedTargets()
	p.boundTargets()
	p.placeActives()
	p.placeStandbys()
	probe := p.placeWarmups()
	return p.result(probe)
}

// unknownLag is the lag of a client that has no state of a task.
const unknownLag int64 = math.MaxInt64

// haPlan is the working state of one assignHA call. Clients and tasks are
// indexes into clients and tasks, both sorted, and every choice breaks its
// ties by index, so the same input gives the same output.
type haPlan struct {
	cfg     haConfig
	clients []haClient  // by id
	threads []int       // per client, >= 1
	total   int         // the threads of all clients
	tasks   []taskKey   // sorted, without duplicates
	state   []bool      // per task: stateful
	subN    map[int]int // tasks per sub-topology

	prevActive  []map[int]bool // per client: task indexes
	prevStandby []map[int]bool // per client: task indexes
	owner       []int          // per task: its previous active client, or -1

	target  []int          // per task: its client in the balanced assignment
	active  []int          // per task: its active client
	parked  []int          // tasks whose active is not their target, in task order
	standby []map[int]bool // per client: standby task indexes
	warmup  []map[int]bool // per client: warm-up task indexes
	load    []int          // per client: actives plus standbys
}

func newHAPlan(tasks []taskKey, stateful map[taskKey]bool, clients []haClient, cfg haConfig) *haPlan {
	cfg.standbys = max(cfg.standbys, 0)
	cfg.maxWarmups = max(cfg.maxWarmups, 1)
	cfg.acceptableLag = max(cfg.acceptableLag, 0)
	p := &haPlan{cfg: cfg, tasks: sortedTasks(tasks), subN: map[int]int{}}
	p.clients = slices.Clone(clients)
	slices.SortStableFunc(p.clients, func(a, b haClient) int { return cmp.Compare(a.id, b.id) })

	index := make(map[taskKey]int, len(p.tasks))
	p.state = make([]bool, len(p.tasks))
	for ti, t := range p.tasks {
		index[t] = ti
		p.state[ti] = stateful[t]
		p.subN[t.sub]++
	}
	indexes := func(ts []taskKey) map[int]bool {
		set := map[int]bool{}
		for _, t := range ts {
			if ti, ok := index[t]; ok {
				set[ti] = true
			}
		}
		return set
	}
	nc := len(p.clients)
	p.threads = make([]int, nc)
	p.prevActive = make([]map[int]bool, nc)
	p.prevStandby = make([]map[int]bool, nc)
	p.standby = make([]map[int]bool, nc)
	p.warmup = make([]map[int]bool, nc)
	for c, cl := range p.clients {
		p.threads[c] = max(cl.threads, 1)
		p.total += p.threads[c]
		p.prevActive[c] = indexes(cl.prevActive)
		p.prevStandby[c] = indexes(cl.prevStandby)
		p.standby[c] = map[int]bool{}
		p.warmup[c] = map[int]bool{}
	}

	// A task two clients claim (one of them missed a rebalance) belongs to
	// the one with the least lag on it: that is where its state is.
	p.owner = make([]int, len(p.tasks))
	for ti := range p.tasks {
		p.owner[ti] = -1
		for c := range nc {
			if p.prevActive[c][ti] && (p.owner[ti] < 0 || p.lag(c, ti) < p.lag(p.owner[ti], ti)) {
				p.owner[ti] = c
			}
		}
	}
	return p
}

// lag is how far client c is behind on task ti, unknownLag without state.
func (p *haPlan) lag(c, ti int) int64 {
	l, ok := p.clients[c].lag[p.tasks[ti]]
	if !ok {
		return unknownLag
	}
	return max(l, 0)
}

// caughtUp says whether client c could run task ti without restoring more
// than the acceptable lag.
func (p *haPlan) caughtUp(c, ti int) bool {
	return p.cfg.acceptableLag == math.MaxInt64 || p.lag(c, ti) <= p.cfg.acceptableLag
}

// heldBefore says whether client c had task ti, active or standby, in the
// previous generation.
func (p *haPlan) heldBefore(c, ti int) bool {
	return p.prevActive[c][ti] || p.prevStandby[c][ti]
}

// hasState says whether client c has some of task ti's state.
func (p *haPlan) hasState(c, ti int) bool {
	_, ok := p.clients[c].lag[p.tasks[ti]]
	return ok || p.heldBefore(c, ti)
}

// perThread compares x tasks on client c with y tasks on client d, per
// thread, without division.
func (p *haPlan) perThread(x, c, y, d int) int {
	return cmp.Compare(x*p.threads[d], y*p.threads[c])
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// balancedTargets decides where every task would run in a balanced
// assignment, ignoring whether the client is caught up, but steering the
// tasks that must move toward clients that have their state, so that as
// few warm-ups as possible are needed and those already placed are used.
func (p *haPlan) balancedTargets() {
	n, nc := len(p.tasks), len(p.clients)
	owned := make([][]int, nc)
	for ti, c := range p.owner {
		if c >= 0 {
			owned[c] = append(owned[c], ti)
		}
	}

	// Quotas: each client gets its share of the tasks by threads, rounded
	// down, and the tasks left over go one each to clients whose share has
	// a fraction, so that no client is a whole task off its share. Which of
	// them take one is decided as the tasks are placed: first those that
	// owned more than their quota (fewer tasks move), then where the deal
	// finds the state.
	quota := make([]int, nc)
	rest := make([]int, nc)
	extras := n
	for c := range nc {
		quota[c] = n * p.threads[c] / p.total
		rest[c] = n * p.threads[c] % p.total
		extras -= quota[c]
	}

	// A client holds at most its share (rounded up) of each sub-topology,
	// so that a sub-topology's tasks and state are spread over the clients
	// rather than all on the few that happen to own them.
	subCap := func(c, s int) int {
		return (p.subN[s]*p.threads[c] + p.total - 1) / p.total
	}
	p.target = make([]int, n)
	count := make([]int, nc)
	perSub := make([]map[int]int, nc)
	for c := range nc {
		perSub[c] = map[int]int{}
	}
	for ti := range p.target {
		p.target[ti] = -1
	}
	give := func(ti, c int) {
		if count[c] == quota[c] {
			extras--
		}
		p.target[ti] = c
		count[c]++
		perSub[c][p.tasks[ti].sub]++
	}
	// At least extras clients have a fraction (the fractions add up to
	// extras whole tasks, each less than one), so while a task is left
	// some client has room.
	room := func(c int) bool {
		return count[c] < quota[c] || count[c] == quota[c] && rest[c] > 0 && extras > 0
	}
	underCap := func(c, ti int) bool {
		s := p.tasks[ti].sub
		return perSub[c][s] < subCap(c, s)
	}

	// Keep: every client keeps what it owned, up to its quota and caps.
	// What is hardest to move is kept first: stateful tasks before
	// stateless ones, then the tasks no other client has state for; what
	// another client is warm on (a warm-up placed last time) goes first.
	warmElsewhere := make([]int64, n)
	mine := make([][]int, nc)
	for c := range nc {
		for _, ti := range owned[c] {
			warmElsewhere[ti] = unknownLag
			for d := range nc {
				if d != c && p.state[ti] {
					warmElsewhere[ti] = min(warmElsewhere[ti], p.lag(d, ti))
				}
			}
		}
		mine[c] = slices.Clone(owned[c])
		slices.SortStableFunc(mine[c], func(a, b int) int {
			return cmp.Or(cmpBool(p.state[b], p.state[a]), cmp.Compare(warmElsewhere[b], warmElsewhere[a]), cmp.Compare(a, b))
		})
		for _, ti := range mine[c] {
			if count[c] < quota[c] && underCap(c, ti) {
				give(ti, c)
			}
		}
	}
	// Then one more each for the clients that owned more, the largest
	// fractions first, then those that owned the most.
	order := make([]int, nc)
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(rest[b], rest[a]), cmp.Compare(len(owned[b]), len(owned[a])))
	})
	for _, c := range order {
		for _, ti := range mine[c] {
			if p.target[ti] < 0 && room(c) && underCap(c, ti) {
				give(ti, c)
				break
			}
		}
	}

	// Deal the rest. Caught-up clients compare equal on lag (any of them
	// can take the task at once); among the others the least lag wins.
	better := func(ti, c, d int) bool {
		s := p.tasks[ti].sub
		var lagC, lagD int64
		upC, upD := true, true
		if p.state[ti] {
			upC, upD = p.caughtUp(c, ti), p.caughtUp(d, ti)
			if !upC && !upD {
				lagC, lagD = p.lag(c, ti), p.lag(d, ti)
			}
		}
		return cmp.Or(
			cmpBool(!underCap(c, ti), !underCap(d, ti)),
			cmpBool(!upC, !upD),
			cmp.Compare(lagC, lagD),
			p.perThread(perSub[c][s], c, perSub[d][s], d),
			p.perThread(count[c], c, count[d], d),
			cmp.Compare(c, d),
		) < 0
	}
	choose := func(ti int, ok func(c int) bool) int {
		best := -1
		for c := range nc {
			if ok(c) && (best < 0 || better(ti, c, best)) {
				best = c
			}
		}
		return best
	}
	// First the stateful tasks some client with room is caught up on, so
	// that the room of a caught-up client is not taken by a task it would
	// have to restore.
	for ti := range n {
		if p.target[ti] >= 0 || !p.state[ti] {
			continue
		}
		if c := choose(ti, func(c int) bool { return room(c) && underCap(c, ti) && p.caughtUp(c, ti) }); c >= 0 {
			give(ti, c)
		}
	}
	// Then the others; room holds for some client while a task is left.
	for ti := range n {
		if p.target[ti] < 0 {
			give(ti, choose(ti, room))
		}
	}

	// The deal is greedy: its last tasks may find room only on a client
	// that holds its share of their sub-topology already. A placement
	// within every cap always exists (the fractional one, share by threads
	// of every sub-topology, is within all bounds, so an integral one is
	// too), and a few exchanges usually reach it: a task of the
	// sub-topology goes from such a client to one below its share, for a
	// task of another sub-topology, or for nothing when the other client
	// may take a left-over task instead. Each step lowers the tasks held
	// beyond the caps, so the repair ends; the cheapest step is taken
	// first, keeping tasks on their previous owner and on caught-up
	// clients.
	cost := func(ti, c int) int {
		switch {
		case p.owner[ti] == c:
			return 0
		case !p.state[ti] || p.caughtUp(c, ti):
			return 1
		default:
			return 2
		}
	}
	move := func(ti, c int) {
		from, s := p.target[ti], p.tasks[ti].sub
		count[from]--
		perSub[from][s]--
		p.target[ti] = c
		count[c]++
		perSub[c][s]++
	}
	subs := slices.Sorted(maps.Keys(p.subN))
	held := make([]map[int][]int, nc) // per client and sub-topology: tasks
	cheapest := func(c, s, to int) (int, int) {
		best, delta := -1, 0
		for _, ti := range held[c][s] {
			if d := cost(ti, to) - cost(ti, c); best < 0 || d < delta {
				best, delta = ti, d
			}
		}
		return best, delta
	}
	for {
		for c := range held {
			held[c] = map[int][]int{}
		}
		for ti, c := range p.target {
			held[c][p.tasks[ti].sub] = append(held[c][p.tasks[ti].sub], ti)
		}
		x, y, to, best := -1, -1, -1, 0
		for c := range nc {
			for _, s := range subs {
				if perSub[c][s] <= subCap(c, s) {
					continue
				}
				for d := range nc {
					if d == c || perSub[d][s] >= subCap(d, s) {
						continue
					}
					tx, dx := cheapest(c, s, d)
					if count[c] > quota[c] && count[d] == quota[d] && rest[d] > 0 && (x < 0 || dx < best) {
						x, y, to, best = tx, -1, d, dx
					}
					for _, s2 := range subs {
						if s2 == s || perSub[c][s2] >= subCap(c, s2) || perSub[d][s2] == 0 {
							continue
						}
						ty, dy := cheapest(d, s2, c)
						if x < 0 || dx+dy < best {
							x, y, to, best = tx, ty, d, dx+dy
						}
					}
				}
			}
		}
		if x < 0 {
			return
		}
		if y >= 0 {
			move(y, p.target[x])
		}
		move(x, to)
	}
}

// placeActives gives every task its active client: its target, unless the
// task is stateful, the target is not caught up on it and another client
// is; then the task is parked on a caught-up client (its previous owner if
// it is one, else the one with the least lag, then the fewest actives per
// thread) and waits there for a warm-up on its target.
func (p *haPlan) placeActives() {
	nc := len(p.clients)
	p.active = slices.Clone(p.target)
	p.load = make([]int, nc)
	var away []int
	for ti, g := range p.target {
		if p.state[ti] && !p.caughtUp(g, ti) && p.anyCaughtUp(ti) {
			away = append(away, ti)
			continue
		}
		p.load[g]++
	}
	for _, ti := range away {
		c := p.owner[ti]
		if c < 0 || !p.caughtUp(c, ti) {
			c = -1
			for d := range nc {
				if p.caughtUp(d, ti) && (c < 0 || cmp.Or(cmp.Compare(p.lag(d, ti), p.lag(c, ti)), p.perThread(p.load[d], d, p.load[c], c)) < 0) {
					c = d
				}
			}
		}
		p.active[ti] = c
		p.load[c]++
		p.parked = append(p.parked, ti)
	}
}

// anyCaughtUp says whether some client is caught up on task ti.
func (p *haPlan) anyCaughtUp(ti int) bool {
	for c := range p.clients {
		if p.caughtUp(c, ti) {
			return true
		}
	}
	return false
}

// placeStandbys gives every stateful task min(standbys, clients-1)
// standbys, each on a client other than its active's and its other
// standbys'.
func (p *haPlan) placeStandbys() {
	nc := len(p.clients)
	k := min(p.cfg.standbys, nc-1)
	if k <= 0 {
		return
	}
	need := make([]int, len(p.tasks))
	all := len(p.tasks)
	for ti := range p.tasks {
		if p.state[ti] {
			need[ti] = k
			all += k
		}
	}
	share := func(c int) int { return (all*p.threads[c] + p.total - 1) / p.total }
	add := func(c, ti int) {
		p.standby[c][ti] = true
		p.load[c]++
		need[ti]--
	}
	eligible := func(c, ti int) bool { return c != p.active[ti] && !p.standby[c][ti] }

	// First the clients that have the state (the least lag first, then
	// those that held the task), up to their share of all the load: their
	// standby is warm already, so failover stays quick.
	for ti := range p.tasks {
		var warm []int
		for c := range nc {
			if need[ti] > 0 && eligible(c, ti) && p.hasState(c, ti) {
				warm = append(warm, c)
			}
		}
		slices.SortStableFunc(warm, func(a, b int) int {
			return cmp.Or(cmp.Compare(p.lag(a, ti), p.lag(b, ti)), cmpBool(!p.heldBefore(a, ti), !p.heldBefore(b, ti)))
		})
		for _, c := range warm {
			if need[ti] > 0 && p.load[c] < share(c) {
				add(c, ti)
			}
		}
	}
	// Then the least loaded per thread; k < clients, so there is always an
	// eligible one.
	for ti := range p.tasks {
		for need[ti] > 0 {
			best := -1
			for c := range nc {
				if eligible(c, ti) && (best < 0 || p.perThread(p.load[c], c, p.load[best], best) < 0) {
					best = c
				}
			}
			add(best, ti)
		}
	}
	p.balanceStandbys()
}

// balanceStandbys moves standbys from the clients with the most load per
// thread to those with the least, as Kafka Streams does after placing them:
// a move is made while it leaves the source at least as loaded per thread
// as the destination. Each move lowers the sum of load²/threads over the
// clients, so the loop ends.
func (p *haPlan) balanceStandbys() {
	nc := len(p.clients)
	for moved := true; moved; {
		moved = false
		for src := range nc {
			for dst := range nc {
				for src != dst && p.perThread(p.load[src]-1, src, p.load[dst]+1, dst) >= 0 {
					ti := p.standbyToMove(src, dst)
					if ti < 0 {
						break
					}
					delete(p.standby[src], ti)
					p.load[src]--
					p.standby[dst][ti] = true
					p.load[dst]++
					moved = true
				}
			}
		}
	}
}

// standbyToMove picks a standby of src that dst may take: the one dst has
// the most state of, then the one src has the least of, or -1.
func (p *haPlan) standbyToMove(src, dst int) int {
	best := -1
	for ti := range p.standby[src] {
		if p.active[ti] == dst || p.standby[dst][ti] {
			continue
		}
		// The order is total, so the map's order does not matter.
		if best < 0 || cmp.Or(cmp.Compare(p.lag(dst, ti), p.lag(dst, best)), cmp.Compare(p.lag(src, best), p.lag(src, ti)), cmp.Compare(ti, best)) < 0 {
			best = ti
		}
	}
	return best
}

// placeWarmups places a warm-up on the target of each parked task, up to
// cfg.maxWarmups in all, the tasks with the fewest caught-up clients first
// (as Kafka Streams orders its task movements). A target that holds a
// standby of the task needs none: the standby catches up all the same. It
// returns whether a probing rebalance should follow, that is whether any
// task is parked.
func (p *haPlan) placeWarmups() bool {
	caught := make(map[int]int, len(p.parked))
	for _, ti := range p.parked {
		for c := range p.clients {
			if p.caughtUp(c, ti) {
				caught[ti]++
			}
		}
	}
	order := slices.Clone(p.parked)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(caught[a], caught[b]), cmp.Compare(a, b)) })
	budget := p.cfg.maxWarmups
	for _, ti := range order {
		g := p.target[ti]
		if budget == 0 || p.standby[g][ti] {
			continue
		}
		p.warmup[g][ti] = true
		budget--
	}
	return len(p.parked) > 0
}

func (p *haPlan) result(probe bool) haAssignment {
	a := haAssignment{active: map[string][]taskKey{}, standby: map[string][]taskKey{}, warmup: map[string][]taskKey{}, probe: probe}
	for ti, c := range p.active {
		id := p.clients[c].id
		a.active[id] = append(a.active[id], p.tasks[ti]) // in task order, so sorted
	}
	keys := func(set map[int]bool) []taskKey {
		var out []taskKey
		for _, ti := range slices.Sorted(maps.Keys(set)) {
			out = append(out, p.tasks[ti])
		}
		return out
	}
	for c, cl := range p.clients {
		if s := keys(p.standby[c]); len(s) > 0 {
			a.standby[cl.id] = s
		}
		if w := keys(p.warmup[c]); len(w) > 0 {
			a.warmup[cl.id] = w
		}
	}
	return a
}

// haMember is one stream thread (group member) of a client.
type haMember struct {
	id          string // member id; members are ordered by it
	prevActive  []taskKey
	prevStandby []taskKey
}

// spreadOverThreads splits a client's active and standby (standbys and
// warm-ups together) tasks over its members, as Kafka Streams'
// assignTasksToThreads does: actives balanced by count (within one),
// sticky to the member that had the task as active, else to the member
// that had it as standby (so a promoted standby's state is on that thread
// already), each sub-topology spread; standbys likewise balanced and
// sticky (to the member that had the standby, else the one that had the
// active), the members with fewer actives taking the odd standbys. A task
// given both as active and standby is taken as active only, so a member
// never holds the active and a standby of one task. Members with no task
// of a kind have no entry in its map; without members nothing is
// assigned.
func spreadOverThreads(members []haMember, active, standby []taskKey) (activeOf, standbyOf map[string][]taskKey) {
	activeOf, standbyOf = map[string][]taskKey{}, map[string][]taskKey{}
	if len(members) == 0 {
		return activeOf, standbyOf
	}
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, func(a, b haMember) int { return cmp.Compare(a.id, b.id) })
	actives := sortedTasks(active)
	standbys := slices.DeleteFunc(sortedTasks(standby), func(t taskKey) bool {
		_, found := slices.BinarySearchFunc(actives, t, compareTasks)
		return found
	})

	// Should two members claim one task, the first by id has it.
	prevActive, prevStandby := map[taskKey]int{}, map[taskKey]int{}
	for i, m := range ms {
		for _, t := range m.prevActive {
			if _, ok := prevActive[t]; !ok {
				prevActive[t] = i
			}
		}
		for _, t := range m.prevStandby {
			if _, ok := prevStandby[t]; !ok {
				prevStandby[t] = i
			}
		}
	}
	counts := make([]int, len(ms))
	for i, ts := range spreadTasks(len(ms), actives, []map[taskKey]int{prevActive, prevStandby}, counts) {
		counts[i] = len(ts)
		if len(ts) > 0 {
			activeOf[ms[i].id] = ts
		}
	}
	for i, ts := range spreadTasks(len(ms), standbys, []map[taskKey]int{prevStandby, prevActive}, counts) {
		if len(ts) > 0 {
			standbyOf[ms[i].id] = ts
		}
	}
	return activeOf, standbyOf
}

// spreadTasks splits tasks (sorted) over m members, len(tasks)/m each and
// one more for the first len(tasks)%m that take one: first to the members
// that claim them (claims in order of preference: task -> member), up to
// each member's share of every sub-topology, then the rest to the member
// with the fewest of the task's sub-topology, the fewest tasks, the lowest
// others (the member's other load), in that order.
func spreadTasks(m int, tasks []taskKey, claims []map[taskKey]int, others []int) [][]taskKey {
	n := len(tasks)
	base, extra := n/m, n%m
	subN := map[int]int{}
	for _, t := range tasks {
		subN[t.sub]++
	}
	subCap := func(s int) int { return (subN[s] + m - 1) / m }
	out := make([][]taskKey, m)
	perSub := make([]map[int]int, m)
	for i := range perSub {
		perSub[i] = map[int]int{}
	}
	placed := make(map[taskKey]bool, n)
	extras := 0
	// While the members at base+1 are fewer than extra, and all are at
	// most there, every task finds a member and all end within one.
	fits := func(i int) bool { return len(out[i]) < base || len(out[i]) == base && extras < extra }
	give := func(i int, t taskKey) {
		if len(out[i]) == base {
			extras++
		}
		out[i] = append(out[i], t)
		perSub[i][t.sub]++
		placed[t] = true
	}

	// Sticky up to the base first, so that the odd tasks go to claimants
	// only once every claimant has had its base.
	upToBase := func(i int) bool { return len(out[i]) < base }
	for _, limit := range []func(int) bool{upToBase, fits} {
		for _, claim := range claims {
			for _, t := range tasks {
				if i, ok := claim[t]; ok && !placed[t] && limit(i) && perSub[i][t.sub] < subCap(t.sub) {
					give(i, t)
				}
			}
		}
	}
	for _, t := range tasks {
		if placed[t] {
			continue
		}
		best := -1
		for i := range m {
			if !fits(i) {
				continue
			}
			if best < 0 || cmp.Or(
				cmpBool(perSub[i][t.sub] >= subCap(t.sub), perSub[best][t.sub] >= subCap(t.sub)),
				cmp.Compare(perSub[i][t.sub], perSub[best][t.sub]),
				cmp.Compare(len(out[i]), len(out[best])),
				cmp.Compare(others[i], others[best]),
			) < 0 {
				best = i
			}
		}
		give(best, t)
	}
	for i := range out {
		slices.SortFunc(out[i], compareTasks)
	}
	return out
}

// shareBounds returns the floor and ceiling of client c's share by threads
// of n tasks.
func (p *haPlan) shareBounds(n, c int) (lo, hi int) {
	lo = n * p.threads[c] / p.total
	hi = lo
	if n*p.threads[c]%p.total > 0 {
		hi++
	}
	return lo, hi
}

// boundTargets makes the balanced targets keep three bounds at once, each
// within one task of the client's share by threads: of every sub-topology,
// of the stateful tasks, and of all tasks. balancedTargets keeps the first
// (its ceiling) and the last, but fills the quotas with any task, so one
// client could end up with the stateless tasks only: with 3 equal clients,
// 4 stateful and 4 stateless tasks, 2/2/0 stateful within quotas 3/3/2.
// Kafka Streams balances the stateful tasks first, on their own, then
// evens out the totals with the stateless ones.
//
// If the targets break a bound, they are changed as little as a min-cost
// flow can: a task keeps its target for free, and moving it costs more
// when it leaves its previous owner or goes where it is not caught up. The
// bounds per client are laminar (a sub-topology within the stateful tasks
// or the stateless ones, those within all), and each task goes to one
// client, so the constraints are totally unimodular and the fractional
// assignment, share by threads of everything, proves that an integral one
// exists.
//
// The stateful bound counts the tasks of the sub-topologies that have
// state, which are the stateful tasks: a sub-topology's tasks share its
// stores. (Should a caller mark only some of a sub-topology's tasks
// stateful, the sub-topology counts as stateful; otherwise its bound and
// the stateful one would cross and no integral assignment need exist.)
func (p *haPlan) boundTargets() {
	n, nc := len(p.tasks), len(p.clients)
	subs := slices.Sorted(maps.Keys(p.subN))
	subIdx := make(map[int]int, len(subs))
	for i, s := range subs {
		subIdx[s] = i
	}
	statefulSub := make([]bool, len(subs))
	for ti, st := range p.state {
		if st {
			statefulSub[subIdx[p.tasks[ti].sub]] = true
		}
	}
	nState := 0
	for ti := range p.tasks {
		if statefulSub[subIdx[p.tasks[ti].sub]] {
			nState++
		}
	}

	count, state := make([]int, nc), make([]int, nc)
	per := make([][]int, nc)
	for c := range per {
		per[c] = make([]int, len(subs))
	}
	for ti, c := range p.target {
		si := subIdx[p.tasks[ti].sub]
		count[c]++
		per[c][si]++
		if statefulSub[si] {
			state[c]++
		}
	}
	within := func() bool {
		in := func(x, total, c int) bool {
			lo, hi := p.shareBounds(total, c)
			return lo <= x && x <= hi
		}
		for c := range nc {
			if !in(count[c], n, c) || !in(state[c], nState, c) {
				return false
			}
			for si, s := range subs {
				if !in(per[c][si], p.subN[s], c) {
					return false
				}
			}
		}
		return true
	}
	if within() {
		return
	}

	// The network: task -> (client, sub-topology) -> (client, stateful or
	// stateless) -> client -> sink, the bounds on the inner edges. It
	// starts from the targets (each edge's flow clamped to its bounds), so
	// only what they break is routed anew: few augmentations.
	ns := len(subs)
	taskNode := func(ti int) int { return ti }
	subNode := func(c, si int) int { return n + c*ns + si }
	kindNode := func(c int, state bool) int {
		if state {
			return n + nc*ns + 2*c + 1
		}
		return n + nc*ns + 2*c
	}
	clientNode := func(c int) int { return n + nc*ns + 2*nc + c }
	sink := n + nc*ns + 3*nc
	f := newFlow(sink + 1)
	taskEdge := make([][]int, n) // per task, per client: its edge
	for ti := range n {
		f.bounded(-1, taskNode(ti), 1, 1, 0)
		si := subIdx[p.tasks[ti].sub]
		taskEdge[ti] = make([]int, nc)
		for c := range nc {
			taskEdge[ti][c] = f.bounded(taskNode(ti), subNode(c, si), 0, 1, p.moveCost(ti, c))
		}
		f.preload(taskEdge[ti][p.target[ti]], 1)
	}
	for c := range nc {
		for si, s := range subs {
			lo, hi := p.shareBounds(p.subN[s], c)
			f.preload(f.bounded(subNode(c, si), kindNode(c, statefulSub[si]), lo, hi, 0), per[c][si])
		}
		lo, hi := p.shareBounds(nState, c)
		f.preload(f.bounded(kindNode(c, true), clientNode(c), lo, hi, 0), state[c])
		f.preload(f.bounded(kindNode(c, false), clientNode(c), 0, n, 0), count[c]-state[c])
		lo, hi = p.shareBounds(n, c)
		f.preload(f.bounded(clientNode(c), sink, lo, hi, 0), count[c])
	}
	f.bounded(sink, -1, n, n, 0)
	if !f.feasible() {
		return // cannot happen (see above); the targets stay as they are
	}
	for ti := range n {
		for c := range nc {
			if f.used(taskEdge[ti][c]) {
				p.target[ti] = c
			}
		}
	}
}

// moveCost is what boundTargets pays to give task ti to client c: nothing
// for its target, then less for its previous owner and for a client that
// is caught up on it (or any client, for a stateless task).
func (p *haPlan) moveCost(ti, c int) int {
	switch {
	case p.target[ti] == c:
		return 0
	case p.owner[ti] == c:
		return 2
	case !p.state[ti] || p.caughtUp(c, ti):
		return 3
	default:
		return 5
	}
}

// flow is a min-cost flow with lower bounds on edges, solved as a
// circulation: the lower bounds become demands, met from a super source
// to a super sink by successive shortest paths (Bellman-Ford, as the
// residual costs can be negative). The flow may start from a preloaded
// one that has no negative cycle in its residual graph (boundTargets'
// carries flow on cost-0 edges only), so that only the imbalance it
// leaves is routed.
type flow struct {
	adj    [][]int // per node: edge indexes, in the order added
	to     []int   // per edge; edge e^1 is e's reverse
	cap    []int   // per edge: residual capacity
	cost   []int   // per edge
	lower  []int   // per edge: its lower bound (0 for reverse edges)
	excess []int   // per node: lower bounds coming in minus going out
}

func newFlow(nodes int) *flow {
	return &flow{adj: make([][]int, nodes+2), excess: make([]int, nodes+2)}
}

// bounded adds an edge u -> v carrying between lo and hi units at cost
// per unit, and returns its index; -1 as u or v stands for nothing: the
// edge only adds a demand (lo = hi) on its other end.
func (f *flow) bounded(u, v, lo, hi, cost int) int {
	if u < 0 || v < 0 {
		if u >= 0 {
			f.excess[u] -= lo
		}
		if v >= 0 {
			f.excess[v] += lo
		}
		return -1
	}
	f.excess[v] += lo
	f.excess[u] -= lo
	e := len(f.to)
	f.to = append(f.to, v, u)
	f.cap = append(f.cap, hi-lo, 0)
	f.cost = append(f.cost, cost, -cost)
	f.lower = append(f.lower, lo, 0)
	f.adj[u] = append(f.adj[u], e)
	f.adj[v] = append(f.adj[v], e+1)
	return e
}

// preload sets the flow on edge e (from bounded) to x, clamped to its
// bounds.
func (f *flow) preload(e, x int) {
	x = min(max(x-f.lower[e], 0), f.cap[e]+f.cap[e^1])
	f.cap[e], f.cap[e^1] = f.cap[e]+f.cap[e^1]-x, x
}

// used says whether edge e carries flow above its lower bound.
func (f *flow) used(e int) bool { return f.cap[e^1] > 0 }

// feasible meets every demand at the least cost, and says whether it
// could.
func (f *flow) feasible() bool {
	src, dst := len(f.adj)-2, len(f.adj)-1
	// What each node still lacks: its lower bounds' excess plus the
	// preloaded flow in, less the preloaded flow out.
	for e := 0; e < len(f.to); e += 2 {
		f.excess[f.to[e]] += f.cap[e^1]
		f.excess[f.to[e^1]] -= f.cap[e^1]
	}
	need := 0
	for v, x := range f.excess[:src] {
		switch {
		case x > 0:
			f.bounded(src, v, 0, x, 0)
			need += x
		case x < 0:
			f.bounded(v, dst, 0, -x, 0)
		}
	}
	nodes := len(f.adj)
	dist := make([]int, nodes)
	via := make([]int, nodes)
	queued := make([]bool, nodes)
	for need > 0 {
		for v := range dist {
			dist[v], via[v] = math.MaxInt, -1
		}
		dist[src] = 0
		queue := []int{src}
		queued[src] = true
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			queued[u] = false
			for _, e := range f.adj[u] {
				if v := f.to[e]; f.cap[e] > 0 && dist[u]+f.cost[e] < dist[v] {
					dist[v], via[v] = dist[u]+f.cost[e], e
					if !queued[v] {
						queued[v] = true
						queue = append(queue, v)
					}
				}
			}
		}
		if via[dst] < 0 {
			return false
		}
		push := need
		for v := dst; v != src; v = f.to[via[v]^1] {
			push = min(push, f.cap[via[v]])
		}
		for v := dst; v != src; v = f.to[via[v]^1] {
			f.cap[via[v]] -= push
			f.cap[via[v]^1] += push
		}
		need -= push
	}
	return true
}
