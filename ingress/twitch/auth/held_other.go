//go:build !windows

package auth

// heldOpen is false where an open file can be replaced or removed.
func heldOpen(error) bool { return false }
