// Package all imports every egress plugin, so that each registers itself
// with egress.Default. The server imports it for its side effect.
package all

import (
	_ "github.com/heraldhq/herald/egress/socketio" // Socket.IO rooms, one per code
)
