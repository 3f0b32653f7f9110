package auth

import (
	"errors"
	"syscall"
)

// errSharingViolation is ERROR_SHARING_VIOLATION, which syscall does not
// name.
const errSharingViolation syscall.Errno = 32

// heldOpen reports whether err is Windows refusing to replace or remove a
// file another handle has open.
func heldOpen(err error) bool {
	return errors.Is(err, syscall.ERROR_ACCESS_DENIED) || errors.Is(err, errSharingViolation)
}
