package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testcert"
)

var update = flag.Bool("update", false, "rewrite golden files")

// syncBuffer is an io.Writer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) (string, bool) { return "", false }

func TestHelpMatchesGolden(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{arg}, noEnv, &stdout, &stderr); code != exitOK {
			t.Fatalf("herald %s exited %d, want 0", arg, code)
		}
		golden := filepath.Join("testdata", "help.golden")
		if *update {
			if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if stdout.String() != string(want) || stderr.Len() != 0 {
			t.Errorf("herald %s printed:\n%s\nwant (testdata/help.golden):\n%s\nand nothing on stderr (got %q)", arg, stdout.String(), want, stderr.String())
		}
	}
}

func TestBadStartIsAClearError(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, _ := testcert.Write(t, dir)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "unknown log level", args: []string{"-l", "LOUD"}, wantCode: exitUsage,
			wantErr: `unknown log level "LOUD" (choose from DEBUG, INFO, WARNING, ERROR, CRITICAL)`},
		{name: "unknown flag", args: []string{"--prot", "1"}, wantCode: exitUsage, wantErr: "flag provided but not defined: -prot"},
		{name: "port not a number", args: []string{"-p", "http"}, wantCode: exitUsage, wantErr: `invalid value "http" for flag -p`},
		{name: "port out of range", args: []string{"--port", "70000"}, wantCode: exitUsage, wantErr: "port 70000 out of range"},
		{name: "stray argument", args: []string{"serve"}, wantCode: exitUsage, wantErr: `unexpected argument "serve"`},
		{name: "bad max body", args: []string{"--max-body", "lots"}, wantCode: exitUsage, wantErr: `invalid size "lots"`},
		{name: "unknown egress", args: []string{"-p", "0", "--egress", "socketio,sse"}, wantCode: exitFailure,
			wantErr: `--egress: unknown egress type "sse" (known: socketio)`},
		{name: "cert without key", args: []string{"--tls-cert", cert}, wantCode: exitUsage, wantErr: "--tls-cert and --tls-key go together"},
		{name: "sslcontext missing", args: []string{"-p", "0", "--sslcontext", filepath.Join(dir, "nope.json")},
			wantCode: exitFailure, wantErr: "--sslcontext: open"},
		{name: "sslcontext not JSON", args: []string{"-p", "0", "--sslcontext", write("bad.json", "cert: x")},
			wantCode: exitFailure, wantErr: `not a JSON object {"cert":…,"key":…}`},
		{name: "sslcontext without key", args: []string{"-p", "0", "--sslcontext", write("half.json", `{"cert":"`+cert+`"}`)},
			wantCode: exitFailure, wantErr: `both "cert" and "key" are required`},
		{name: "sslcontext files missing", args: []string{"-p", "0", "--sslcontext", write("gone.json", `{"cert":"/nonexistent/c.pem","key":"/nonexistent/k.pem"}`)},
			wantCode: exitFailure, wantErr: "TLS: open /nonexistent/c.pem"},
		{name: "key does not match format", args: []string{"-p", "0", "--tls-cert", cert, "--tls-key", cert},
			wantCode: exitFailure, wantErr: "TLS: certificate"},
		{name: "rules file missing", args: []string{"-p", "0", "--rules", filepath.Join(dir, "none.yaml")},
			wantCode: exitFailure, wantErr: "rules: open"},
		{name: "logfile unwritable", args: []string{"-p", "0", "-f", filepath.Join(dir, "no", "such", "dir.log")},
			wantCode: exitFailure, wantErr: "log file: open"},
		{name: "sources dir missing", args: []string{"-p", "0", "--sources", filepath.Join(dir, "nosources")},
			wantCode: exitFailure, wantErr: "--sources:"},
	}
	_ = key
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			code := run(ctx, tc.args, noEnv, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("herald %v exited %d, want %d; stderr:\n%s", tc.args, code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("herald %v stderr:\n%s\nwant it to contain %q", tc.args, stderr.String(), tc.wantErr)
			}
			if strings.Contains(stderr.String(), "panic") {
				t.Errorf("herald %v panicked:\n%s", tc.args, stderr.String())
			}
		})
	}
}

