package herald

import (
	"math"
	"strconv"
)

// MaxCodeBytes bounds a code: codes are room names kept in memory per
// page, and no real code comes near it. A page cannot register a longer
// one, so the trigger URL refuses one too.
const MaxCodeBytes = 256

// CodeText reads a code (or any text parameter) as senders and pages send
// it: a string as is, an integral JSON number ({"code": 1234}) as its
// decimal text. Anything else, a fraction or a number past 2^53 included,
// is "". The trigger URL and the Socket.IO REGISTER share it, so a code
// means the same on both sides.
func CodeText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}
