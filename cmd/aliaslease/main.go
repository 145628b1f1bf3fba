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
	"os"
	"os/signal"
	"syscall"

	"github.com/aliaslease/aliaslease/lease"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := newApp(os.Stdout, os.Stderr)
	err := app.RunContext(ctx, normalizeArgs(app, os.Args))
	stop()
	os.Exit(report(os.Stderr, err))
}

// Exit codes of the contract.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitExhausted = 3
	exitDocker    = 4
	exitLocked    = 5
	exitCorrupt   = 6
	exitInterface = 7
)

// report prints err, with a hint where one helps, and returns the exit
// code it maps to. It is the one place where errors become exit codes.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var es exitStatus
	if errors.As(err, &es) {
		return int(es) // the outcome was already reported
	}
	code, hint := exitFailure, ""
	var ue usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, lease.ErrInvalidSlug), errors.Is(err, lease.ErrInvalidPool):
		code = exitUsage
	case errors.Is(err, lease.ErrExhausted):
		code, hint = exitExhausted, "release a lease (aliaslease release SLUG), reclaim stale ones (aliaslease gc), wait with --wait, or widen --pool"
	case errors.Is(err, lease.ErrInventory):
		code, hint = exitDocker, "is the Docker engine running? check --docker-host, DOCKER_HOST or DOCKER_CONTEXT, or use --docker off to decide from the leases alone"
	case errors.Is(err, lease.ErrLocked):
		code, hint = exitLocked, "another aliaslease, or an operator's flock, holds the lock; retry, or raise --lock-timeout"
	case errors.Is(err, lease.ErrCorrupt):
		code, hint = exitCorrupt, "the file was left untouched; move it aside to start a new database"
	case errors.Is(err, lease.ErrInterface):
		code = exitInterface
	case errors.Is(err, context.Canceled):
		hint = "interrupted"
	}
	fmt.Fprintf(stderr, "aliaslease: error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(stderr, "aliaslease: hint: %s\n", hint)
	}
	return code
}
