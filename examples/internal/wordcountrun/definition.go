package wordcountrun

import (
	"math/rand/v2"
	"strings"
)

// ExpectedCounts is the definition both word counts must meet, computed
// without the library: the lower-cased lines split on white space. The
// examples' tests hold each program to it, so the two print the same lines.
func ExpectedCounts(lines []string) map[string]int64 {
	m := map[string]int64{}
	for _, l := range lines {
		for _, w := range strings.Fields(strings.ToLower(l)) {
			m[w]++
		}
	}
	return m
}

// RandomText is lines lines of words drawn by a PCG with seed, with tabs,
// runs of spaces, blank lines, mixed case and non-ASCII words: an input
// that splitting and lower-casing must get right.
func RandomText(seed uint64, lines int) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	vocab := []string{"Kafka", "streams", "GO", "go", "état", "x", "topology", "Punctuate", "ÉTAT"}
	seps := []string{" ", "  ", "\t", " \t ", "   "}
	var sb strings.Builder
	for i := range lines {
		if i%17 == 0 {
			sb.WriteString("\n")
			continue
		}
		for j := range 1 + rng.IntN(8) {
			if j > 0 {
				sb.WriteString(seps[rng.IntN(len(seps))])
			}
			sb.WriteString(vocab[rng.IntN(len(vocab))])
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
