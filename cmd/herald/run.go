package main

import (
	"context"
	"io"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// run is the whole program with its environment injected, so tests can run
// the real server in-process.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(ctx, args[1:], getenv, stdout, stderr)
		case "route":
			return runRoute(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	return runServer(ctx, args, getenv, stdout, stderr)
}

func runServer(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	return exitOK // PLACEHOLDER
}
