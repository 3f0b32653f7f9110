// Package ingress defines how requests from the outside world become
// herald events: the Adapter a plugin implements, the Factory that builds
// one from its block in the rules file, and the Registry that maps a type
// name ("twitch", "kofi", …) to its Factory.
//
// Each plugin lives in its own folder under ingress/ and registers itself
// from init(); ingress/all imports them all. Plugins share the HTTP
// plumbing here: Error for refusals with a status and a reason, ReadBody
// for size-limited bodies, and State for what must outlive a reload.
package ingress