// TestRunLogsToFileAndStopsCleanly runs the real binary's entry point:
// it listens, appends its log to --logfile (keeping what was there), and a
// cancelled context (SIGINT/SIGTERM) shuts it down with exit code 0.
func TestRunLogsToFileAndStopsCleanly(t *testing.T) {
	logfile := filepath.Join(t.TempDir(), "herald.log")
	if err := os.WriteFile(logfile, []byte("earlier line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-p", "0", "-l", "INFO", "--logfile", logfile, "--data", memoryData}, noEnv, &stdout, &stderr)
	}()
	waitForText(t, &stderr, "herald listening")
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit code after shutdown = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(logfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"earlier line\n", "herald listening", "msg=stopped"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log file lacks %q:\n%s", want, b)
		}
	}
}

// waitForText waits until w holds text; the deadline bounds a hung test,
// it asserts nothing about speed.
func waitForText(t *testing.T, w *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(w.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %q in:\n%s", text, w.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHelpListsEveryFlag: the helps are written by hand, in one layout
// (herald -h's), and this holds each to the FlagSet its command parses, so
// neither can drift: every flag (both spellings of an alias) is described
// in the options, the usage line names it, each description starts at
// column 24, and herald -h's usage lines and command list show each
// command's usage line as the command's own help does.
func TestHelpListsEveryFlag(t *testing.T) {
	top := helpOf(t, "-h")
	topUsage, _, _ := strings.Cut(top, "\n\n")
	topCommands := top[strings.Index(top, "\ncommands"):]
	for _, c := range []struct {
		args []string
		fs   *flag.FlagSet
	}{
		{nil, newFlagSet(&config{})},
		{[]string{"check"}, checkFlags(&checkOptions{})},
		{[]string{"route"}, routeFlags(&routeOptions{})},
		{[]string{"twitch"}, twitchFlags(&twitchOptions{})},
		{[]string{"code"}, codeFlags()},
	} {
		name := strings.Join(append([]string{"herald"}, c.args...), " ")
		t.Run(name, func(t *testing.T) {
			help := helpOf(t, append(c.args, "--help")...)
			if short := helpOf(t, append(c.args, "-h")...); short != help {
				t.Errorf("%s -h and --help differ", name)
			}
			usage, rest, _ := strings.Cut(help, "\n\n")
			if first, _, _ := strings.Cut(rest, "\n"); !strings.HasPrefix(usage, "usage: "+name) || !strings.HasPrefix(first, name) || !strings.Contains(first, ": ") {
				t.Errorf("%s -h does not start with its usage line, a blank line and \"%s…: what it does\":\n%s", name, name, help)
			}
			i := strings.Index(help, "\noptions:\n  -h, --help            show this help message and exit\n")
			if i < 0 {
				t.Fatalf("%s -h has no options section listing -h, --help:\n%s", name, help)
			}
			options := help[i:]
			if j := strings.Index(options, "\ncommands"); j >= 0 {
				options = options[:j]
			}
			aliases := map[string][]string{}
			c.fs.VisitAll(func(f *flag.Flag) {
				spelled := "--" + f.Name
				if len(f.Name) == 1 {
					spelled = "-" + f.Name
				}
				if !namesFlag(options, spelled) {
					t.Errorf("flag %s is registered but %s -h's options do not describe it", spelled, name)
				}
				key := f.Name // flags sharing a variable are spellings of one option
				if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
					key = fmt.Sprint(v.Pointer())
				}
				aliases[key] = append(aliases[key], spelled)
			})
			for _, spellings := range aliases {
				if !slices.ContainsFunc(spellings, func(s string) bool { return namesFlag(usage, s) }) {
					t.Errorf("%s -h's usage line does not name %s", name, strings.Join(spellings, " or "))
				}
			}
			checkHelpLayout(t, name, help)
			if c.args == nil {
				return
			}
			for _, line := range strings.Split(usage, "\n") {
				line = strings.Replace(strings.TrimSpace(strings.TrimPrefix(line, "usage: ")), " [-h]", "", 1)
				if !slices.Contains(strings.Split(topUsage, "\n"), "       "+line) {
					t.Errorf("herald -h's usage does not show %q", line)
				}
				if !strings.Contains(topCommands, "\n  "+strings.TrimPrefix(line, "herald ")+"\n") &&
					!strings.Contains(topCommands, "\n  "+strings.TrimPrefix(line, "herald ")+" ") {
					t.Errorf("herald -h's command list does not show %q", strings.TrimPrefix(line, "herald "))
				}
			}
		})
	}
}

// helpOf runs herald with args, which ask for a help: it must exit 0 and
// print on stdout only.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if rc := run(t.Context(), args, noEnv, &out, &errOut); rc != exitOK || errOut.Len() > 0 {
		t.Fatalf("herald %s = exit %d, stderr %q; want exit 0 and the help on stdout", strings.Join(args, " "), rc, errOut.String())
	}
	return out.String()
}

