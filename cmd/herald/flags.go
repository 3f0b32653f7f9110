package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// config is everything the server's flags and environment decide.
type config struct {
	host       string
	port       int
	logLevel   string
	logFile    string
	sslContext string
	tlsCert    string
	tlsKey     string
	rulesFile  string
	sourcesDir string
	adminToken string
	corsOrigin string
	maxBody    int64
	shutdown   time.Duration
	dataDir    string
	redisURL   string
	version    bool
	egress     string
}

// errHelp is returned by parseFlags when -h was asked for: usage is printed
// to stdout and the program exits 0, as the original service's argparse did.
var errHelp = flag.ErrHelp

// errVersion is returned by parseFlags when --version was asked for: the
// version is printed to stdout and the program exits 0.
var errVersion = errors.New("version asked")

// version is stamped by the release build:
// go build -ldflags "-X main.version=v1.2.3" ./cmd/herald
var version = "dev"

// parseFlags reads the server's flags. Both spellings of every aliased flag
// (-p and --port) are accepted, as Go's flag package accepts one or two
// dashes for any name.
func parseFlags(args []string, getenv func(string) (string, bool), stdout io.Writer) (config, error) {
	cfg := config{port: 8080, host: "127.0.0.1", logLevel: "INFO", corsOrigin: "*", maxBody: 1 << 20, shutdown: 10 * time.Second, egress: defaultEgress, dataDir: "herald-data"}
	if tok, ok := getenv("HERALD_ADMIN_TOKEN"); ok {
		cfg.adminToken = tok
	}
	if u, ok := getenv("HERALD_REDIS"); ok {
		cfg.redisURL = u
	}
	fs := newFlagSet(&cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage) // argparse prints help to stdout
			return cfg, errHelp
		}
		return cfg, fmt.Errorf("%w\n%s", err, shortUsage)
	}
	if cfg.version {
		fmt.Fprintf(stdout, "herald %s\n", version)
		return cfg, errVersion
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), shortUsage)
	}
	return cfg, cfg.validate()
}

// newFlagSet registers the server's flags on cfg. The usage text is written
// by hand (argparse's layout); TestUsageNamesEveryFlag keeps the two in step.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("herald", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	str := func(p *string, long, short, usage string) {
		fs.StringVar(p, long, *p, usage)
		if short != "" {
			fs.StringVar(p, short, *p, usage)
		}
	}
	str(&cfg.host, "host", "H", "")
	fs.IntVar(&cfg.port, "port", cfg.port, "")
	fs.IntVar(&cfg.port, "p", cfg.port, "")
	str(&cfg.logLevel, "loglevel", "l", "")
	str(&cfg.logFile, "logfile", "f", "")
	str(&cfg.sslContext, "sslcontext", "", "")
	str(&cfg.tlsCert, "tls-cert", "", "")
	str(&cfg.tlsKey, "tls-key", "", "")
	str(&cfg.rulesFile, "rules", "r", "")
	str(&cfg.sourcesDir, "sources", "", "")
	str(&cfg.adminToken, "admin-token", "", "")
	str(&cfg.corsOrigin, "cors-origin", "", "")
	str(&cfg.dataDir, "data", "", "")
	str(&cfg.redisURL, "redis", "", "")
	str(&cfg.egress, "egress", "", "")
	fs.Func("max-body", "", func(s string) error {
		n, err := parseSize(s)
		cfg.maxBody = n
		return err
	})
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", cfg.shutdown, "")
	fs.BoolVar(&cfg.version, "version", false, "")
	return fs
}

func (c config) validate() error {
	if _, err := parseLevel(c.logLevel); err != nil {
		return err
	}
	if c.port < 0 || c.port > 65535 {
		return fmt.Errorf("port %d out of range 0-65535", c.port)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.sslContext != "" && c.tlsCert != "" {
		return errors.New("use either --sslcontext or --tls-cert/--tls-key, not both")
	}
	if c.dataDir == "" {
		return errors.New("--data must name a directory (or :memory:)")
	}
	if c.maxBody <= 0 {
		return errors.New("--max-body must be positive")
	}
	return nil
}

// parseSize reads a byte count with an optional KiB/MiB suffix ("1MiB", "512k").
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"mib", 1 << 20}, {"kib", 1 << 10}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}}
	lower := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(lower, u.suffix); ok {
			lower, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(lower), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 1048576, 512KiB, 1MiB)", s)
	}
	return n * mult, nil
}

const shortUsage = `usage: herald [-h] [-H HOST] [-p PORT] [-l {DEBUG,INFO,WARNING,ERROR,CRITICAL}] [-f LOGFILE]
              [--sslcontext SSLCONTEXT] [--tls-cert FILE --tls-key FILE] [-r RULES]
              [--sources DIR] [--admin-token TOKEN] [--cors-origin ORIGIN] [--max-body SIZE]
              [--shutdown-timeout DURATION] [--egress SINKS] [--data DIR|:memory:] [--version]
              [--redis URL]
       herald check [RULES]
       herald route --rules RULES --event JSON
`

const usage = shortUsage + `
herald: live stream alerts for OBS browser sources, over Socket.IO.

options:
  -h, --help            show this help message and exit
  -H HOST, --host HOST  address to listen on (default: 127.0.0.1)
  -p PORT, --port PORT  port to listen on (default: 8080)
  -l {DEBUG,INFO,WARNING,ERROR,CRITICAL}, --loglevel {DEBUG,INFO,WARNING,ERROR,CRITICAL}
                        log level (default: INFO)
  -f LOGFILE, --logfile LOGFILE
                        also append the log to this file
  --sslcontext SSLCONTEXT
                        JSON file {"cert": "cert.pem", "key": "key.pem"}: serve HTTPS
  --tls-cert FILE, --tls-key FILE
                        serve HTTPS with this certificate and key
  -r RULES, --rules RULES
                        rules file, hot-reloaded on save (and on SIGHUP where
                        there is one)
                        (default: the embedded examples/default.yaml)
  --sources DIR         serve /sources/ from DIR (default: the embedded sources/)
  --admin-token TOKEN   bearer token for /clients and /api/* (env HERALD_ADMIN_TOKEN);
                        without one those endpoints are disabled
  --cors-origin ORIGIN  Access-Control-Allow-Origin (default: *)
  --max-body SIZE       largest request body accepted (default: 1MiB)
  --shutdown-timeout DURATION
                        how long a shutdown waits for requests in flight (default: 10s)
  --egress SINKS        comma-separated sinks pages are reached through
                        (default: socketio)
  --data DIR            keep the alert journal (history, recovery, pending alerts) in
                        DIR/herald.db, created on first run (default: ./herald-data);
                        :memory: keeps it in memory only
  --redis URL           cluster mode (env HERALD_REDIS): every node on this Redis shares
                        rooms, journal, de-duplication and presence; replaces --data.
                        redis://[:PASS@]HOST:6379/0, rediss:// for TLS, ?master_name=M
                        for Sentinel, ?addr=HOST2:6379&... for Redis Cluster
  --version             print the version and exit

commands:
  check [RULES]         validate a rules file and run its tests (default: ./rules.yaml)
  route --rules RULES --event JSON
                        show which rules match an event and what they would deliver
`
