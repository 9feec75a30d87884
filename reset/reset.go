package reset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options say what to reset. The zero value of every optional field means
// its documented default; ApplicationID is required.
type Options struct {
	// ApplicationID is the app's streams.Config.ApplicationID: its
	// consumer group and the prefix of its internal topics. Required.
	ApplicationID string
	// InputTopics are the app's input topics, whose committed offsets
	// move to To. Default none: no input offsets change.
	InputTopics []string
	// IntermediateTopics are topics the app both writes and reads (a
	// KStream.Repartition of your own topic, a through topic): their
	// committed offsets move to the end, so that the rerun does not read
	// the first run's records there again; it writes its own. Default none.
	IntermediateTopics []string
	// InternalTopics, if set, are the internal topics to delete instead
	// of those the plan infers. Each must exist and be named
	// "<ApplicationID>-…". Default: every topic named
	// "<ApplicationID>-…" with an internal topic's suffix (see IsInternal).
	InternalTopics []string
	// To is where the input topics' offsets go. Default ToEarliest.
	To Position
	// Force removes the group's members instead of refusing to reset
	// while it has some: for instances that are stopped but that the
	// group still counts, static members (streams.Config.GroupInstanceID)
	// or members of a long session timeout. A running instance that is
	// removed joins again and the reset goes wrong: stop every instance
	// first. Default false.
	Force bool
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Position is where the input topics' committed offsets go: ToEarliest
// (the zero value), ToLatest, ToDatetime, ByDuration, ShiftBy, ToOffset or
// FromOffsets. An offset past a partition's range is moved into it: to
// its earliest or its end offset.
type Position struct {
	kind    positionKind
	n       int64         // ToOffset, ShiftBy
	at      time.Time     // ToDatetime; ByDuration once planned
	ago     time.Duration // ByDuration
	offsets map[TopicPartition]int64
}

type positionKind int

const (
	earliest positionKind = iota
	latest
	datetime
	duration
	shift
	offset
	fromOffsets
)

// ToEarliest moves each partition to its earliest offset, so that the app
// reprocesses everything the topic still holds (Kafka's --to-earliest).
func ToEarliest() Position { return Position{} }

// ToLatest moves each partition to its end, so that the app skips what is
// there now (--to-latest).
func ToLatest() Position { return Position{kind: latest} }

// ToDatetime moves each partition to its first record whose timestamp is
// t or later, or to its end if it has none (--to-datetime).
func ToDatetime(t time.Time) Position { return Position{kind: datetime, at: t} }

// ByDuration is ToDatetime of d before the time the plan is made
// (--by-duration).
func ByDuration(d time.Duration) Position { return Position{kind: duration, ago: d} }

// ShiftBy moves each partition's committed offset by n, back if n is
// negative (--shift-by). A partition with no committed offset is shifted
// from its earliest offset, where the app would start it.
func ShiftBy(n int64) Position { return Position{kind: shift, n: n} }

// ToOffset moves each partition to offset n (--to-offset).
func ToOffset(n int64) Position { return Position{kind: offset, n: n} }

// FromOffsets moves each listed partition to its offset (--from-file); an
// input partition not listed keeps its committed offset. Every listed
// partition must be of an input topic.
func FromOffsets(offsets map[TopicPartition]int64) Position {
	return Position{kind: fromOffsets, offsets: maps.Clone(offsets)}
}

// String says where the position goes, as the plan prints it.
func (p Position) String() string {
	switch p.kind {
	case latest:
		return "the latest offset"
	case datetime:
		return "the first offset at or after " + p.at.Format(time.RFC3339Nano)
	case duration:
		if p.at.IsZero() {
			return "the first offset at or after now minus " + p.ago.String()
		}
		return "the first offset at or after " + p.at.Format(time.RFC3339Nano) + " (now minus " + p.ago.String() + ")"
	case shift:
		return fmt.Sprintf("the committed offset shifted by %+d", p.n)
	case offset:
		return fmt.Sprintf("offset %d", p.n)
	case fromOffsets:
		return "the offsets given per partition"
	default:
		return "the earliest offset"
	}
}

// Member is an active member of the app's consumer group: one stream
// thread of one instance.
type Member struct {
	MemberID, InstanceID, ClientID, ClientHost string
}

func (m Member) String() string {
	s := m.MemberID
	if m.InstanceID != "" {
		s += " (instance " + m.InstanceID + ")"
	}
	if m.ClientHost != "" {
		s += " on " + m.ClientHost
	}
	return s
}

// OffsetChange is one partition's committed offset for the group, before
// and after the reset.
type OffsetChange struct {
	TopicPartition
	// From is the committed offset now, -1 if there is none.
	From int64
	// To is the offset to commit. It equals From (and nothing is
	// committed) for a partition FromOffsets does not list.
	To int64
	// Note says why To is not simply what the position asked for: moved
	// into the partition's range, no record after the time, no committed
	// offset to shift from. Empty otherwise.
	Note string
}

// Plan is what a reset does: made by NewPlan, which changes nothing, and
// done by Execute. Print it (String) for a dry run.
type Plan struct {
	// ApplicationID is Options.ApplicationID.
	ApplicationID string
	// To is Options.To, a ByDuration resolved to its time.
	To Position
	// Members are the group's members when the plan was made, which
	// Execute removes; always empty unless Options.Force.
	Members []Member
	// Inputs are the new committed offsets of the input topics'
	// partitions, in the order of Options.InputTopics, then by partition.
	Inputs []OffsetChange
	// Intermediates are those of the intermediate topics: their ends.
	Intermediates []OffsetChange
	// InternalTopics are the topics Execute deletes, sorted.
	InternalTopics []string
	// InternalTopicsGiven says that InternalTopics are
	// Options.InternalTopics rather than inferred.
	InternalTopicsGiven bool

	force bool
	cl    *kgo.Client
	adm   *kadm.Client
}

// GroupNotEmptyError is returned by NewPlan and Execute when the app's
// consumer group has members and Options.Force is not set.
type GroupNotEmptyError struct {
	Group   string
	Members []Member
}

func (e *GroupNotEmptyError) Error() string {
	ms := make([]string, len(e.Members))
	for i, m := range e.Members {
		ms[i] = m.String()
	}
	return fmt.Sprintf("reset: consumer group %q is still active, with %d member(s): %s; stop every instance of the app before resetting it "+
		"(if they are stopped and the group has not yet timed them out, as static members or a long session timeout keep them, force their removal: --force, Options.Force)",
		e.Group, len(e.Members), strings.Join(ms, ", "))
}

// UnknownTopicError is returned by NewPlan for a topic given in Options
// that the cluster does not have.
type UnknownTopicError struct {
	Topic string
	// Role is "input", "intermediate" or "internal": the Options field
	// that named it.
	Role string
}

func (e *UnknownTopicError) Error() string {
	return fmt.Sprintf("reset: %s topic %q does not exist in the cluster; check its name", e.Role, e.Topic)
}

var appIDPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// internalSuffixes end the names of the internal topics an app creates
// ("<application.id>-<name><suffix>"): store changelogs, repartition topics
// (GroupBy, Repartition, joins, topology.AddRepartition) and the
// foreign-key join's subscription and response topics, named or not.
// Kafka's StreamsResetter matches the same.
var (
	internalSuffixes = []string{"-changelog", "-repartition", "-subscription-registration-topic", "-subscription-response-topic"}
	generatedFKTopic = regexp.MustCompile(`.+-KTABLE-FK-JOIN-SUBSCRIPTION-(REGISTRATION|RESPONSE)-[0-9]+-topic$`)
)

// IsInternal says whether topic is named as one of the internal topics of
// the app applicationID: "<applicationID>-…" ending in "-changelog",
// "-repartition", "-subscription-registration-topic" or
// "-subscription-response-topic" (a foreign-key join's). An internal topic
// added with topology.AddInternalTopic under a name of its own is not
// recognized: name it in Options.InternalTopics.
func IsInternal(applicationID, topic string) bool {
	rest, ok := strings.CutPrefix(topic, applicationID+"-")
	if !ok || rest == "" {
		return false
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(rest, s) && len(rest) > len(s) {
			return true
		}
	}
	return generatedFKTopic.MatchString(topic)
}

func (o *Options) validate() error {
	var problems []string
	switch {
	case o.ApplicationID == "":
		problems = append(problems, "no application id: give the app's streams.Config.ApplicationID, its consumer group")
	case !appIDPattern.MatchString(o.ApplicationID):
		problems = append(problems, fmt.Sprintf("application id %q cannot be an app's: it may contain only letters, digits, '.', '_' and '-'", o.ApplicationID))
	}
	role := map[string]string{}
	for _, l := range []struct {
		name   string
		topics []string
	}{{"input", o.InputTopics}, {"intermediate", o.IntermediateTopics}} {
		for _, t := range l.topics {
			switch prev, dup := role[t]; {
			case t == "":
				problems = append(problems, "an empty "+l.name+" topic name")
			case dup && prev == l.name:
				problems = append(problems, fmt.Sprintf("%s topic %q is given twice", l.name, t))
			case dup:
				problems = append(problems, fmt.Sprintf("topic %q is given as both an input and an intermediate topic; it is one or the other", t))
			}
			role[t] = l.name
		}
	}
	for _, t := range o.InternalTopics {
		switch {
		case role[t] != "":
			problems = append(problems, fmt.Sprintf("topic %q is given as an internal topic to delete and as an %s topic", t, role[t]))
		case !strings.HasPrefix(t, o.ApplicationID+"-"):
			problems = append(problems, fmt.Sprintf("internal topic %q is not the app's: the app's internal topics are named %q", t, o.ApplicationID+"-…"))
		}
	}
	switch o.To.kind {
	case duration:
		if o.To.ago < 0 {
			problems = append(problems, fmt.Sprintf("duration %v is negative: ByDuration goes back from now", o.To.ago))
		}
	case fromOffsets:
		for _, tp := range slices.SortedFunc(maps.Keys(o.To.offsets), compareTP) {
			if role[tp.Topic] != "input" {
				problems = append(problems, fmt.Sprintf("offsets are given for %s-%d, which is not of an input topic", tp.Topic, tp.Partition))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New("reset: " + strings.Join(problems, "; "))
	}
	return nil
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// NewPlan works out what resetting the app o.ApplicationID does, through
// cl, and changes nothing: it is the dry run. It refuses (a
// *GroupNotEmptyError) while the app's group has members, unless o.Force,
// and names every topic of o that the cluster lacks (*UnknownTopicError).
func NewPlan(ctx context.Context, cl *kgo.Client, o Options) (*Plan, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	p := &Plan{ApplicationID: o.ApplicationID, To: o.To, force: o.Force, cl: cl, adm: adm}
	if p.To.kind == duration {
		p.To.at = time.Now().Add(-p.To.ago)
	}

	members, err := activeMembers(ctx, adm, o.ApplicationID)
	if err != nil {
		return nil, err
	}
	if len(members) > 0 && !o.Force {
		return nil, &GroupNotEmptyError{Group: o.ApplicationID, Members: members}
	}
	p.Members = members

	all, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("reset: listing the cluster's topics: %w", err)
	}
	exists := func(t string) bool { d, ok := all[t]; return ok && d.Err == nil }
	var unknown []error
	for _, l := range []struct {
		role   string
		topics []string
	}{{"input", o.InputTopics}, {"intermediate", o.IntermediateTopics}, {"internal", o.InternalTopics}} {
		for _, t := range l.topics {
			if !exists(t) {
				unknown = append(unknown, &UnknownTopicError{Topic: t, Role: l.role})
			}
		}
	}
	if len(unknown) > 0 {
		return nil, errors.Join(unknown...)
	}
	if o.To.kind == fromOffsets {
		for _, tp := range slices.SortedFunc(maps.Keys(o.To.offsets), compareTP) {
			if _, ok := all[tp.Topic].Partitions[tp.Partition]; !ok {
				return nil, fmt.Errorf("reset: offsets are given for %s-%d, but %q has %d partitions", tp.Topic, tp.Partition, tp.Topic, len(all[tp.Topic].Partitions))
			}
		}
	}

	if err := p.planOffsets(ctx, o, all); err != nil {
		return nil, err
	}

	if o.InternalTopics != nil {
		p.InternalTopics, p.InternalTopicsGiven = slices.Clone(o.InternalTopics), true
	} else {
		given := map[string]bool{}
		for _, t := range append(slices.Clone(o.InputTopics), o.IntermediateTopics...) {
			given[t] = true
		}
		for t := range all {
			// An input topic that happens to be named as an internal one
			// is the user's, and stays (Kafka's KAFKA-7930).
			if exists(t) && !given[t] && IsInternal(o.ApplicationID, t) {
				p.InternalTopics = append(p.InternalTopics, t)
			}
		}
	}
	slices.Sort(p.InternalTopics)
	return p, nil
}

// planOffsets fills p.Inputs and p.Intermediates.
func (p *Plan) planOffsets(ctx context.Context, o Options, all kadm.TopicDetails) error {
	seek := append(slices.Clone(o.InputTopics), o.IntermediateTopics...)
	if len(seek) == 0 {
		return nil
	}
	committed, err := p.adm.FetchOffsets(ctx, o.ApplicationID)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("reset: fetching the committed offsets of group %q: %w", o.ApplicationID, err)
	}
	list := func(what string, f func(context.Context, ...string) (kadm.ListedOffsets, error), topics []string) (kadm.ListedOffsets, error) {
		l, err := f(ctx, topics...)
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("reset: listing the %s offsets of %q: %w", what, topics, err)
		}
		return l, nil
	}
	starts, err := list("earliest", p.adm.ListStartOffsets, seek)
	if err != nil {
		return err
	}
	ends, err := list("end", p.adm.ListEndOffsets, seek)
	if err != nil {
		return err
	}
	var atTime kadm.ListedOffsets
	if p.To.kind == datetime || p.To.kind == duration {
		after := func(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
			return p.adm.ListOffsetsAfterMilli(ctx, p.To.at.UnixMilli(), topics...)
		}
		if atTime, err = list("by-time", after, o.InputTopics); err != nil {
			return err
		}
	}

	for _, intermediate := range []bool{false, true} {
		topics := o.InputTopics
		if intermediate {
			topics = o.IntermediateTopics
		}
		for _, t := range topics {
			for _, part := range slices.Sorted(maps.Keys(all[t].Partitions)) {
				c := OffsetChange{TopicPartition: TopicPartition{t, part}, From: -1}
				if r, ok := committed.Lookup(t, part); ok && r.Err == nil && r.At >= 0 {
					c.From = r.At
				}
				start, _ := starts.Lookup(t, part)
				end, _ := ends.Lookup(t, part)
				if intermediate {
					c.To = end.Offset
					p.Intermediates = append(p.Intermediates, c)
					continue
				}
				var at kadm.ListedOffset
				if atTime != nil {
					at, _ = atTime.Lookup(t, part)
				}
				p.target(&c, start.Offset, end.Offset, at.Offset)
				p.Inputs = append(p.Inputs, c)
			}
		}
	}
	return nil
}

// target sets c.To for an input partition of offsets [start, end), at
// being the first offset at or after the plan's time.
func (p *Plan) target(c *OffsetChange, start, end, at int64) {
	clamp := func(want int64) {
		switch {
		case want < start:
			c.To, c.Note = start, fmt.Sprintf("%d is before the earliest offset", want)
		case want > end:
			c.To, c.Note = end, fmt.Sprintf("%d is past the end", want)
		default:
			c.To = want
		}
	}
	switch p.To.kind {
	case earliest:
		c.To = start
	case latest:
		c.To = end
	case datetime, duration:
		c.To = at
		if at >= end && end > start {
			c.Note = "no record at or after the time: the end"
		}
	case shift:
		from := c.From
		if from < 0 {
			from = start
		}
		clamp(from + p.To.n)
		if c.From < 0 {
			c.Note = strings.TrimPrefix(c.Note+"; no committed offset: shifted from the earliest", "; ")
		}
	case offset:
		clamp(p.To.n)
	case fromOffsets:
		want, ok := p.To.offsets[c.TopicPartition]
		if !ok {
			c.To, c.Note = c.From, "not in the given offsets: unchanged"
			return
		}
		clamp(want)
	}
}

// activeMembers returns the members of group, none if it does not exist.
func activeMembers(ctx context.Context, adm *kadm.Client, group string) ([]Member, error) {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("reset: describing consumer group %q: %w", group, err)
	}
	d, ok := ds[group]
	if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) || d.State == "Dead" {
		return nil, nil
	}
	if d.Err != nil {
		return nil, fmt.Errorf("reset: describing consumer group %q: %w", group, d.Err)
	}
	ms := make([]Member, 0, len(d.Members))
	for _, m := range d.Members {
		mm := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		ms = append(ms, mm)
	}
	return ms, nil
}

