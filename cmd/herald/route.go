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
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// runRoute implements `herald route [--rules FILE] --event JSON`: a dry
// run that prints, as JSON, which rules match the event and the
// deliveries they would make. Nothing is delivered.
func runRoute(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald route", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var file, event string
	fs.StringVar(&file, "rules", "", "rules file (default: the embedded examples/default.yaml)")
	fs.StringVar(&file, "r", "", "shorthand for --rules")
	fs.StringVar(&event, "event", "", `the event as JSON, e.g. {"source":"kofi","type":"Donation","data":{"amount":"12"}}, or @FILE`)
	fs.StringVar(&event, "e", "", "shorthand for --event")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: herald route [--rules RULES] --event JSON|@FILE\n\nShow which rules match an event and the deliveries they would make, as JSON.\nEvent keys: source, type, code, data, headers, id, time.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if event == "" || fs.NArg() > 0 {
		fs.Usage()
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
	out, err := json.MarshalIndent(r.Route(ev), "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "herald route: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return exitOK
}
