package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/testsubtree"
	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"aliaslease": main})
}

// TestScripts runs the CLI scripts in testdata/script; each command there
// is a separate process running this test binary as aliaslease.
func TestScripts(t *testing.T) {
	t.Cleanup(testsubtree.Hold(confine.RootSubtree())) // the runs of the scripts make it
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			if err := os.Mkdir(filepath.Join(env.WorkDir, "home"), 0o700); err != nil {
				return err
			}
			env.Setenv("XDG_STATE_HOME", "")
			env.Setenv("ALIASLEASE_DOCKER", "off")
			env.Setenv("DOCKER_HOST", "unix://"+filepath.Join(env.WorkDir, "no-docker.sock"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"holdlock": cmdHoldlock,
			"truncate": cmdTruncate,
			"mode":     cmdMode,
		},
	})
}

// exitcode N PROG ARGS... runs PROG and fails unless it exits with N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%v exited %d, want %d", args[1:], got, want)
	}
}

// holdlock PATH takes an exclusive flock on PATH (in the test process, not
// in the aliaslease under test) and holds it until the script ends.
func cmdHoldlock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: holdlock PATH")
	}
	lk := flock.New(ts.MkAbs(args[0]))
	ok, err := lk.TryLock()
	if !ok || err != nil {
		ts.Fatalf("holdlock: %v %v", ok, err)
	}
	ts.Defer(func() { lk.Unlock() })
}

// truncate FILE SIZE cuts FILE to SIZE bytes.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
}

// mode FILE PERM fails unless FILE's permission bits are PERM (octal).
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := fi.Mode().Perm(); uint64(got) != want {
		ts.Fatalf("mode of %s = %#o, want %#o", args[0], got, want)
	}
}
