// Command streams-reset resets a streams application so that it processes
// its input again, as Kafka's kafka-streams-application-reset does for
// Kafka Streams, with the same flags:
//
//	streams-reset --bootstrap-server localhost:9092 --application-id wordcount \
//	    --input-topics streams-plaintext-input --dry-run
//
// For the application id's consumer group it moves the committed offsets of
// the input topics (to the earliest offset by default; --to-latest,
// --to-datetime, --by-duration, --shift-by, --to-offset or --from-file
// instead) and of the intermediate topics (to their end), and deletes the
// app's internal topics: changelog, repartition and foreign-key join
// topics named "<application.id>-…", or those of --internal-topics.
// --dry-run prints the steps and changes nothing. It refuses while the
// group has members: stop every instance first (--force removes members
// that are stopped but still counted).
//
// It does not touch the instances' local state: before starting an
// instance again, call App.CleanUp() or delete <Config.StateDir>/<application.id>.
// The logic is package github.com/gostreams/streams/reset.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/reset"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: streams-reset --application-id ID [--bootstrap-server HOST:PORT,...]
        [--input-topics A,B] [--intermediate-topics C] [--internal-topics D]
        [--to-earliest | --to-latest | --to-datetime T | --by-duration D |
         --shift-by N | --to-offset N | --from-file FILE] [--dry-run] [--force]

Resets a streams application so that it reprocesses its input:
  * the committed offsets of its input topics go to the earliest offset
    (or where a --to-* / --by-duration / --shift-by / --from-file flag says);
  * those of its intermediate topics go to their end;
  * its internal topics are deleted: every topic "<application.id>-..." that
    ends in -changelog, -repartition, -subscription-registration-topic or
    -subscription-response-topic, or those of --internal-topics (each named
    "<application.id>-...");
  * output topics are not touched.
Stop every instance of the app first: the reset refuses while its consumer
group has members. Run it once with --dry-run to see what it would do.
It does not delete the instances' local state: before starting an instance
again, call App.CleanUp() or delete <Config.StateDir>/<application.id>, or
the app counts its input twice. An app with a sink/postgres ExactlyOnce sink
also forgets the offsets in its database: postgres.ResetOffsets.

