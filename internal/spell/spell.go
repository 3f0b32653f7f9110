// Package spell finds the word a mistyped one was meant to be, for error
// messages that say "did you mean …?".
package spell

// Closest is the candidate nearest to s by edit distance, or "" when none
// is close enough to be a likely typo (fewer edits than half of s, plus
// two).
func Closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := Distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Typo returns the candidate s is one or two edits away from, or "":
// among names that are all alike (Twitch's event types), one further
// away is more likely another name than a misspelt one (channel.ban is
// not a misspelt channel.raid).
func Typo(s string, candidates []string) string {
	if near := Closest(s, candidates); near != "" && Distance(s, near) <= 2 {
		return near
	}
	return ""
}

// Distance is the Levenshtein distance between a and b, in runes.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
