// Package heraldbin builds the real herald binary, once per test process,
// for tests that run it as a process of its own (killed with SIGKILL,
// restarted on its data, put under load), and removes it afterwards.
package heraldbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	mu  sync.Mutex
	dir string // where the binary was built; "" before the first Path
	bin string
	err error
)

// Path builds herald on its first call and returns the binary's path.
func Path() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if bin != "" || err != nil {
		return bin, err
	}
	if dir, err = os.MkdirTemp("", "herald-bin-"); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "herald")
	if out, berr := exec.Command("go", "build", "-o", path, "github.com/heraldhq/herald/cmd/herald").CombinedOutput(); berr != nil {
		err = fmt.Errorf("go build: %v\n%s", berr, out)
		return "", err
	}
	bin = path
	return bin, nil
}

// Remove deletes what Path built (40 MB): call it from TestMain once the
// tests have run.
func Remove() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}
