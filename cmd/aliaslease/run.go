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
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// runCmd acquires, starts the command in a process tree of its own (see
// startTree), records the tree as a holder of the lease, passes signals on
// to the whole tree, ends what is left of it when the command ends, and
// exits with the command's status. It releases the lease only when it
// made it (and not with --keep), and only once no other run's tree holds
// it.
func runCmd(c *cli.Context, args *runArgs) error {
	slug, argv, err := slugAndCommand(c.Args().Slice())
	if err != nil {
		return err
	}
	if args.killAfter < 0 {
		return usagef("--kill-after must not be negative")
	}
	spec, err := args.confine.prepare()
	if err != nil {
		return err
	}
	res, m, err := acquireSlug(c, &args.leaseArgs, slug)
	if err != nil {
		return runFailed(err)
	}
	gen, made := res.Lease.Generation, res.Outcome != lease.OutcomeRenewed
	cmd := runCommandOf(argv, res.Lease, spec)
	dieWithParent(cmd)
	// From here on signals are the command's: forwarded to its tree, never
	// a reason to stop waiting for it. The forwarder listens before the
	// hand-over, so that no signal falls between the two; one that came
	// before it means the command is never started.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if !interrupts.forward(true) {
		return fmt.Errorf("run: command not started: %w", context.Canceled)
	}
	defer interrupts.forward(false)
	// The parent-death signal is tied to the forking thread: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rt *runTree
	if spec != nil {
		rt, err = startConfined(cmd, lease.ProcessHolder{Slug: slug, Generation: gen}, res.Lease.Alias, spec, c.App.ErrWriter)
	} else {
		rt, err = startTree(cmd, slug, gen)
	}
	if err != nil {
		if made && !args.keep {
			m.Release(context.Background(), slug, gen) // made for a command that never ran
		}
		return startFailed(c.App.ErrWriter, err)
	}
	// Recorded once the command is in its tree: an empty recorded tree has
	// ended for good (see confine.Trees.Alive).
	if err := m.Hold(context.Background(), rt.holder, made, args.keep); err != nil {
		say(c.App.ErrWriter, "warning", "recording the command's tree as a holder of %s: %v", slug, err)
	} else if rt.recorded != nil {
		rt.recorded(func() (bool, error) { return stillConfined(m, rt.holder) })
	}
	stopRenewing := keepRenewed(m, rt.holder, c.App.ErrWriter)
	status := rt.wait(cmd, sigs, args.killAfter)
	stopRenewing()
	rt.finish(m, c.App.ErrWriter)
	return exitStatus(status)
}

// stillConfined says whether h's lease still records its confinement
// (confine --release lifts the record before the rules); anything but a
// record of h without it counts as confined, so that the rules are kept.
func stillConfined(m *lease.Manager, h lease.ProcessHolder) (bool, error) {
	l, err := m.Lease(context.Background(), h.Slug)
	if err != nil {
		return false, err
	}
	for _, p := range l.Processes {
		if p.RunID == h.RunID && l.Generation == h.Generation {
			return p.Confined != nil, nil
		}
	}
	return true, nil
}

// runCommandOf is the command run starts: argv with the lease in its
// environment, and, confined, the user's HOME, USER and LOGNAME.
func runCommandOf(argv []string, l lease.Lease, spec *confineSpec) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"ALIASLEASE_SLUG="+l.Slug,
		"ALIASLEASE_ALIAS="+l.Alias.String(),
		"ALIASLEASE_GENERATION="+strconv.FormatUint(l.Generation, 10),
		"ALIASLEASE_OWNER="+strconv.Itoa(os.Geteuid())) // the database's owner, for the owner label (lease.OwnerLabel)
	if spec != nil {
		cmd.Env = append(cmd.Env, spec.env...)
	}
	return cmd
}

// forwarded are the signals run passes on to its command's tree. SIGINT
// from a terminal reaches the command directly (same process group), so
// it is forwarded only when there is no terminal, where it came from
// kill, or when the tree is a process group of its own.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT}

// ending says whether a forwarded signal asks the tree to end, so that
// what is left of it is killed after --kill-after; SIGUSR1 and SIGUSR2
// are only passed on.
func ending(sig syscall.Signal) bool { return sig != syscall.SIGUSR1 && sig != syscall.SIGUSR2 }

