// Command aliaslease hands each sandboxed agent ("bottle") its own
// loopback alias and keeps the slug→alias leases in a locked bbolt file.
//
// Run "aliaslease --help" for the commands, flags and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/aliaslease/aliaslease/internal/dockerinv"
	"github.com/aliaslease/aliaslease/lease"
)

func main() {
	// net/http logs a misbehaving daemon's stray bytes through the standard
	// logger, unprefixed and unescaped: every message of ours goes through
	// report and say instead.
	log.SetOutput(io.Discard)
	ctx := interrupts.watch()
	app := newApp(os.Stdout, os.Stderr)
	err := app.RunContext(ctx, normalizeArgs(app, os.Args))
	os.Exit(report(os.Stderr, err, interrupts.caught()))
}

// exitCode is one row of the contract's exit-code table: what the code
// means (for --help) and, for codes an error maps to, how such an error is
// recognised and what hint fits it.
type exitCode struct {
	code    int
	meaning string
	match   func(error) bool
	hint    func(error) string
}

// wraps matches an error that wraps target.
func wraps(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// fixedHint is a hint that is the same for every error it matches.
func fixedHint(s string) func(error) string { return func(error) string { return s } }

// exitCodes is the one table of exit codes: report maps errors with it,
// in order, and --help prints it.
var exitCodes = []exitCode{
	{code: 0, meaning: "done"},
	{code: 1, meaning: "unexpected failure"},
	{code: 2, meaning: "bad input: usage, slug, pool, flag value, Docker endpoint; recover over a readable database; release of a lease a run's tree holds",
		match: func(err error) bool {
			var ue usageError
			return errors.As(err, &ue) || errors.Is(err, lease.ErrInvalidSlug) || errors.Is(err, lease.ErrInvalidPool) ||
				errors.Is(err, lease.ErrEndpoint) || errors.Is(err, lease.ErrExists) || errors.Is(err, lease.ErrHeld)
		},
		hint: func(err error) string {
			if errors.Is(err, lease.ErrEndpoint) {
				return endpointHint(err)
			}
			var ue usageError
			if errors.As(err, &ue) {
				return ue.hint
			}
			return ""
		}},
	{code: 3, meaning: "pool exhausted", match: wraps(lease.ErrExhausted),
		hint: func(err error) string {
			if errors.As(err, new(waitedError)) {
				return "release a lease (aliaslease release SLUG), reclaim stale ones (aliaslease gc), give a longer --wait, or widen --pool"
			}
			return "release a lease (aliaslease release SLUG), reclaim stale ones (aliaslease gc), wait with --wait, or widen --pool"
		}},
	{code: 4, meaning: "Docker needed and not reachable, or it failed", match: wraps(lease.ErrInventory),
		hint: func(err error) string {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				return "Docker did not answer in time; retry, or raise --docker-timeout"
			case errors.Is(err, fs.ErrPermission):
				return "no permission on the Docker socket; join the docker group (then log in again) or run as a user who may use Docker"
			}
			return "is the Docker engine running and healthy? check --docker-host, DOCKER_HOST or DOCKER_CONTEXT"
		}},
	{code: 5, meaning: "lock not obtained within --lock-timeout", match: wraps(lease.ErrLocked),
		hint: fixedHint("another aliaslease, or an operator's flock, holds the lock; retry, or raise --lock-timeout")},
	{code: 6, meaning: "database unreadable (corrupt, truncated, empty, newer schema); left untouched", match: wraps(lease.ErrCorrupt),
		hint: func(err error) string {
			if errors.Is(err, lease.ErrNotDatabase) {
				return "the file was left untouched; it is not an aliaslease database: check --db (or ALIASLEASE_DB)"
			}
			return "the file was left untouched; move it aside to start a new database (aliaslease recover --from-docker --force rebuilds one from labelled containers)"
		}},
	{code: 7, meaning: "the alias could not be brought up on the interface", match: wraps(lease.ErrInterface)},
	{code: 8, meaning: "refused: an unsafe path or file (another user's, writable by others, linked, not a regular file); nothing touched", match: wraps(lease.ErrUnsafePath)},
	{code: 9, meaning: "isolation could not be set up (--confine), or verify found the bottle not isolated",
		match: func(err error) bool { return errors.Is(err, errNotIsolated) || errors.Is(err, errConfine) }},
	{code: exitUnhealthy, meaning: "doctor found a problem (the report ran; see its output)"},
	{code: exitRunFailure, meaning: "run only: aliaslease failed before COMMAND started (the message says why); 126: COMMAND not executable; 127: not found"},
	{code: 130, meaning: "interrupted by SIGINT; nothing changed after it"},
	{code: 143, meaning: "interrupted by SIGTERM; nothing changed after it"},
}

