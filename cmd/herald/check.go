package main

import (
	"context"
	"fmt"
	"io"
)

// runCheck implements `herald check [FILE]`. PLACEHOLDER: the rules issue fills it.
func runCheck(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "herald check: not implemented yet")
	return exitUsage
}
