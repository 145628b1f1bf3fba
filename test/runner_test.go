package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The one runner of the suite. Every process a test runs (the built
// binary, a tool wrapping it such as strace or unshare, the test programs
// of testdata, flock) is made by command, in an environment holding only
// PATH, HOME and what the test gives, and started and waited for by
// spawn, which captures its output and exit status. Only the go and
// docker commands that set the suite up run outside it (goBuild, docker).

// goBuild builds the Go package pkg into out, with the go command's
// flags and, added to this process's environment, env.
func goBuild(out, pkg string, env []string, flags ...string) error {
	args := append(append([]string{"build", "-o", out}, flags...), pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// result is one finished run of a program.
type result struct {
	stdout, stderr string
	code           int // -1 when a signal ended it, -2 when it could not be waited for
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// signaled says whether a signal ended the run.
func (r result) signaled() bool { return r.code == -1 }

// command prepares exe with args in an environment holding only PATH,
// HOME and env; a variable in env overrides PATH or HOME.
func command(exe string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(exe, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	return cmd
}

// proc is a process running in the background.
type proc struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{} // closed once it has ended and res is set
	res      result
	signaled time.Time // when signal sent the last signal
	exited   time.Time
}

// spawn starts cmd, capturing its stdout and stderr where cmd does not
// set them, and waits for it in the background. It takes no testing.T,
// for the workers that start processes off the test's goroutine.
func spawn(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		err := cmd.Wait()
		p.exited = time.Now()
		p.res = result{stdout: p.out.String(), stderr: p.err.String()}
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.res.code = ee.ExitCode()
		case err != nil:
			p.res.code = -2
			p.res.stderr += err.Error()
		}
		close(p.done)
	}()
	return p, nil
}

// startProc starts cmd as spawn does; the test kills it at the end if
// it still runs.
func startProc(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	p, err := spawn(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

// startCLI starts aliaslease with args in the environment command gives.
func startCLI(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	return startProc(t, command(bin, env, args...))
}

// finish runs cmd to its end and returns what it did; it fails the test
// when cmd cannot be run at all.
func finish(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	p, err := spawn(cmd)
	if err != nil {
		t.Fatal(err)
	}
	r := p.result()
	if r.code == -2 {
		t.Fatalf("running %s: %s", strings.Join(cmd.Args, " "), r.stderr)
	}
	return r
}

// runBin runs exe with args in the environment command gives, to its end.
func runBin(t testing.TB, exe string, env []string, args ...string) result {
	t.Helper()
	return finish(t, command(exe, env, args...))
}

// cli runs aliaslease with args in the environment command gives.
func cli(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return runBin(t, bin, env, args...)
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

// cliBounded runs aliaslease as cli does, but kills it after limit and
// fails the test then: a hostile file must never make it hang.
func cliBounded(t *testing.T, limit time.Duration, env []string, args ...string) result {
	t.Helper()
	r, killed := startCLI(t, env, args...).waitFor(limit)
	if killed {
		t.Errorf("aliaslease %s hung: killed after %v", strings.Join(args, " "), limit)
	}
	return r
}

// result waits for the process to end and returns what it did.
func (p *proc) result() result {
	<-p.done
	return p.res
}

// kill SIGKILLs the process if it still runs, and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor waits up to limit for the process to end, killing it after
// that; killed says whether it had to.
func (p *proc) waitFor(limit time.Duration) (r result, killed bool) {
	select {
	case <-p.done:
	case <-time.After(limit):
		killed = true
		p.kill()
	}
	return p.res, killed
}

// wait waits up to limit for the process to end, killing it and failing
// the test after that, and returns what it did and how long after the
// last signal it ended.
func (p *proc) wait(t *testing.T, limit time.Duration) (result, time.Duration) {
	t.Helper()
	r, killed := p.waitFor(limit)
	if killed {
		t.Errorf("%s still ran %v after the signal; killed it", strings.Join(p.cmd.Args, " "), limit)
	}
	return r, p.exited.Sub(p.signaled)
}

// signal sends sig to the process and notes when.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.signaled = time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// running says whether the process has not ended yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}
