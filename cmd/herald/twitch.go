package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
	"github.com/heraldhq/herald/rules"
)

// twitchUsage and twitchHelp are `herald twitch -h`, in herald -h's
// layout.
const twitchUsage = `usage: herald twitch login|status|logout [-h] [-r RULES] [--data DIR] [--instance NAME] [--redis URL]
`

const twitchHelp = `
herald twitch: log in to Twitch with a device code, show the login and the state of each
subscription at Twitch, or log out. The client id and the subscriptions come from the rules
file's twitch ingress (transport: websocket); the login is kept in DIR/twitch-token.json
(mode 0600), or in the cluster's Redis with --redis.

commands:
  login                 log in with a device code: open the printed URL, enter the code;
                        the scopes are those the rules file's subscriptions need
  status                who is logged in, the scopes, the expiry, and each declared
                        subscription's state at Twitch
  logout                revoke the login at Twitch and delete it

options:
  -h, --help            show this help message and exit
  -r RULES, --rules RULES
                        the rules file (default: ./rules.yaml)
  --data DIR            where the login is kept (default: ./herald-data)
  --instance NAME       the twitch ingress to use, when the file declares several
  --redis URL           cluster mode (env HERALD_REDIS): the login is the cluster's, kept
                        in its Redis, where every node takes it from (not in DIR)
`

// twitchVerbs are the commands of herald twitch.
var twitchVerbs = []string{"login", "status", "logout"}

// twitchOptions are herald twitch's flags.
type twitchOptions struct {
	file, dataDir, instance, redisURL string
}

// twitchFlags registers herald twitch's flags on o, whose values are the
// defaults.
func twitchFlags(o *twitchOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("herald twitch", flag.ContinueOnError)
	fs.StringVar(&o.file, "rules", o.file, "")
	fs.StringVar(&o.file, "r", o.file, "")
	fs.StringVar(&o.dataDir, "data", o.dataDir, "")
	fs.StringVar(&o.instance, "instance", o.instance, "")
	fs.StringVar(&o.redisURL, "redis", o.redisURL, "")
	return fs
}

// twitchCmd is what the three subcommands share.
type twitchCmd struct {
	ctx    context.Context
	stdout io.Writer
	cfg    *twitch.Config
	name   string
	store  auth.TokenStore
	// shared is the cluster's login (--redis), which store is then; nil
	// on a single node.
	shared *auth.Shared
	// where names the login's place for messages: the file, or the
	// cluster's Redis.
	where string
}

// runTwitch implements `herald twitch login|status|logout`.
func runTwitch(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, twitchUsage+twitchHelp)
		return exitOK
	}
	if len(args) == 0 {
		return usageError(stderr, "twitch", twitchUsage, "the command is missing: login, status or logout")
	}
	if strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "twitch", twitchUsage, "the command (login, status or logout) comes before %s", args[0])
	}
	verb := args[0]
	o := twitchOptions{file: localRules, dataDir: defaultDataDir}
	o.redisURL, _ = getenv("HERALD_REDIS")
	rest, code, done := parseCommand("twitch "+verb, twitchFlags(&o), args[1:], twitchUsage, twitchHelp, stdout, stderr)
	switch {
	case done:
		return code
	case !slices.Contains(twitchVerbs, verb):
		return usageError(stderr, "twitch", twitchUsage, "unknown command %q (login, status or logout)", verb)
	case len(rest) > 0:
		return usageError(stderr, "twitch "+verb, twitchUsage, "unexpected argument %q", rest[0])
	}
	file, dataDir, instance, redisURL := o.file, o.dataDir, o.instance, o.redisURL
	cfg, name, err := twitchDeclaration(file, instance, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "herald twitch %s: %v\n", verb, err)
		return exitFailure
	}
	c := twitchCmd{ctx: ctx, stdout: stdout, cfg: cfg, name: name, store: auth.Store{Dir: dataDir},
		where: auth.Store{Dir: dataDir}.Path()}
	if redisURL != "" {
		client, err := dialRedis(ctx, redisURL)
		if err != nil {
			fmt.Fprintf(stderr, "herald twitch %s: %v\n", verb, err)
			return exitFailure
		}
		defer client.Close()
		c.shared = twitch.ClusterLogin(sharedValues(client))
		c.store, c.where = c.shared, "the cluster's Redis"
	}
	switch verb {
	case "login":
		err = c.login()
	case "status":
		err = c.status()
	case "logout":
		err = c.logout()
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald twitch %s: %v\n", verb, err)
		return exitFailure
	}
	return exitOK
}

// twitchDeclaration reads the twitch ingress instance from the rules file:
// the one named instance, or the only one of type twitch.
func twitchDeclaration(file, instance string, getenv func(string) (string, bool)) (*twitch.Config, string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("%w (give the rules file that declares the twitch ingress with --rules)", err)
	}
	set, err := rules.Parse(file, data, rules.Options{Getenv: getenv})
	if err != nil {
		return nil, "", err
	}
	var found []rules.IngressSpec
	for _, spec := range set.Ingress() {
		if spec.Type == "twitch" && (instance == "" || spec.Name == instance) {
			found = append(found, spec)
		}
	}
	switch {
	case len(found) == 0:
		return nil, "", fmt.Errorf("%s declares no twitch ingress%s", file, map[bool]string{true: " named " + instance}[instance != ""])
	case len(found) > 1:
		return nil, "", fmt.Errorf("%s declares several twitch ingress instances; choose one with --instance", file)
	}
	spec := found[0]
	cfg, err := twitch.DecodeConfig(ingress.Params{Name: spec.Name, Type: spec.Type, Path: spec.Path, Options: spec.Options, File: file})
	if err != nil {
		return nil, "", err
	}
	if cfg.ClientID == "" {
		return nil, "", fmt.Errorf("ingress %q has no client_id: create an application at dev.twitch.tv (a public client) and put its client id there", spec.Name)
	}
	return cfg, spec.Name, nil
}

