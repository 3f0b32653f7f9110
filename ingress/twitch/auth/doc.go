// Package auth gets, keeps and renews Twitch access tokens for herald.
//
// A streamer logs in with the OAuth Device Code Grant (a public client: an
// application's client id, no secret): StartDevice, show the code, Poll.
// The login is kept in the data directory (Store, mode 0600) and a Source
// hands out a valid token, refreshing it before it expires and after a
// 401. Apps with a secret get an app access token (client credentials)
// instead, and a token given in the rules file is used as it is.
//
// Tokens are Secrets: they print, log and marshal as "[redacted]", and no
// error of this package contains one.
package auth
