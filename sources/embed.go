// Package sources holds the browser side of herald, embedded in the binary:
// the page helper notificationservice.js, a ready-made alert page
// example.html, and the pinned official Socket.IO browser client.
//
// cmd/herald serves FS at /sources/ and SocketIOClient at
// /socket.io/socket.io.js. See README.md for the page helper's API.
package sources

import (
	"embed"
	"io/fs"
)

// files are the files served under /sources/. The vendored client is kept
// out: it is served at its conventional path instead.
//
//go:embed notificationservice.js example.html
var files embed.FS

//go:embed vendor/socket.io.min.js
var socketIOClient []byte

// FS returns the files served under /sources/, at its root:
// notificationservice.js and example.html.
func FS() fs.FS { return files }

// SocketIOClient returns the official socket.io-client browser bundle
// (dist/socket.io.min.js of the npm package pinned in package.json,
// unmodified; MIT, see vendor/LICENSE.socket.io-client). Callers must not
// modify the returned slice.
func SocketIOClient() []byte { return socketIOClient }
