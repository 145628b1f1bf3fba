// Package test holds aliaslease's end-to-end suites: the built CLI run as
// separate processes against real bbolt files, a real Docker engine, and
// (for faults a real engine cannot show) a fake Docker API server.
package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
	for _, b := range [][]string{{"-tags", "urfave_cli_no_docs", "-o", bin}, {"-tags", "aliaslease_crash,urfave_cli_no_docs", "-o", crashBin}} {
		args := append(append([]string{"build"}, b...), "../cmd/aliaslease")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %v: %v\n%s", args, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanupDocker()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// cli runs aliaslease with args, in an environment holding only env and
// PATH/HOME, and returns what it did.
func cli(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return runBin(t, bin, env, args...)
}

func runBin(t testing.TB, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running aliaslease %v: %v", args, err)
	}
	return r
}

// mustCLI runs aliaslease and fails the test unless it exits 0.
func mustCLI(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("aliaslease %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
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
