package mem_test

import (
	"testing"

	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/journaltest"
	"github.com/heraldhq/herald/journal/mem"
)

func TestJournal(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal { return mem.New() })
}
