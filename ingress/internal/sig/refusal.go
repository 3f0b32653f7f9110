package sig

import (
	"errors"
	"net/http"

	"github.com/heraldhq/herald/ingress"
)

// Refusal maps a verification failure to the answer every adapter gives:
// a missing signature is 401, a forged, malformed or stale one 403.
func Refusal(err error) error {
	if errors.Is(err, ErrMissing) {
		return ingress.Errorf(http.StatusUnauthorized, "%v", err)
	}
	return ingress.Errorf(http.StatusForbidden, "%v", err)
}
