package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"syscall"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// runCmd acquires, runs the command with the alias in its environment,
// forwards signals to it, releases (unless --keep) and exits with its
// status: 128+N when a signal N ended it, 127 when it could not be found.
func runCmd(c *cli.Context, args *runArgs) error {
	slug, argv, err := slugAndCommand(c.Args().Slice())
	if err != nil {
		return err
	}
	res, m, err := acquireSlug(c, &args.leaseArgs, slug)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"ALIASLEASE_SLUG="+slug,
		"ALIASLEASE_ALIAS="+res.Lease.Alias.String(),
		"ALIASLEASE_GENERATION="+strconv.FormatUint(res.Lease.Generation, 10))
	dieWithParent(cmd)
	// From here on signals are the command's: forwarded to it, never a
	// reason to stop waiting for it. The forwarder listens before the
	// hand-over, so that no signal falls between the two; one that came
	// before it means the command is never started.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if !interrupts.forward(true) {
		return fmt.Errorf("run: command not started: %w", context.Canceled)
	}
	status := runForwarding(cmd, sigs, c.App.ErrWriter, func(pid int) {
		if err := m.HoldWhileRuns(context.Background(), slug, res.Lease.Generation, pid); err != nil {
			say(c.App.ErrWriter, "warning", "recording the command as the holder of %s: %v", slug, err)
		}
	})
	interrupts.forward(false)
	ctx := context.Background() // the command has ended: finish the bookkeeping
	if args.keep {
		if err := m.HoldWhileRuns(ctx, slug, res.Lease.Generation, 0); err != nil && !errors.Is(err, lease.ErrNotFound) && !errors.Is(err, lease.ErrGenerationMismatch) {
			say(c.App.ErrWriter, "warning", "clearing the command as the holder of %s: %v", slug, err)
		}
	} else if _, err := m.Release(ctx, slug, res.Lease.Generation); err != nil && !errors.Is(err, lease.ErrNotFound) && !errors.Is(err, lease.ErrGenerationMismatch) {
		say(c.App.ErrWriter, "warning", "releasing %s after the command: %v", slug, err)
	}
	return exitStatus(status)
}

// forwarded are the signals run passes on to its command. SIGINT from a
// terminal reaches the command directly (same process group), so it is
// forwarded only when there is no terminal, where it came from kill.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT}

// runForwarding starts cmd, calls started with its PID, forwards the
// signals that arrive on sigs to it and returns its exit status.
func runForwarding(cmd *exec.Cmd, sigs <-chan os.Signal, stderr io.Writer, started func(pid int)) int {
	// The parent-death signal is tied to the forking thread: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		say(stderr, "error", "run: %v", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return 127
		}
		return 126
	}
	started(cmd.Process.Pid)
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGINT && tty {
					continue
				}
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err == nil {
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		return code
	}
	return 1
}

// runArgs are run's flags.
type runArgs struct {
	keep bool // --keep
	leaseArgs
}

// runCommand is "aliaslease run SLUG -- COMMAND".
func runCommand() *cli.Command {
	var args runArgs
	return &cli.Command{
		Name:      "run",
		Usage:     "acquire SLUG, run COMMAND with ALIASLEASE_ALIAS set, release when it ends",
		ArgsUsage: "SLUG -- COMMAND [ARGS...]",
		UsageText: "aliaslease run [--keep] [--wait DURATION] [--grace DURATION] [--no-ifup] SLUG -- COMMAND [ARGS...]\n\n" +
			"COMMAND gets ALIASLEASE_SLUG, ALIASLEASE_ALIAS and ALIASLEASE_GENERATION in its environment.\n" +
			"Signals are forwarded to it; SIGINT only when stdin is not a terminal, since a terminal's\n" +
			"Ctrl-C reaches COMMAND directly. It never outlives its lease: on Linux it is killed when\n" +
			"run dies, and its process keeps the lease live while it runs. run exits with COMMAND's\n" +
			"status (128+N when signal N ended it, 127 when it was not found).\n\n" +
			"EXAMPLE:\n   aliaslease run bottle-7 -- sh -c 'docker compose up --abort-on-container-exit'   # compose reads $ALIASLEASE_ALIAS",
		Flags:  append([]cli.Flag{&cli.BoolFlag{Name: "keep", Destination: &args.keep, Usage: "keep the lease when COMMAND ends"}}, args.leaseArgs.flags()...),
		Action: func(c *cli.Context) error { return runCmd(c, &args) },
	}
}

// slugAndCommand splits run's arguments, "SLUG -- COMMAND [ARGS...]"
// (the "--" kept by reorder), into the slug and the command.
func slugAndCommand(args []string) (string, []string, error) {
	const want = "run: SLUG and COMMAND expected: aliaslease run SLUG -- COMMAND [ARGS...]"
	dash := slices.Index(args, "--")
	if dash < 0 { // "run SLUG COMMAND": no flags of COMMAND may follow
		if len(args) < 2 {
			return "", nil, usagef(want)
		}
		return args[0], args[1:], nil
	}
	switch {
	case dash == 0:
		return "", nil, usagef("run: missing SLUG before --; %s", want[len("run: "):])
	case dash > 1:
		return "", nil, usagef("run: one SLUG expected before --, got %d arguments", dash)
	case dash == len(args)-1:
		return "", nil, usagef(want)
	}
	return args[0], args[dash+1:], nil
}