// Execute does what the plan lists, in Kafka's order: it removes the
// group's members (with Options.Force; without, it refuses if the group
// has members now, with a *GroupNotEmptyError), commits the new offsets,
// then deletes the internal topics and waits until the cluster no longer
// lists them. Each step can be done again: after a failure, run it (or a
// new plan) again. The local state of the app's instances is not
// touched: delete it (App.CleanUp) before starting them again.
func (p *Plan) Execute(ctx context.Context) error {
	members, err := activeMembers(ctx, p.adm, p.ApplicationID)
	if err != nil {
		return err
	}
	if len(members) > 0 {
		if !p.force {
			return &GroupNotEmptyError{Group: p.ApplicationID, Members: members}
		}
		if err := p.removeMembers(ctx, members); err != nil {
			return err
		}
	}

	offsets := kadm.Offsets{}
	for _, c := range slices.Concat(p.Inputs, p.Intermediates) {
		if c.To == c.From || c.To < 0 {
			continue // FromOffsets left it, or an empty listing
		}
		offsets.Add(kadm.Offset{Topic: c.Topic, Partition: c.Partition, At: c.To, LeaderEpoch: -1})
	}
	if len(offsets) > 0 {
		resps, err := p.adm.CommitOffsets(ctx, p.ApplicationID, offsets)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: committing the new offsets of group %q: %w", p.ApplicationID, err)
		}
	}

	if len(p.InternalTopics) == 0 {
		return nil
	}
	resps, err := p.adm.DeleteTopics(ctx, p.InternalTopics...)
	if err != nil {
		return fmt.Errorf("reset: deleting the internal topics: %w", err)
	}
	var problems []error
	for _, t := range p.InternalTopics {
		if r := resps[t]; r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			problems = append(problems, fmt.Errorf("reset: deleting internal topic %q: %w", t, r.Err))
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	return p.waitDeleted(ctx)
}

