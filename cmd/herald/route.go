package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/heraldhq/herald/examples"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// routeOptions are herald route's flags.
type routeOptions struct {
	file, event, sample string
}

// routeFlags registers herald route's flags on o, whose values are the
// defaults.
func routeFlags(o *routeOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("herald route", flag.ContinueOnError)
	fs.StringVar(&o.file, "rules", o.file, "")
	fs.StringVar(&o.file, "r", o.file, "")
	fs.StringVar(&o.event, "event", o.event, "")
	fs.StringVar(&o.event, "e", o.event, "")
	fs.StringVar(&o.sample, "sample", o.sample, "")
	return fs
}

// runRoute implements `herald route [--rules FILE] --event JSON`: a dry
// run that prints, as JSON, which rules match the event and the
// deliveries they would make. Nothing is delivered.
func runRoute(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	var o routeOptions
	rest, code, done := parseCommand("route", routeFlags(&o), args, routeUsage, routeHelp, stdout, stderr)
	if done {
		return code
	}
	file, event, sample := rulesFileOrLocal(o.file), o.event, o.sample
	switch {
	case len(rest) > 0:
		return usageError(stderr, "route", routeUsage, "unexpected argument %q (the event goes in -e JSON or -e @FILE)", rest[0])
	case sample != "" && event != "":
		return usageError(stderr, "route", routeUsage, "give -e to route an event or --sample to print one, not both (herald route --sample TYPE > ev.json, then -e @ev.json)")
	case sample != "":
		out, note, err := sampleEvent(ingress.DefaultShapes, sample)
		if err != nil {
			fmt.Fprintf(stderr, "herald route: %v\n", err)
			return exitUsage
		}
		if note != "" {
			fmt.Fprintf(stderr, "herald route: %s\n", note)
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return exitOK
	case event == "":
		return usageError(stderr, "route", routeUsage, "no event: give -e JSON or -e @FILE, or --sample TYPE to print one")
	}
	evJSON := []byte(event)
	if name, ok := strings.CutPrefix(event, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "herald route: %v\n", err)
			return exitFailure
		}
		evJSON = b
	}
	ev, err := rules.DecodeEvent(evJSON)
	if err != nil {
		fmt.Fprintf(stderr, "herald route: %v\n", err)
		return exitUsage
	}
	name, data := embeddedRulesName, examples.DefaultRules
	if file != "" {
		if data, err = os.ReadFile(file); err != nil {
			fmt.Fprintf(stderr, "herald route: %v\n", err)
			return exitFailure
		}
		name = file
	}
	reserved, err := defaultReserved(config{})
	if err != nil {
		fmt.Fprintf(stderr, "herald route: %v\n", err)
		return exitFailure
	}
	r := router.New(router.Options{Getenv: getenv, Log: slog.New(slog.DiscardHandler), Reserved: reserved, ReservedNames: reservedNames})
	if err := r.Reload(name, data); err != nil {
		printErrors(stderr, data, err)
		return exitFailure
	}
	res := r.Route(ev)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "herald route: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\n", out)
	if len(res.Errors) > 0 {
		fmt.Fprintf(stderr, "herald route: %d rule error(s) on this event; see \"errors\" above\n", len(res.Errors))
		return exitFailure
	}
	return exitOK
}

// routeUsage and routeHelp are `herald route -h`, in herald -h's layout.
const routeUsage = `usage: herald route [-h] [-r RULES] -e JSON|@FILE
       herald route --sample TYPE
`

const routeHelp = `
herald route: show which rules match an event and what they would deliver, as JSON.
Nothing is delivered. Exits 1 when a rule failed on the event. --sample prints an event
of TYPE as its ingress publishes it, to start from.

options:
  -h, --help            show this help message and exit
  -r RULES, --rules RULES
                        rules file (default: ./rules.yaml if there is one,
                        else the embedded examples/default.yaml)
  -e JSON, --event JSON the event as JSON, or @FILE to read it from a file, e.g.
                        {"source":"kofi","type":"Donation","data":{"amount":"12"}}
                        keys: source, type, code, data, headers, id, time
  --sample TYPE         print an event of TYPE (channel.raid, Donation, …) as its ingress
                        publishes it: herald route --sample channel.raid > raid.json
`
