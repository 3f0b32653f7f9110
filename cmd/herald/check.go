package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch"
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// maxShown caps how many errors check prints with their source line.
const maxShown = 50

// parseInterspersed parses args with fs, whether the flags come before or
// after the positional arguments (herald check rules.yaml --data DIR, as
// people type it; Go's flag package stops at the first positional one),
// and returns the positional ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if ended := len(args) - len(rest) - 1; ended >= 0 && args[ended] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// checkUsage and checkHelp are `herald check -h`, in herald -h's layout.
const checkUsage = `usage: herald check [-h] [--data DIR] [--redis URL] [RULES]
`

const checkHelp = `
herald check: load a rules file (default: ./rules.yaml) exactly as a reload would, every
ingress built as the server builds it, print each error and warning with its source line,
and run the file's tests. Exits 0 when all is well, 1 when the file would be refused or a
test fails. With a Twitch login in DIR, or in the cluster's Redis with --redis, it also
checks the login has the scopes the file's subscriptions need.

options:
  -h, --help            show this help message and exit
  --data DIR            where herald keeps its files, the Twitch login among them
                        (default: ./herald-data)
  --redis URL           cluster mode (env HERALD_REDIS): check the cluster's Twitch login,
                        kept in its Redis, instead of the one in DIR
`

// checkOptions are herald check's flags.
type checkOptions struct {
	dataDir, redisURL string
}

// checkFlags registers herald check's flags on o, whose values are the
// defaults.
func checkFlags(o *checkOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("herald check", flag.ContinueOnError)
	fs.StringVar(&o.dataDir, "data", o.dataDir, "")
	fs.StringVar(&o.redisURL, "redis", o.redisURL, "")
	return fs
}

// runCheck implements `herald check [FILE]`: it loads FILE exactly as a
// reload would (rules compiled, every ingress built by its real factory,
// reserved paths refused), prints each error with its source line, runs
// the file's tests, and exits 0 only if all is well.
func runCheck(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	o := checkOptions{dataDir: defaultDataDir}
	o.redisURL, _ = getenv("HERALD_REDIS")
	files, code, done := parseCommand("check", checkFlags(&o), args, checkUsage, checkHelp, stdout, stderr)
	if done {
		return code
	}
	if len(files) > 1 {
		return usageError(stderr, "check", checkUsage, "one rules file at a time, got %d: %s", len(files), strings.Join(files, " "))
	}
	dataDir, redisURL := o.dataDir, o.redisURL
	file := localRules
	if len(files) == 1 {
		file = files[0]
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "herald check: %v\n", err)
		if len(files) == 0 && errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "herald check: without it herald runs its embedded default rules (examples/default.yaml, the original service's behaviour); name another file with herald check FILE\n")
		}
		return exitFailure
	}
	reserved, err := defaultReserved(config{})
	if err != nil {
		fmt.Fprintf(stderr, "herald check: %v\n", err)
		return exitFailure
	}
	r := router.New(router.Options{Getenv: getenv, Log: slog.New(slog.DiscardHandler), Reserved: reserved, ReservedNames: reservedNames, DataDir: dataDir})
	set, err := r.Check(file, data)
	var warnings, loginWarnings yamlpos.List
	if err == nil {
		var shared ingress.SharedStore
		if redisURL != "" {
			client, cerr := dialRedis(ctx, redisURL)
			if cerr != nil {
				fmt.Fprintf(stderr, "herald check: %v\n", cerr)
				return exitFailure
			}
			defer client.Close()
			shared = sharedValues(client)
		}
		loginWarnings, err = preflight(set, file, dataDir, shared)
		warnings = append(append(set.Warnings(), set.Lint()...), loginWarnings...).Sort()
	} else if le := (*rules.LoadError)(nil); errors.As(err, &le) {
		warnings = le.Warnings // what loading found before it stopped
	}
	if err != nil {
		// The errors first, as a refused reload logs them; then the
		// warnings, which a fix of the errors would still leave.
		n := printErrors(stderr, data, err)
		if len(warnings) > 0 {
			printErrors(stderr, data, warnings)
		}
		fmt.Fprintf(stderr, "%s: %d error(s), %d warning(s); the running rules would stay in place\n", file, n, len(warnings))
		return exitFailure
	}
	if len(warnings) > 0 {
		printErrors(stderr, data, warnings)
	}
	failed := 0
	for _, res := range set.RunTests() {
		if res.Passed() {
			continue
		}
		failed++
		printErrors(stderr, data, res.Failures)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "%s: %d of %d tests failed\n", file, failed, set.Tests())
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: ok (%d rules, %d ingress, %d tests passed, %d warnings)\n", file, set.Len(), len(set.Ingress()), set.Tests(), len(warnings))
	return exitOK
}

// printErrors prints each positioned error of err followed by its source
// line and a caret under the column, and returns how many there were.
func printErrors(w io.Writer, src []byte, err error) int {
	var list yamlpos.List
	if !errors.As(err, &list) {
		fmt.Fprintln(w, err)
		return 1
	}
	lines := strings.Split(string(src), "\n")
	for i, e := range list {
		if i == maxShown {
			fmt.Fprintf(w, "(and %d more)\n", len(list)-maxShown)
			break
		}
		fmt.Fprintln(w, e.Error())
		if e.Pos.Line < 1 || e.Pos.Line > len(lines) {
			continue
		}
		line := strings.TrimRight(lines[e.Pos.Line-1], "\r")
		fmt.Fprintf(w, "    %s\n", line)
		if e.Pos.Col > 0 {
			fmt.Fprintf(w, "    %s^\n", caretPad(line, e.Pos.Col))
		}
	}
	return len(list)
}

// caretPad is the whitespace that puts a caret under rune column col of
// line, keeping tabs so it lines up however the terminal shows them.
func caretPad(line string, col int) string {
	var b strings.Builder
	for i, r := range []rune(line) {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// preflight runs the checks that look beyond the file (a Twitch login's
// scopes) for every instance that offers them.
func preflight(set *rules.Set, file, dataDir string, shared ingress.SharedStore) (warnings yamlpos.List, err error) {
	var errs yamlpos.List
	var states ingress.States
	if shared != nil {
		states.ShareValues(shared)
	}
	for _, spec := range set.Ingress() {
		if spec.Type != "twitch" {
			continue
		}
		warning, err := twitch.Preflight(ingress.Params{Name: spec.Name, Type: spec.Type, Path: spec.Path, Options: spec.Options, File: file, DataDir: dataDir,
			State: states.Get(spec.Name)})
		if err != nil {
			errs.Append(spec.Pos, err)
		}
		if warning != "" {
			warnings.Add(spec.Pos, "warning: ingress %q: %s", spec.Name, warning)
		}
	}
	return warnings, errs.Err()
}