// removeMembers asks the group's coordinator to remove members, as
// Kafka's Admin.removeMembersFromConsumerGroup does (a LeaveGroup naming
// each member: kadm's LeaveGroup takes only static members' instance
// ids), then waits until the group has none.
func (p *Plan) removeMembers(ctx context.Context, members []Member) error {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = p.ApplicationID
	for _, m := range members {
		rm := kmsg.NewLeaveGroupRequestMember()
		rm.MemberID = m.MemberID
		if m.InstanceID != "" {
			rm.InstanceID = kmsg.StringPtr(m.InstanceID)
		}
		rm.Reason = kmsg.StringPtr("removed by the streams reset tool (--force)")
		req.Members = append(req.Members, rm)
	}
	resp, err := req.RequestWith(ctx, p.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("reset: removing the members of group %q: %w", p.ApplicationID, err)
	}
	for _, m := range resp.Members {
		// A member that left meanwhile is gone, as wanted.
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			return fmt.Errorf("reset: removing member %s of group %q: %w", m.MemberID, p.ApplicationID, err)
		}
	}
	return poll(ctx, fmt.Sprintf("group %q to have no members", p.ApplicationID), func() (bool, error) {
		left, err := activeMembers(ctx, p.adm, p.ApplicationID)
		if err == nil && len(left) > 0 && !slices.ContainsFunc(left, func(m Member) bool {
			return slices.ContainsFunc(members, func(r Member) bool { return r.MemberID == m.MemberID })
		}) {
			// Members the plan did not remove joined: an instance runs.
			return false, &GroupNotEmptyError{Group: p.ApplicationID, Members: left}
		}
		return err == nil && len(left) == 0, err
	})
}

