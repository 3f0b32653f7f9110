// Package eventsub speaks Twitch EventSub for herald: the WebSocket
// transport (Client keeps a session alive, subscribed and de-duplicated
// across reconnects), the Helix calls that create, list and delete
// subscriptions, Sync for webhook subscriptions, the built-in table of
// subscription types (versions, conditions, scopes), and DecodeMessage for
// the WebSocket's messages.
//
// It follows Twitch's documented behaviour: subscriptions are created
// within 10 s of session_welcome; a session whose keepalives stop is
// replaced; session_reconnect moves to the new URL and keeps the old
// connection until the new welcome, retrying a failed dial while Twitch
// keeps the old one (30 s); revoked subscriptions are not
// re-created; ones Helix refuses (403) are asked for again with a backoff
// capped at MaxRefusedRetry; close codes 4000-4007 are logged with their
// meaning; lost connections are re-dialled with exponential backoff and
// jitter. Client.Status reports the session and every subscription.
package eventsub
