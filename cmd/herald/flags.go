package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/clientaddr"
	"github.com/heraldhq/herald/internal/limit"
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
	// metrics serves /metrics on the main listener; metricsListen serves
	// it on a listener of its own instead.
	metrics       bool
	metricsListen string
	dataDir       string
	redisURL      string
	version       bool
	egress        string
	// ioURing lets the fan-out write a room's pages in one system call
	// where Linux allows io_uring.
	ioURing bool

	// Hardening (see SECURITY.md); zero rates and counts are off.
	allowedHosts        []string
	trustedProxies      clientaddr.Trusted // --trusted-proxies: whose X-Forwarded-For is believed
	triggerKey          string
	codeKeys            map[string]string // --code-key CODE=KEY
	bodyTimeout         time.Duration
	rateRequests        limit.Rate
	rateMisses          limit.Rate
	rateHandshakes      limit.Rate
	rateHandshakesTotal limit.Rate
	connsPerIP          int
	connsTotal          int
	bodiesPerIP         int
	logLimit            limit.Rate
}

// defaultDataDir holds herald's files (the journal, the Twitch login) when
// --data is not given.
const defaultDataDir = "./herald-data"

// Defaults of the limits: far above what one streamer's overlays and bots
// do (a scene collection reloading 30 browser sources at once, a bot
// firing a few alerts a second), far below what exhausts the machine.
var (
	defaultRateRequests        = limit.Rate{PerSecond: 12, Burst: 120}     // 120/10s
	defaultRateMisses          = limit.Rate{PerSecond: 1, Burst: 60}       // 60/1m
	defaultRateHandshakes      = limit.Rate{PerSecond: 6, Burst: 60}       // 60/10s
	defaultRateHandshakesTotal = limit.Rate{PerSecond: 30, Burst: 300}     // 300/10s
	defaultLogLimit            = limit.Rate{PerSecond: 1.0 / 3, Burst: 20} // 20/1m
)

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
	cfg := config{port: 8080, host: "127.0.0.1", logLevel: "INFO", maxBody: 1 << 20, shutdown: 10 * time.Second,
		egress: defaultEgress, ioURing: true, dataDir: defaultDataDir, bodyTimeout: 30 * time.Second, rateRequests: defaultRateRequests, rateMisses: defaultRateMisses,
		rateHandshakes: defaultRateHandshakes, rateHandshakesTotal: defaultRateHandshakesTotal,
		connsPerIP: 256, connsTotal: 4096, bodiesPerIP: 128, logLimit: defaultLogLimit}
	if tok, ok := getenv("HERALD_ADMIN_TOKEN"); ok {
		cfg.adminToken = tok
	}
	if key, ok := getenv("HERALD_TRIGGER_KEY"); ok {
		cfg.triggerKey = key
	}
	if u, ok := getenv("HERALD_REDIS"); ok {
		cfg.redisURL = u
	}
	fs := newFlagSet(&cfg)
	forms, err := argparseForms(fs, args)
	if err != nil {
		return cfg, fmt.Errorf("%w\n%s", err, shortUsage)
	}
	if err := fs.Parse(forms); err != nil {
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

// argparseForms rewrites the two ways the original service's argparse
// took a flag that Go's flag package does not, so its unit files and
// scripts start herald as they are: a value stuck to a short flag
// (-p8080, -Hlocalhost, -lDEBUG) and a long flag shortened to a prefix
// only it has (--sslcon, --logf FILE). An ambiguous prefix (--log: loglevel,
// logfile, log-limit) is refused with the flags it could mean, as argparse
// refused it. Nothing after "--" is touched.
func argparseForms(fs *flag.FlagSet, args []string) ([]string, error) {
	out := make([]string, 0, len(args)+1)
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		switch {
		case len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.Contains(a, "="):
			if f := fs.Lookup(a[1:2]); f != nil && !isBool(f) && fs.Lookup(a[1:]) == nil {
				out = append(out, a[:2], a[2:])
				continue
			}
		case strings.HasPrefix(a, "--") && len(a) > 3:
			name, value, hasValue := strings.Cut(a[2:], "=")
			if fs.Lookup(name) == nil {
				switch full := longFlagsStarting(fs, name); len(full) {
				case 0: // unknown: the flag package says so
				case 1:
					a = "--" + full[0]
					if hasValue {
						a += "=" + value
					}
				default:
					return nil, fmt.Errorf("ambiguous option: --%s could match --%s", name, strings.Join(full, ", --"))
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// longFlagsStarting lists the long flags whose names start with prefix,
// sorted.
func longFlagsStarting(fs *flag.FlagSet, prefix string) []string {
	var found []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) > 1 && strings.HasPrefix(f.Name, prefix) {
			found = append(found, f.Name)
		}
	})
	return found
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
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
	fs.BoolVar(&cfg.metrics, "metrics", false, "")
	str(&cfg.metricsListen, "metrics-listen", "", "")
	fs.BoolVar(&cfg.version, "version", false, "")
	fs.BoolVar(&cfg.ioURing, "io-uring", cfg.ioURing, "")
	fs.Func("allowed-hosts", "", func(s string) error {
		cfg.allowedHosts = append(cfg.allowedHosts, splitList(s)...)
		return nil
	})
	var proxies []string
	fs.Func("trusted-proxies", "", func(s string) (err error) {
		proxies = append(proxies, s)
		cfg.trustedProxies, err = clientaddr.Parse(strings.Join(proxies, ","))
		return err
	})
	str(&cfg.triggerKey, "trigger-key", "", "")
	fs.Func("code-key", "", func(s string) error {
		code, key, ok := strings.Cut(s, "=")
		if !ok || code == "" || key == "" {
			return fmt.Errorf("--code-key wants CODE=KEY, got %q", s)
		}
		if cfg.codeKeys == nil {
			cfg.codeKeys = map[string]string{}
		}
		cfg.codeKeys[code] = key
		return nil
	})
	fs.DurationVar(&cfg.bodyTimeout, "body-timeout", cfg.bodyTimeout, "")
	rate := func(p *limit.Rate, name string) {
		fs.Func(name, "", func(s string) (err error) { *p, err = parseRate(s); return err })
	}
	rate(&cfg.rateRequests, "rate-requests")
	rate(&cfg.rateMisses, "rate-misses")
	rate(&cfg.rateHandshakes, "rate-handshakes")
	rate(&cfg.rateHandshakesTotal, "rate-handshakes-total")
	rate(&cfg.logLimit, "log-limit")
	fs.IntVar(&cfg.connsPerIP, "conns-per-ip", cfg.connsPerIP, "")
	fs.IntVar(&cfg.connsTotal, "conns-total", cfg.connsTotal, "")
	fs.IntVar(&cfg.bodiesPerIP, "bodies-per-ip", cfg.bodiesPerIP, "")
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
	if c.metrics && c.metricsListen != "" {
		return errors.New("use either --metrics or --metrics-listen, not both")
	}
	if c.dataDir == "" {
		return errors.New("--data must name a directory (or :memory:)")
	}
	if c.maxBody <= 0 {
		return errors.New("--max-body must be positive")
	}
	if c.connsPerIP < 0 || c.connsTotal < 0 || c.bodiesPerIP < 0 || c.bodyTimeout < 0 {
		return errors.New("--conns-per-ip, --conns-total, --bodies-per-ip and --body-timeout cannot be negative")
	}
	return nil
}

// corsOrigins is --cors-origin as a list (it may name several, comma
// separated).
func (c config) corsOrigins() []string { return splitList(c.corsOrigin) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseRate reads a limit as COUNT/PERIOD, "120/10s" or "60/1m": COUNT at
// once, refilled evenly over PERIOD ("s", "m" and "h" alone mean one of
// them). "0" or "off" turns the limit off.
func parseRate(s string) (limit.Rate, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "0" || s == "off" {
		return limit.Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count <= 0 {
		return limit.Rate{}, fmt.Errorf("invalid rate %q (want COUNT/PERIOD, e.g. 120/10s or 60/1m, or off)", s)
	}
	if per == "s" || per == "m" || per == "h" {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return limit.Rate{}, fmt.Errorf("invalid rate %q: period %q (want e.g. 10s, 1m)", s, per)
	}
	return limit.Rate{PerSecond: float64(count) / d.Seconds(), Burst: count}, nil
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
              [--io-uring=false]
              [--metrics | --metrics-listen ADDR] [--redis URL]
              [--allowed-hosts NAMES] [--trusted-proxies ADDRS] [--trigger-key KEY]
              [--code-key CODE=KEY]
              [--body-timeout DURATION] [--rate-requests RATE] [--rate-misses RATE]
              [--rate-handshakes RATE] [--rate-handshakes-total RATE] [--conns-per-ip N]
              [--conns-total N] [--bodies-per-ip N] [--log-limit RATE]
       herald check [--data DIR] [--redis URL] [RULES]
       herald route [-r RULES] -e JSON|@FILE
       herald route --sample TYPE
       herald twitch login|status|logout [-r RULES] [--data DIR] [--instance NAME] [--redis URL]
       herald code new
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
                        there is one) (default: ./rules.yaml if there is one,
                        else the embedded examples/default.yaml)
  --sources DIR         serve /sources/ from DIR, falling back to the embedded files
  --admin-token TOKEN   bearer token for /clients and /api/* (env HERALD_ADMIN_TOKEN);
                        without one those endpoints are disabled
  --cors-origin ORIGIN  let pages from ORIGIN (comma-separated list) use herald from a
                        browser; herald's own origin, null (local files) and
                        http://absolute (OBS local files) always may. '*' lets
                        every web site in (see SECURITY.md)
  --max-body SIZE       largest request body accepted (default: 1MiB)
  --shutdown-timeout DURATION
                        how long a shutdown waits for requests in flight (default: 10s)
  --egress SINKS        comma-separated sinks pages are reached through
                        (default: socketio)
  --data DIR            where herald keeps its files, created on first run: the alert
                        journal DIR/herald.db (history, recovery, pending alerts) and
                        the Twitch login twitch-token.json (default: ./herald-data);
                        :memory: keeps the journal in memory only
  --metrics             serve Prometheus metrics at /metrics on the main listener
  --metrics-listen ADDR serve /metrics on a listener of its own instead (e.g. 127.0.0.1:9090)
  --redis URL           cluster mode (env HERALD_REDIS): every node on this Redis shares
                        rooms, journal, de-duplication, presence and the Twitch login;
                        --data then keeps the node's outbox and its copy of the login.
                        redis://[:PASS@]HOST:6379/0, rediss:// for TLS, ?master_name=M
                        for Sentinel, ?addr=HOST2:6379&... for Redis Cluster
  --io-uring            where Linux allows io_uring, write a room's pages with one
                        system call per 64 pages (default: true); --io-uring=false
                        writes each page with its own
  --version             print the version and exit

hardening (see SECURITY.md; RATE is COUNT/PERIOD per client address, or off):
  --allowed-hosts NAMES answer for these host names too (comma-separated; '*' for
                        any); localhost, IP addresses and --host always work
  --trusted-proxies ADDRS
                        reverse proxies (IP addresses or CIDR prefixes, comma-separated)
                        whose X-Forwarded-For names the client: limits, logs and
                        /clients then see each client, not the proxy
  --trigger-key KEY     /notify requires ?token=KEY or "Authorization: Bearer KEY"
                        (env HERALD_TRIGGER_KEY)
  --code-key CODE=KEY   /notify for CODE requires KEY (or the trigger key); repeatable
  --body-timeout DURATION
                        time a client has to send a request body (default: 30s)
  --rate-requests RATE  /notify requests, and refused webhook requests (default: 120/10s)
  --rate-misses RATE    /notify requests that reached no page, except for a code a
                        page held in the last 10 minutes (default: 60/1m)
  --rate-handshakes RATE
                        new Socket.IO connections (default: 60/10s)
  --rate-handshakes-total RATE
                        new Socket.IO connections from everyone (default: 300/10s)
  --conns-per-ip N      open Socket.IO connections per address (default: 256)
  --conns-total N       open Socket.IO connections in all (default: 4096)
  --bodies-per-ip N     request bodies being received at once (default: 128)
  --log-limit RATE      warnings logged per message (default: 20/1m)

The dashboard is at /admin/ once --admin-token (or HERALD_ADMIN_TOKEN) is set.

commands (herald COMMAND -h shows each one's options):
  check [--data DIR] [--redis URL] [RULES]
                        validate a rules file and run its tests (default: ./rules.yaml)
  route [-r RULES] -e JSON|@FILE
                        show which rules match an event and what they would deliver
  route --sample TYPE   print an event of TYPE as its ingress publishes it, to start from
  twitch login|status|logout [-r RULES] [--data DIR] [--instance NAME] [--redis URL]
                        log in to Twitch (device code; scopes from the subscriptions the
                        rules declare), show the login and each subscription, or log out
  code new              print a new random code for an overlay (128 bits)
`
