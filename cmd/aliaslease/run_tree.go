package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/doctor"
	"github.com/aliaslease/aliaslease/lease"
	"golang.org/x/term"
)

// runTree is the process tree of run's command, and the holder it is
// recorded as.
type runTree struct {
	tree       confine.Tree
	group      *confine.Group // nil for a process group
	holder     lease.ProcessHolder
	foreground bool // a process group made the terminal's foreground group
	// session: the tree has a session of its own (a confined one), so a
	// terminal's Ctrl-C reaches only run, which passes it on.
	session bool
	// unconfine removes the tree's firewall rules once it is gone (nil
	// when it is not confined): before its group and its record go.
	unconfine func() error
	// recorded hands the tree's guard a look at the lease's record once
	// the confinement is in it (nil when it is not confined), so that
	// confine --release, which lifts the record first, is not undone.
	recorded func(stillConfined func() (bool, error))
}

// startError is a command that could not be started (126, 127), as
// opposed to run's own failure to make its tree.
type startError struct{ err error }

func (e startError) Error() string { return e.err.Error() }
func (e startError) Unwrap() error { return e.err }

// startTree starts cmd in a cgroup of its own, in it before its first
// instruction, or, where no cgroup can be had, as a process group of its
// own with run as child subreaper (see confine.ProcGroup for what escapes
// that).
func startTree(cmd *exec.Cmd, slug string, gen uint64) (*runTree, error) {
	h := lease.ProcessHolder{Slug: slug, Generation: gen}
	root, err := confine.Find()
	var g *confine.Group
	if err == nil {
		if h.Cgroup, err = confine.RunName(slug, gen); err != nil {
			return nil, err
		}
		g, err = root.New(h.Cgroup)
	}
	if errors.Is(err, confine.ErrNoCgroup) {
		return startProcGroup(cmd, h)
	} else if err != nil {
		return nil, err
	}
	if err := g.Attach(cmd); err != nil {
		g.Remove()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		g.Remove()
		return nil, startError{err}
	}
	_, _, h.RunID, _ = confine.ParseRunName(h.Cgroup)
	h.Kind = lease.TreeCgroup
	return &runTree{tree: g, group: g, holder: h}, nil
}

// startProcGroup starts cmd as a process group of its own.
func startProcGroup(cmd *exec.Cmd, h lease.ProcessHolder) (*runTree, error) {
	if err := confine.SetSubreaper(); err != nil && !errors.Is(err, confine.ErrNoSubreaper) {
		return nil, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	fg := foreground(cmd)
	pg, err := confine.StartProcGroup(cmd)
	if err != nil {
		if fg {
			restoreForeground()
		}
		return nil, startError{err}
	}
	h.Kind, h.RunID, h.Cgroup, h.PGID = lease.TreeProcGroup, hex.EncodeToString(id[:]), "", pg.PGID()
	h.Start, _ = confine.StartTime(h.PGID)
	return &runTree{tree: pg, holder: h, foreground: fg}, nil
}

// wait forwards the signals on sigs to the whole tree until the command
// ends, SIGKILLs what is left killAfter after one that asks it to end,
// and once the command has ended ends the rest of its tree (SIGTERM,
// SIGKILL after killAfter), as a container's processes end with its
// first. It returns the command's status.
func (rt *runTree) wait(cmd *exec.Cmd, sigs <-chan os.Signal, killAfter time.Duration) int {
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	done := make(chan struct{})
	var wg sync.WaitGroup
	var kill *time.Timer
	wg.Go(func() {
		for {
			select {
			case s := <-sigs:
				sig, _ := s.(syscall.Signal)
				if sig == syscall.SIGINT && tty && !rt.session && (rt.group != nil || rt.foreground) {
					continue // the terminal sent it to the command's foreground group itself
				}
				rt.tree.Signal(sig)
				if ending(sig) && kill == nil {
					kill = time.AfterFunc(killAfter, func() { rt.tree.Kill() })
				}
			case <-done:
				if kill != nil {
					kill.Stop()
				}
				return
			}
		}
	})
	status := commandStatus(cmd, cmd.Wait())
	if rt.foreground {
		restoreForeground()
	}
	if pop, err := rt.tree.Populated(); err != nil || pop {
		// Bounded: a process stuck in the kernel may never go, and then
		// the tree stays recorded as the lease's holder (see finish).
		ctx, cancel := context.WithTimeout(context.Background(), killAfter+time.Minute)
		confine.Terminate(ctx, rt.tree, syscall.SIGTERM, killAfter)
		cancel()
	}
	close(done)
	wg.Wait()
	return status
}

// finish removes the tree's group and its record as a holder, releasing
// the lease when the run made it and no other run's tree holds it. A
// tree that did not end stays recorded: the lease stays held by it.
func (rt *runTree) finish(m *lease.Manager, stderr io.Writer) {
	slug := rt.holder.Slug
	if pop, err := rt.tree.Populated(); err != nil || pop {
		say(stderr, "warning", "the command's %s did not end; it keeps holding %s", rt.holder, slug)
		return
	}
	if rt.unconfine != nil {
		if err := rt.unconfine(); err != nil {
			say(stderr, "warning", "%v (aliaslease cleanup removes them)", err)
		}
	}
	if rt.group != nil {
		if err := rt.group.Remove(); err != nil {
			say(stderr, "warning", "removing the command's %s: %v", rt.holder, err)
		}
	}
	if _, err := m.EndRun(context.Background(), slug, rt.holder.Generation, rt.holder.RunID); err != nil {
		say(stderr, "warning", "ending %s's run: %v", slug, err)
	}
}

// treesHere says, for the health report, how run holds a tree here.
func treesHere() *doctor.Trees {
	root, err := confine.Find()
	if err == nil {
		return &doctor.Trees{Kind: "cgroup", Detail: root.Dir}
	}
	escapes := "a descendant that calls setsid (or setpgid) after the wrapper was SIGKILLed is no longer seen, and the lease can be reclaimed under it"
	if runtime.GOOS != "linux" {
		escapes = "a descendant that calls setsid (or setpgid) is not seen (no child subreaper here), and the lease can be reclaimed under it"
	}
	return &doctor.Trees{Kind: "process group", Detail: err.Error(), Escapes: escapes}
}
