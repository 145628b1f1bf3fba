package confine

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// Tree is a process tree held as one: a cgroup (*Group) or, where there
// is none, a process group (*ProcGroup).
type Tree interface {
	// Populated says whether any process of the tree lives.
	Populated() (bool, error)
	// Signal sends sig to every process of the tree.
	Signal(sig syscall.Signal) error
	// Kill sends SIGKILL to every process of the tree.
	Kill() error
	// Wait returns once no process of the tree lives, or ctx ends.
	Wait(ctx context.Context) error
}

// Terminate ends a tree as "run" does on a signal: sig to the whole tree,
// then, if anything is left after killAfter (--kill-after, so that a
// trap's "docker compose down" can finish), SIGKILL to the rest. It
// returns once the tree is empty, reporting whether SIGKILL was needed;
// ctx bounds the whole of it (a process stuck in the kernel may never go).
func Terminate(ctx context.Context, t Tree, sig syscall.Signal, killAfter time.Duration) (killed bool, err error) {
	if err := t.Signal(sig); err != nil {
		return false, err
	}
	grace, cancel := context.WithTimeout(ctx, killAfter)
	err = t.Wait(grace)
	cancel()
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err == nil:
		return false, nil
	case !errors.Is(err, context.DeadlineExceeded):
		return false, err
	}
	if err := t.Kill(); err != nil {
		return true, err
	}
	return true, t.Wait(ctx)
}