// endpointHint says what to fix for an endpoint that cannot be used: the
// TLS settings or files, or the docker configuration, when the error is
// about them, else the address.
func endpointHint(err error) string {
	switch {
	case errors.Is(err, dockerinv.ErrTLSEnv):
		return "fix DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: TLS needs DOCKER_TLS_VERIFY=1 and ca.pem (with cert.pem and key.pem for a client certificate) in DOCKER_CERT_PATH, else in the docker config directory; unset both for plain HTTP"
	case errors.Is(err, dockerinv.ErrContextTLS):
		return "fix the TLS files of that docker context (docker context inspect), choose another with DOCKER_CONTEXT, or name the daemon with --docker-host or DOCKER_HOST"
	case errors.Is(err, dockerinv.ErrDockerConfig):
		return "fix or move aside the docker configuration file named above ($DOCKER_CONFIG, default ~/.docker), or name the daemon with --docker-host or DOCKER_HOST, which do not read it"
	}
	return "fix --docker-host, DOCKER_HOST or DOCKER_CONTEXT (unix:///path or tcp://host:port)"
}

// exitFailure is the code of an unexpected failure.
const exitFailure = 1

// exitUnhealthy is doctor's code for a report that found a problem, so
// that a monitoring check can tell it from doctor failing to run.
const exitUnhealthy = 10

// exitRunFailure is run's code for its own failures before its command
// started, as docker run has it.
const exitRunFailure = 125

// exitCodesHelp is the exit-code table as --help prints it.
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("EXIT CODES:")
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "\n   %3d  %s", e.code, e.meaning)
	}
	return b.String()
}

// report prints err, with a hint where one helps, and returns the exit
// code it maps to. It is the one place where errors become exit codes: a
// command that failed after the signal sig (0 for none) was interrupted
// by it, 128+sig.
func report(stderr io.Writer, err error, sig syscall.Signal) int {
	if err == nil {
		return 0
	}
	if sig != 0 {
		fmt.Fprintf(stderr, "aliaslease: error: interrupted by %s; nothing changed after it\n", signalName(sig))
		return 128 + int(sig)
	}
	var es exitStatus
	if errors.As(err, &es) {
		return int(es) // the outcome was already reported
	}
	code, why := exitFailure, ""
	for _, e := range exitCodes {
		if e.match != nil && e.match(err) {
			code = e.code
			if e.hint != nil {
				why = e.hint(err)
			}
			break
		}
	}
	if rf := (runFailure{}); errors.As(err, &rf) && code != 2 {
		code = exitRunFailure // codes 3-8 and 1 alike: run failed before its command started
	}
	fmt.Fprintf(stderr, "aliaslease: error: %s\n", escape(err.Error()))
	if why != "" {
		fmt.Fprintf(stderr, "aliaslease: hint: %s\n", why)
	}
	return code
}

// usageError is bad input on the command line: exit 2, with a hint
// when one helps.
type usageError struct{ msg, hint string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{msg: fmt.Sprintf(format, a...)} }

// exitStatus ends the process with a code and no message: run passes on
// its command's status this way.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }
