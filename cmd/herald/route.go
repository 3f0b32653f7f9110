package main

import (
	"context"
	"encoding/json"
	"errors"
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

// runRoute implements `herald route [--rules FILE] --event JSON`: a dry
// run that prints, as JSON, which rules match the event and the
// deliveries they would make. Nothing is delivered.
func runRoute(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald route", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var file, event, sample string
	fs.StringVar(&file, "rules", "", "rules file (default: ./rules.yaml if there is one, else the embedded examples/default.yaml)")
	fs.StringVar(&file, "r", "", "shorthand for --rules")
	fs.StringVar(&event, "event", "", `the event as JSON, e.g. {"source":"kofi","type":"Donation","data":{"amount":"12"}}, or @FILE`)
	fs.StringVar(&event, "e", "", "shorthand for --event")
	fs.StringVar(&sample, "sample", "", "print a sample event of this type")
	fs.Usage = func() {} // printed below: help to stdout, mistakes to stderr
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, routeUsage)
			return exitOK
		}
		fmt.Fprint(stderr, routeUsage)
		return exitUsage
	}
	file = rulesFileOrLocal(file)
	if sample != "" && event == "" && fs.NArg() == 0 {
		out, err := sampleEvent(ingress.DefaultShapes, sample)
		if err != nil {
			fmt.Fprintf(stderr, "herald route: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return exitOK
	}
	if event == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, routeUsage)
		return exitUsage
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

const routeUsage = `usage: herald route [-h] [-r RULES] -e JSON|@FILE
       herald route --sample TYPE

herald route: show which rules match an event and what they would deliver, as JSON.
Nothing is delivered. Exits 1 when a rule failed on the event.

options:
  -h, --help            show this help message and exit
  -r RULES, --rules RULES
                        rules file (default: ./rules.yaml if there is one,
                        else the embedded examples/default.yaml)
  -e JSON, --event JSON the event as JSON, or @FILE to read it from a file, e.g.
                        {"source":"kofi","type":"Donation","data":{"amount":"12"}}
                        keys: source, type, code, data, headers, id, time
  --sample TYPE         print a sample event of TYPE (channel.raid, Donation, …)
                        to start from: herald route --sample channel.raid > raid.json
`