func (c twitchCmd) client() *auth.Client {
	return &auth.Client{BaseURL: c.cfg.AuthURL, ClientID: c.cfg.ClientID}
}

func (c twitchCmd) login() error {
	scopes := eventsub.LoginScopes(c.cfg.Declared())
	cl := c.client()
	d, err := cl.StartDevice(c.ctx, scopes)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Open %s\nand enter the code %s (valid until %s).\nScopes asked for: %s\nWaiting for approval…\n",
		d.VerificationURI, d.UserCode, d.Expires.Local().Format("15:04"), scopeList(scopes))
	tok, err := cl.Poll(c.ctx, d, nil)
	if err != nil {
		return err
	}
	v, err := cl.Validate(c.ctx, tok.Access)
	if err != nil {
		return fmt.Errorf("checking the new token: %w", err)
	}
	tok.UserID, tok.Login, tok.Scopes = v.UserID, v.Login, v.Scopes
	if v.ExpiresIn > 0 {
		tok.Expires = time.Now().Add(time.Duration(v.ExpiresIn) * time.Second)
	}
	save := c.store.Save
	if c.shared != nil {
		save = c.shared.Put // a new login replaces the cluster's, whatever it was
	}
	if err := save(tok); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Logged in as %s (user id %s). Login saved to %s.\n", tok.Login, tok.UserID, c.where)
	c.printMissing(tok.Scopes)
	return nil
}

func (c twitchCmd) printMissing(scopes []string) {
	for _, m := range eventsub.Missing(c.cfg.Declared(), scopes) {
		fmt.Fprintf(c.stdout, "  missing scope: %s\n", m)
	}
}

func scopeList(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

func (c twitchCmd) status() error {
	src := &auth.Source{Client: c.client(), Kind: auth.User, Store: c.store}
	if tok := c.cfg.AccessToken.Value(); tok != "" {
		// The ingress runs on the rules file's token, not a login.
		src = &auth.Source{Client: c.client(), Kind: auth.Static, Static: auth.NewSecret(tok)}
		fmt.Fprintf(c.stdout, "ingress %q uses the access_token of the rules file\n", c.name)
	}
	tok, err := src.Validate(c.ctx)
	if err != nil {
		return err
	}
	if err := src.Unsaved(); err != nil {
		// Twitch took the old refresh token: the login in the file is spent.
		return fmt.Errorf("the Twitch login was renewed but could not be saved (%w); run `herald twitch login` again", err)
	}
	fmt.Fprintf(c.stdout, "logged in as %s (user id %s)\nscopes:  %s\nexpires: %s\n", tok.Login, tok.UserID, scopeList(tok.Scopes), tok.Expires.Local().Format(time.RFC1123))
	helix := &eventsub.Helix{BaseURL: c.cfg.HelixURL, ClientID: c.cfg.ClientID, Tokens: src}
	subs, listErr := helix.List(c.ctx)
	missing := map[string]eventsub.MissingScope{}
	for _, m := range eventsub.Missing(c.cfg.Declared(), tok.Scopes) {
		missing[m.Type] = m
	}
	fmt.Fprintf(c.stdout, "subscriptions of ingress %q (transport %s):\n", c.name, c.cfg.Transport)
	for _, d := range c.cfg.Declared() {
		state := "not subscribed (herald is not running, or could not subscribe)"
		if m, ok := missing[d.Type]; ok {
			state = "cannot subscribe: " + m.String() + "; run `herald twitch login` again"
		} else if listErr != nil {
			state = "unknown: " + listErr.Error()
		} else if s, ok := subscriptionOf(subs, d.Type, c.cfg.Transport, c.cfg.Callback); ok {
			state = s.Status
		}
		fmt.Fprintf(c.stdout, "  %-52s %s\n", d.Type, state)
	}
	return nil
}

// subscriptionOf finds typ's subscription over transport in Twitch's
// list, an enabled one first: the list keeps those of ended sessions too
// (websocket_disconnected), beside the one herald's session holds. With a
// callback (managed webhooks) only that callback's count: another tool's,
// or an old tunnel URL's, is not herald's.
func subscriptionOf(subs []eventsub.Subscription, typ, transport, callback string) (eventsub.Subscription, bool) {
	var found *eventsub.Subscription
	for i, s := range subs {
		if s.Type != typ || s.Transport.Method != transport || callback != "" && s.Transport.Callback != callback {
			continue
		}
		if s.Status == "enabled" {
			return s, true
		}
		if found == nil {
			found = &subs[i]
		}
	}
	if found == nil {
		return eventsub.Subscription{}, false
	}
	return *found, true
}

func (c twitchCmd) logout() error {
	tok, err := c.store.Load()
	if errors.Is(err, auth.ErrNoLogin) {
		if c.shared != nil {
			// The cluster may have none while nodes keep copies (Redis
			// restarted empty): the tombstone keeps them from sharing one.
			if err := c.shared.Delete(); err != nil {
				return err
			}
		}
		fmt.Fprintln(c.stdout, "Not logged in.")
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.client().Revoke(c.ctx, tok.Access); err != nil && !errors.Is(err, auth.ErrInvalidToken) {
		fmt.Fprintf(c.stdout, "Twitch did not confirm the revocation (%v); deleting the login anyway.\n", err)
	}
	if err := c.store.Delete(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Logged out %s; deleted from %s.\n", tok.Login, c.where)
	return nil
}
