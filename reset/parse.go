package reset

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateTimeLayouts are what ParseDateTime tries, in order. Go's parser takes
// a fractional second after the seconds even where a layout has none, so
// these cover RFC 3339 and Kafka's yyyy-MM-dd'T'HH:mm:ss.SSS with or
// without its zone (Z, ±hh:mm, ±hhmm, ±hh).
var dateTimeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05Z07",
	"2006-01-02T15:04:05", // no zone: UTC, as Kafka's tool takes it
}

// ParseDateTime parses the --to-datetime argument: RFC 3339
// ("2024-05-01T00:00:00Z", "2024-05-01T02:00:00.5+02:00") or Kafka's
// StreamsResetter format, yyyy-MM-ddTHH:mm:ss.SSS with an optional zone
// (Z, +01:00, +0100 or +01). A time with no zone is UTC, as in Kafka's tool.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("reset: bad datetime %q: want RFC 3339 (2024-05-01T00:00:00Z) or Kafka's yyyy-MM-ddTHH:mm:ss.SSS (2024-05-01T00:00:00.000), with an optional zone (Z, +01:00); no zone means UTC", s)
}

// isoDuration is Java's Duration.parse grammar, which Kafka's --by-duration
// uses: [-+]P[nD][T[nH][nM][n[.fraction]S]], case-insensitive, each number
// signed.
var isoDuration = regexp.MustCompile(`(?i)^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// ParseDuration parses the --by-duration argument: an ISO-8601 duration
// as Kafka's tool takes it (Java's Duration.parse: "PnDTnHnMnS", such as
// "P1DT12H", "PT30M", "PT0.5S"; a day is 24 hours) or, for Go users, Go's
// own format ("90m", "1h30m").
func ParseDuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || (m[2] == "" && m[3] == "") || strings.EqualFold(m[3], "T") {
		// Not ISO-8601 (or "P", "PT" with no number): try Go's format.
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		return 0, fmt.Errorf("reset: bad duration %q: want ISO-8601 PnDTnHnMnS as Kafka's tool (P1DT12H, PT30M, PT0.5S) or Go's 1h30m", s)
	}
	overflow := fmt.Errorf("reset: duration %q is too long: it must be under 292 years", s)
	var total int64
	add := func(num string, unit time.Duration) error {
		if num == "" {
			return nil
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return overflow
		}
		if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
			return overflow
		}
		v := n * int64(unit)
		if (v > 0 && total > math.MaxInt64-v) || (v < 0 && total < math.MinInt64-v) {
			return overflow
		}
		total += v
		return nil
	}
	for _, part := range []struct {
		num  string
		unit time.Duration
	}{{m[2], 24 * time.Hour}, {m[4], time.Hour}, {m[5], time.Minute}, {m[6], time.Second}} {
		if err := add(part.num, part.unit); err != nil {
			return 0, err
		}
	}
	if frac := m[7]; frac != "" {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64) // nine digits at most: no error
		if strings.HasPrefix(m[6], "-") {
			ns = -ns // "-1.5S" is minus one and a half seconds, as in Java
		}
		if err := add(strconv.FormatInt(ns, 10), time.Nanosecond); err != nil {
			return 0, err
		}
	}
	if m[1] == "-" {
		if total == math.MinInt64 {
			return 0, overflow
		}
		total = -total
	}
	return time.Duration(total), nil
}

// ParseOffsets parses the file of --from-file, as Kafka's tool reads it:
// one "TOPIC,PARTITION,OFFSET" line per partition. Blank lines are
// skipped; a partition listed twice is an error.
func ParseOffsets(text string) (map[TopicPartition]int64, error) {
	offsets := map[TopicPartition]int64{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("reset: line %d of the offsets, %q: %s; want TOPIC,PARTITION,OFFSET", i+1, line, why)
		}
		f := strings.Split(line, ",")
		if len(f) != 3 {
			return nil, bad(fmt.Sprintf("%d fields", len(f)))
		}
		p, err := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 32)
		if err != nil || p < 0 {
			return nil, bad("the partition is not a number")
		}
		o, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err != nil {
			return nil, bad("the offset is not a number")
		}
		tp := TopicPartition{Topic: strings.TrimSpace(f[0]), Partition: int32(p)}
		if tp.Topic == "" {
			return nil, bad("no topic")
		}
		if _, dup := offsets[tp]; dup {
			return nil, bad(fmt.Sprintf("%s-%d is listed twice", tp.Topic, tp.Partition))
		}
		offsets[tp] = o
	}
	if len(offsets) == 0 {
		return nil, errors.New("reset: the offsets list no partition; want TOPIC,PARTITION,OFFSET lines")
	}
	return offsets, nil
}
