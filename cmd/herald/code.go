package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
)

// codeUsage and codeHelp are `herald code -h`, in herald -h's layout.
const codeUsage = `usage: herald code new [-h]
`

const codeHelp = `
herald code new: print a new random code for an overlay page, 26 characters (128 bits)
that are safe in a URL: the page's ?code= and the rules' to:. Whoever holds a code reads
that room's alerts and can fire alerts into it, so give each overlay its own.

options:
  -h, --help            show this help message and exit
`

// codeFlags is herald code's FlagSet: it has no flags but -h.
func codeFlags() *flag.FlagSet { return flag.NewFlagSet("herald code", flag.ContinueOnError) }

// runCode is `herald code new`: it prints a fresh code for an overlay.
// Codes are bearer secrets (whoever holds one reads that room's alerts and
// can fire alerts into it), so a new one carries 128 random bits, in a
// form that is safe in a URL and easy to copy: 26 characters of base32.
func runCode(_ context.Context, args []string, _ func(string) (string, bool), stdout, stderr io.Writer) int {
	verbs, code, done := parseCommand("code", codeFlags(), args, codeUsage, codeHelp, stdout, stderr)
	switch {
	case done:
		return code
	case len(verbs) == 0:
		return usageError(stderr, "code", codeUsage, "the command is missing (new)")
	case verbs[0] != "new":
		return usageError(stderr, "code", codeUsage, "unknown command %q (new)", verbs[0])
	case len(verbs) > 1:
		return usageError(stderr, "code", codeUsage, "unexpected argument %q", verbs[1])
	}
	fmt.Fprintln(stdout, newCode())
	return exitOK
}

// codeAlphabet is lower-case base32 without padding (RFC 4648 letters).
const codeAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

func newCode() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	out := make([]byte, 0, 26)
	var acc uint32
	bits := 0
	for _, x := range b {
		acc = acc<<8 | uint32(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, codeAlphabet[acc>>bits&31])
		}
	}
	if bits > 0 {
		out = append(out, codeAlphabet[acc<<(5-bits)&31])
	}
	return string(out)
}