// runFailure is a failure of run itself before its command started: exit
// 125 (unless it is a usage error, 2), whatever code the failure has
// elsewhere.
type runFailure struct{ err error }

func (e runFailure) Error() string { return e.err.Error() }
func (e runFailure) Unwrap() error { return e.err }

// runFailed marks err as run's own failure.
func runFailed(err error) error { return runFailure{err} }

// startFailed reports why the command did not start: 127 when it was not
// found, 126 when it could not be executed, run's own failure otherwise.
func startFailed(stderr io.Writer, err error) error {
	var se startError
	if errors.Is(err, errConfine) {
		return err // exit 9: isolation is named, never 125
	}
	if !errors.As(err, &se) {
		return runFailed(fmt.Errorf("run: command not started: %w", err))
	}
	say(stderr, "error", "run: %v", se.err)
	if errors.Is(se.err, exec.ErrNotFound) || errors.Is(se.err, os.ErrNotExist) {
		return exitStatus(127)
	}
	return exitStatus(126)
}

// commandStatus is the exit status of a command that ran: 128+N when
// signal N ended it.
func commandStatus(cmd *exec.Cmd, err error) int {
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
	keep      bool          // --keep
	killAfter time.Duration // --kill-after
	confine   runConfineArgs
	leaseArgs
}

// runCommand is "aliaslease run SLUG -- COMMAND".
func runCommand() *cli.Command {
	var args runArgs
	return &cli.Command{
		Name:      "run",
		Usage:     "acquire SLUG, run COMMAND with ALIASLEASE_ALIAS set, release when it ends",
		ArgsUsage: "SLUG -- COMMAND [ARGS...]",
		UsageText: "aliaslease run [--keep] [--kill-after DURATION] [--confine [--user NAME] [--confine-allow ADDR:PORT]...]\n" +
			"               [--wait DURATION] [--grace DURATION] [--no-ifup] SLUG -- COMMAND [ARGS...]\n\n" +
			"COMMAND gets ALIASLEASE_SLUG, ALIASLEASE_ALIAS, ALIASLEASE_GENERATION and ALIASLEASE_OWNER in its environment.\n" +
			"It runs in a process tree of its own (a cgroup on Linux as root or in a delegated subtree,\n" +
			"else a process group), and the lease is held while any process of that tree lives, so it\n" +
			"is never reclaimed under a descendant (run renews it every quarter of --grace meanwhile).\n" +
			"Signals go to the whole tree (SIGINT only when stdin\n" +
			"is not a terminal, since a terminal's Ctrl-C reaches COMMAND directly); what is left of the\n" +
			"tree after --kill-after, and when COMMAND itself ends, is sent SIGTERM, then SIGKILL after\n" +
			"--kill-after. run releases only a lease it made (not with --keep), once no other run of\n" +
			"SLUG holds it. Exit status: COMMAND's (128+N when signal N ended it); 125 when run failed\n" +
			"before COMMAND started, 126 when COMMAND could not be executed, 127 when it was not found.\n\n" +
			"--confine (Linux, as root: sudo) runs the tree as an unprivileged user (--user, else the sudo\n" +
			"caller; never root) with no_new_privs, and firewall rules of aliaslease's own refuse its sockets\n" +
			"every local address and bridge subnet of the host but SLUG's alias, the local nameservers on\n" +
			"port 53 and each --confine-allow. The rules live as long as the tree (restored if a firewall\n" +
			"reload removes them). When a part is missing, exit 9: COMMAND never starts, nothing is left.\n\n" +
			"EXAMPLES:\n   aliaslease run bottle-7 -- sh -c 'docker compose up --abort-on-container-exit'   # compose reads $ALIASLEASE_ALIAS\n" +
			"   sudo aliaslease run --confine bottle-7 -- ./agent   # as the sudo caller, reaching only its alias",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "keep", Destination: &args.keep, Usage: "keep the lease when COMMAND ends"},
			&cli.DurationFlag{Name: "kill-after", Value: 10 * time.Second, Destination: &args.killAfter,
				Usage: "after a signal, or once COMMAND ended, SIGKILL what is left of its tree after `DURATION`"},
		}, append(args.confine.flags(), args.leaseArgs.flags()...)...),
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