// namesFlag reports whether text names flag spelled as a word of its own:
// "-r RULES", "[--version]", "--io-uring=false", "-h, --help".
func namesFlag(text, spelled string) bool {
	return regexp.MustCompile(`(^|[\s\[|])` + regexp.QuoteMeta(spelled) + `($|[\s\]=,|])`).MatchString(text)
}

// checkHelpLayout checks the sections of a help (a line ending in ":"
// up to the next blank line): each entry starts at column 2 and its
// description, on its line or the next ones, at column 24.
func checkHelpLayout(t *testing.T, name, help string) {
	t.Helper()
	in := false
	for n, line := range strings.Split(help, "\n") {
		switch {
		case line == "":
			in = false
		case !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":") && !strings.HasPrefix(line, "usage:"):
			in = true
		case !in:
		case strings.HasPrefix(line, strings.Repeat(" ", 24)):
			if line[24] == ' ' {
				t.Errorf("%s -h line %d: a description goes on at column 24:\n%s", name, n+1, line)
			}
		case !strings.HasPrefix(line, "  ") || line[2] == ' ':
			t.Errorf("%s -h line %d: an option starts at column 2:\n%s", name, n+1, line)
		case len(line) > 24 && line[23] == ' ' && line[24] != ' ':
			// the flag, and its description at column 24
		case strings.Contains(line[2:], "  "):
			t.Errorf("%s -h line %d: the description does not start at column 24:\n%s", name, n+1, line)
		}
	}
}

// TestSubcommandHelp: every subcommand's -h prints its usage on stdout and
// exits 0, as herald -h does, so `herald twitch -h | less` shows it.
func TestSubcommandHelp(t *testing.T) {
	for _, args := range [][]string{
		{"check", "-h"}, {"route", "-h"}, {"twitch", "-h"}, {"twitch", "login", "-h"}, {"code", "-h"}, {"code", "--help"}, {"code", "new", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			rc := run(t.Context(), args, noEnv, &out, &errOut)
			if rc != exitOK || !strings.HasPrefix(out.String(), "usage: herald "+args[0]) || errOut.Len() > 0 {
				t.Errorf("herald %s = exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout only", strings.Join(args, " "), rc, out.String(), errOut.String())
			}
		})
	}
}

// TestPythonServiceFlagForms: the original service parsed its flags with
// argparse, which also took a value stuck to a short flag and a long flag
// shortened to a prefix only it has; unit files and scripts written for
// it start herald unchanged. An ambiguous prefix is refused, as argparse
// refused it.
func TestPythonServiceFlagForms(t *testing.T) {
	tests := []struct {
		args      []string
		host      string
		port      int
		level     string
		logFile   string
		ssl       string
		wantError string // the start of the refusal, "" for none
	}{
		{args: []string{"-Hlocalhost", "-p8081", "-lDEBUG", "-fherald.log"}, host: "localhost", port: 8081, level: "DEBUG", logFile: "herald.log"},
		{args: []string{"--ho", "0.0.0.0", "--po=8082", "--loglev", "WARNING", "--logf", "x.log", "--sslcon", "ssl.json"},
			host: "0.0.0.0", port: 8082, level: "WARNING", logFile: "x.log", ssl: "ssl.json"},
		{args: []string{"-p", "8083", "--port=8084"}, host: "127.0.0.1", port: 8084, level: "INFO"},
		{args: []string{"--log", "DEBUG"}, wantError: "ambiguous option: --log could match --log-limit, --logfile, --loglevel"},
		{args: []string{"-p8080x"}, wantError: `invalid value "8080x" for flag -p`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cfg, err := parseFlags(tc.args, noEnv, io.Discard)
			if tc.wantError != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantError) {
					t.Errorf("parseFlags(%q) = %v, want a refusal starting %q", tc.args, err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q) = %v", tc.args, err)
			}
			if cfg.host != tc.host || cfg.port != tc.port || cfg.logLevel != tc.level || cfg.logFile != tc.logFile || cfg.sslContext != tc.ssl {
				t.Errorf("parseFlags(%q) = host %q port %d level %q logfile %q sslcontext %q; want %q %d %q %q %q",
					tc.args, cfg.host, cfg.port, cfg.logLevel, cfg.logFile, cfg.sslContext, tc.host, tc.port, tc.level, tc.logFile, tc.ssl)
			}
		})
	}
}
