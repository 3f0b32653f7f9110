package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// charTrap points at the character a YAML error is about when the message
// names a character rather than the layout: a bad escape in a
// double-quoted string, a control character. yaml.v3 reports no column
// for these, and the line it blames is where the string starts, so the
// lines from ln on are searched for the first such character.
func charTrap(lines []string, ln int, msg string) (line, col int, fix string, ok bool) {
	switch {
	case strings.Contains(msg, "unknown escape character"), strings.Contains(msg, "expected hexdecimal number"):
		line, col, esc, ok := badEscape(lines, ln)
		if !ok {
			return 0, 0, `inside double quotes a backslash starts an escape: put the value in single quotes, where \ is just \, or write \\ for each backslash`, true
		}
		return line, col, fmt.Sprintf(`inside double quotes a backslash starts an escape, and %s is not one: put the value in single quotes, where \ is just \, or write \\ for each backslash`, esc), true
	case strings.Contains(msg, "control characters are not allowed"):
		for i := ln; i <= len(lines); i++ {
			for off, r := range lines[i-1] {
				if !printable(r) {
					return i, runeCol(lines[i-1], off), fmt.Sprintf("a U+%04X control character is here, invisible in most editors: delete it", r), true
				}
			}
		}
	}
	return 0, 0, "", false
}

// printable reports whether YAML allows r in a file (YAML 1.2's
// c-printable, less the line breaks splitLines took off).
func printable(r rune) bool {
	switch {
	case r == '\t' || r == 0x85:
		return true
	case r < 0x20 || r == 0x7F || 0x80 <= r && r < 0xA0:
		return false
	case 0xD800 <= r && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// badEscape finds the first backslash in a double-quoted string, from
// line ln on, that starts no YAML escape, and returns its position and
// the escape as written.
func badEscape(lines []string, ln int) (line, col int, esc string, ok bool) {
	inQuote := false
	for i := ln; i <= len(lines); i++ {
		l := lines[i-1]
		for off := 0; off < len(l); off++ {
			c := l[off]
			switch {
			case inQuote && c == '\\':
				n := escapeLen(l[off+1:])
				if n < 0 {
					_, size := utf8.DecodeRuneInString(l[off+1:])
					return i, runeCol(l, off), l[off : off+1+size], true
				}
				off += n
			case inQuote && c == '"':
				inQuote = false
			case !inQuote && c == '"' && opensScalar(l[:off]):
				inQuote = true
			case !inQuote && c == '#' && (off == 0 || l[off-1] == ' '):
				off = len(l) // a comment
			case !inQuote && c == '\'' && opensScalar(l[:off]):
				n := closingQuote(l[off:]) // single quotes have no escapes
				if n < 0 {
					n = len(l)
				}
				off += n
			}
		}
	}
	return 0, 0, "", false
}

// opensScalar reports whether a quote after before starts a quoted scalar
// rather than sitting inside a plain one (when: type == "x").
func opensScalar(before string) bool {
	t := strings.TrimRight(before, " ")
	return t == "" || strings.HasSuffix(t, ":") && len(t) < len(before) || strings.ContainsAny(t[len(t)-1:], "-[{,?")
}

// escapeLen is the length of the escape after a backslash (s is the text
// after it), or -1 when it is not one YAML knows.
func escapeLen(s string) int {
	if s == "" {
		return 0 // an escaped line break
	}
	hex := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[0]]
	if hex == 0 {
		if strings.IndexByte("0abt\tnvfre \"/\\N_LP", s[0]) < 0 {
			return -1
		}
		return 1
	}
	if len(s) <= hex {
		return -1
	}
	for _, c := range []byte(s[1 : hex+1]) {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return -1
		}
	}
	return hex + 1
}
