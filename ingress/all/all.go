// Package all registers every ingress adapter herald ships: import it for
// its side effect, as cmd/herald does.
package all

import (
	_ "github.com/heraldhq/herald/ingress/kofi"    // Ko-fi webhooks
	_ "github.com/heraldhq/herald/ingress/trigger" // the seed's /notify trigger URL
	_ "github.com/heraldhq/herald/ingress/twitch"  // Twitch EventSub webhooks
	_ "github.com/heraldhq/herald/ingress/webhook" // any signed JSON or form webhook
)
