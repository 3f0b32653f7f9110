// Command herald is a self-hosted server that turns stream events (trigger
// URLs, Twitch EventSub, Ko-fi, signed webhooks) into live Socket.IO alerts
// for OBS browser-source pages.
//
// Usage:
//
//	herald [flags]                 run the server
//	herald check [FILE]            validate a rules file and run its tests
//	herald route --rules FILE --event JSON
//	                               show which rules match an event
//	herald route --sample TYPE     print an event of TYPE as its ingress publishes it
//	herald twitch login|status|logout
//	                               log in to Twitch, show the login, log out
//	herald code new                print a new random code for an overlay
//
// herald -h, and herald COMMAND -h, list every flag.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}