// waitDeleted waits until the cluster lists none of the internal topics:
// a broker deletes a topic after it answered, and an app started before
// then would find the old topic.
func (p *Plan) waitDeleted(ctx context.Context) error {
	return poll(ctx, fmt.Sprintf("the internal topics %q to be deleted", p.InternalTopics), func() (bool, error) {
		// kadm answers from the client's metadata cache, which keeps a
		// topic for MetadataMinAge (5 s) after it is gone: drop it first.
		p.cl.PurgeTopicsFromClient(p.InternalTopics...)
		ds, err := p.adm.ListTopics(ctx, p.InternalTopics...)
		if err != nil {
			return false, nil
		}
		for _, t := range p.InternalTopics {
			if ds.Has(t) {
				return false, nil
			}
		}
		return true, nil
	})
}

// poll calls done every 20 ms until it says so or fails, for at most 30
// seconds.
func poll(ctx context.Context, what string, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := done()
		var active *GroupNotEmptyError
		if errors.As(err, &active) {
			return err
		}
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("reset: waiting for %s: %w", what, ctx.Err()), last)
		case <-tick.C:
		}
	}
}

// String lists the plan's steps, as the tool's --dry-run prints them.
func (p *Plan) String() string {
	var b strings.Builder
	if len(p.Members) > 0 {
		fmt.Fprintf(&b, "Remove the %d active member(s) of consumer group %q (--force):\n", len(p.Members), p.ApplicationID)
		for _, m := range p.Members {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	} else {
		fmt.Fprintf(&b, "Consumer group %q has no active members.\n", p.ApplicationID)
	}
	changes := func(cs []OffsetChange) {
		for _, c := range cs {
			from := "none"
			if c.From >= 0 {
				from = fmt.Sprint(c.From)
			}
			fmt.Fprintf(&b, "  %s-%d: %s -> ", c.Topic, c.Partition, from)
			if c.To < 0 {
				b.WriteString("none")
			} else {
				fmt.Fprint(&b, c.To)
			}
			if c.Note != "" {
				fmt.Fprintf(&b, " (%s)", c.Note)
			}
			b.WriteString("\n")
		}
	}
	switch {
	case len(p.Inputs)+len(p.Intermediates) == 0:
		b.WriteString("No input or intermediate topics given: no committed offsets change.\n")
	default:
		if len(p.Inputs) > 0 {
			fmt.Fprintf(&b, "Reset the committed offsets of the input topics to %s:\n", p.To)
			changes(p.Inputs)
		}
		if len(p.Intermediates) > 0 {
			b.WriteString("Move the committed offsets of the intermediate topics to their end:\n")
			changes(p.Intermediates)
		}
	}
	how := "inferred"
	if p.InternalTopicsGiven {
		how = "given"
	}
	if len(p.InternalTopics) == 0 {
		fmt.Fprintf(&b, "Delete no internal topics (none %s).\n", how)
	} else {
		fmt.Fprintf(&b, "Delete the internal topics (%s):\n", how)
		for _, t := range p.InternalTopics {
			fmt.Fprintf(&b, "  %s\n", t)
		}
	}
	fmt.Fprintf(&b, "Local state is not touched: before starting any instance again, delete its state, App.CleanUp() or <Config.StateDir>/%s.\n", p.ApplicationID)
	return b.String()
}
