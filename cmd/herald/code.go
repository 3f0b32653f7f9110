package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
)

// runCode is `herald code new`: it prints a fresh code for an overlay.
// Codes are bearer secrets (whoever holds one reads that room's alerts and
// can fire alerts into it), so a new one carries 128 random bits, in a
// form that is safe in a URL and easy to copy: 26 characters of base32.
func runCode(_ context.Context, args []string, _ func(string) (string, bool), stdout, stderr io.Writer) int {
	const usage = "usage: herald code new\n\nPrint a new random code for an overlay page (26 characters, 128 bits)."
	if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
		fmt.Fprintln(stdout, usage)
		return exitOK
	}
	if len(args) != 1 || args[0] != "new" {
		fmt.Fprintln(stderr, usage)
		return exitUsage
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