Flags:
`

// positionFlags are the mutually exclusive flags that say where the input
// topics' offsets go.
var positionFlags = []string{"to-earliest", "to-latest", "to-datetime", "by-duration", "shift-by", "to-offset", "from-file"}

// run is the command: it parses args, prints the plan to stdout and does it
// unless --dry-run, and returns the exit status (2 for bad flags, 1 for a
// failure).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("streams-reset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		brokers, appID                      string
		inputs, intermediates, internals    string
		datetime, byDuration, fromFile      string
		toEarliest, toLatest, dryRun, force bool
		shiftBy, toOffset                   int64
		timeout                             time.Duration
	)
	fs.StringVar(&brokers, "bootstrap-server", "localhost:9092", "the `brokers` to connect to, HOST1:PORT1,HOST2:PORT2")
	fs.StringVar(&brokers, "bootstrap-servers", "localhost:9092", "an alias of --bootstrap-server")
	fs.StringVar(&appID, "application-id", "", "the app's application id (streams.Config.ApplicationID), its consumer group. Required")
	fs.StringVar(&inputs, "input-topics", "", "comma-separated `list` of the app's input topics, whose offsets are reset")
	fs.StringVar(&intermediates, "intermediate-topics", "", "comma-separated `list` of topics the app writes and reads again; their offsets go to their end")
	fs.StringVar(&internals, "internal-topics", "", "comma-separated `list` of internal topics to delete instead of the inferred ones")
	fs.BoolVar(&toEarliest, "to-earliest", false, "reset the input topics to their earliest offsets (the default)")
	fs.BoolVar(&toLatest, "to-latest", false, "reset the input topics to their end")
	fs.StringVar(&datetime, "to-datetime", "", "reset to the first offset at or after `time`: yyyy-MM-ddTHH:mm:ss.SSS or RFC 3339, with an optional zone (default UTC)")
	fs.StringVar(&byDuration, "by-duration", "", "reset to the first offset at or after now minus `duration`, ISO-8601 PnDTnHnMnS (or Go's 1h30m)")
	fs.Int64Var(&shiftBy, "shift-by", 0, "shift the committed offsets by `n` (negative: back)")
	fs.Int64Var(&toOffset, "to-offset", 0, "reset to `offset`")
	fs.StringVar(&fromFile, "from-file", "", "reset to the offsets of `file`, TOPIC,PARTITION,OFFSET lines")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be done, and change nothing")
	fs.BoolVar(&force, "force", false, "remove the consumer group's members instead of refusing; only for stopped instances the group still counts")
	fs.DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (not Kafka's: its tool waits per request)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "streams-reset: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run streams-reset -h for the flags.")
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments %q: every option is a flag", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	o := reset.Options{ApplicationID: appID, Force: force}
	if !set["application-id"] || appID == "" {
		return bad("--application-id is required: the app's streams.Config.ApplicationID, its consumer group")
	}
	if set["bootstrap-server"] && set["bootstrap-servers"] {
		return bad("--bootstrap-server and --bootstrap-servers are the same flag; give one")
	}
	var err error
	lists := []struct {
		flag string
		into *[]string
	}{{"input-topics", &o.InputTopics}, {"intermediate-topics", &o.IntermediateTopics}, {"internal-topics", &o.InternalTopics}}
	for _, l := range lists {
		if *l.into, err = splitList(fs.Lookup(l.flag).Value.String()); err != nil {
			return bad("--%s: %v", l.flag, err)
		}
	}
	seeds, err := splitList(brokers)
	if err != nil || len(seeds) == 0 {
		return bad("--bootstrap-server %q: want HOST1:PORT1,HOST2:PORT2", brokers)
	}

	var given []string
	for _, f := range positionFlags {
		if set[f] {
			given = append(given, "--"+f)
		}
	}
	switch {
	case len(given) > 1:
		return bad("%s conflict: give at most one of --%s", strings.Join(given, " and "), strings.Join(positionFlags, ", --"))
	case len(given) == 1 && len(o.InputTopics) == 0:
		return bad("%s moves the offsets of the input topics, and no --input-topics are given", given[0])
	}
	switch {
	case set["to-latest"]:
		o.To = reset.ToLatest()
	case set["to-datetime"]:
		t, err := reset.ParseDateTime(datetime)
		if err != nil {
			return bad("--to-datetime: %v", err)
		}
		o.To = reset.ToDatetime(t)
	case set["by-duration"]:
		d, err := reset.ParseDuration(byDuration)
		if err != nil {
			return bad("--by-duration: %v", err)
		}
		if d < 0 {
			return bad("--by-duration %q is negative: it goes back from now", byDuration)
		}
		o.To = reset.ByDuration(d)
	case set["shift-by"]:
		o.To = reset.ShiftBy(shiftBy)
	case set["to-offset"]:
		o.To = reset.ToOffset(toOffset)
	case set["from-file"]:
		text, err := os.ReadFile(fromFile)
		if err != nil {
			return bad("--from-file: %v", err)
		}
		offsets, err := reset.ParseOffsets(string(text))
		if err != nil {
			return bad("--from-file %s: %v", fromFile, err)
		}
		o.To = reset.FromOffsets(offsets)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "streams-reset:", err)
		return 1
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ClientID("streams-reset"))
	if err != nil {
		return fail(fmt.Errorf("a client for %s: %w", brokers, err))
	}
	defer cl.Close()
	plan, err := reset.NewPlan(ctx, cl, o)
	if err != nil {
		return fail(err)
	}
	if dryRun {
		fmt.Fprintf(stdout, "Dry run: nothing is changed. Resetting application %q would:\n%s", appID, plan)
		return 0
	}
	fmt.Fprintf(stdout, "Resetting application %q:\n%s", appID, plan)
	if err := plan.Execute(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintln(stdout, "Done.")
	return 0
}

// splitList splits a comma-separated flag value; "" is no element.
func splitList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, fmt.Errorf("%q has an empty element", s)
		}
		out = append(out, e)
	}
	return out, nil
}
