// Package test holds aliaslease's end-to-end suites: the built CLI run as
// separate processes against real bbolt files, a real Docker engine, and
// (for faults a real engine cannot show) a fake Docker API server.
package test

import (
	"fmt"
	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/testsubtree"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// bin is the aliaslease binary built for this run; crashBin is the same
// built with the aliaslease_crash tag, whose crash points SIGKILL the
// process where ALIASLEASE_CRASH names them.
var bin, crashBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aliaslease-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "aliaslease")
	crashBin = filepath.Join(dir, "aliaslease-crash")
	// Built as the README installs it (without urfave/cli's man page
	// generator), so that the suites test what users run.
	for out, tags := range map[string]string{bin: "urfave_cli_no_docs", crashBin: "aliaslease_crash,urfave_cli_no_docs"} {
		if err := goBuild(out, "../cmd/aliaslease", nil, "-tags", tags); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	release := testsubtree.Hold(confine.RootSubtree())
	code := m.Run()
	release()
	cleanupDocker()
	os.RemoveAll(dir)
	os.Exit(code)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isRoot() bool { return runtime.GOOS == "linux" && os.Geteuid() == 0 }
