package bolt_test

import (
	"time"

	"github.com/heraldhq/herald/journal"
)

func journalRetention(n int) journal.Retention {
	return journal.Retention{MaxEntries: n, MaxAge: time.Hour}
}
