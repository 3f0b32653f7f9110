package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Every command's help has herald -h's layout: the usage lines, a
// paragraph on what the command does, and an options section with each
// flag at column 2, its description at column 24 and its default as
// (default: …). -h or --help prints it on stdout and exits 0; a mistake
// prints what was wrong and the usage lines on stderr and exits 2.
// TestHelpListsEveryFlag holds every help to its FlagSet and to herald -h.

// parseCommand parses the arguments of command name (check, route, …)
// with fs, its flags before, after or between the positional arguments,
// and returns the positional ones. done is true when the command is over,
// with exit code: its help was asked for, or a flag was wrong.
func parseCommand(name string, fs *flag.FlagSet, args []string, usage, help string, stdout, stderr io.Writer) (positional []string, code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // printed here: help on stdout, mistakes on stderr
	positional, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage+help)
		return nil, exitOK, true
	case err != nil:
		return nil, usageError(stderr, name, usage, "%v", err), true
	}
	return positional, exitOK, false
}

// usageError prints "herald NAME: what was wrong" and the command's usage
// lines on stderr, as herald does for its own flags, and returns exitUsage.
func usageError(stderr io.Writer, name, usage, format string, args ...any) int {
	fmt.Fprintf(stderr, "herald %s: %s\n%s", name, fmt.Sprintf(format, args...), usage)
	return exitUsage
}
