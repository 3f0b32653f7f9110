package main

import (
	"context"
	"fmt"
	"io"
)

// runRoute implements `herald route --rules FILE --event JSON`. PLACEHOLDER: the rules issue fills it.
func runRoute(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "herald route: not implemented yet")
	return exitUsage
}
