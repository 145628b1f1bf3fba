package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/lease"
)

// startConfined starts cmd confined to alias: a cgroup of its own, the
// firewall rules of that cgroup installed (one transaction) and watched
// before the command starts, and the command started in the cgroup as
// spec's user with no_new_privs, so that nothing in the tree can lift its
// own confinement. Any failure before the command runs is errConfine (or a
// startError), and leaves neither rules nor the cgroup behind. The caller
// has locked its goroutine to the thread that forks (see dieWithParent).
func startConfined(cmd *exec.Cmd, h lease.ProcessHolder, alias netip.Addr, spec *confineSpec, stderr io.Writer) (*runTree, error) {
	root, err := confine.Find()
	switch {
	case err != nil:
		return nil, fmt.Errorf("run --confine: %w: no cgroup v2: %v", errConfine, err)
	case root.Delegated:
		return nil, fmt.Errorf("run --confine: %w: not root (only a delegated cgroup here)", errConfine)
	}
	if h.Cgroup, err = confine.RunName(h.Slug, h.Generation); err != nil {
		return nil, err
	}
	g, err := root.New(h.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("run --confine: %w: make its cgroup: %v", errConfine, err)
	}
	plan, err := confine.Plan(g.ID(), g.Level(), alias, spec.allow)
	if err != nil {
		g.Remove()
		return nil, fmt.Errorf("run --confine: %w: %v", errConfine, err)
	}
	gd, err := guard(confine.HostFirewall(), plan, stderr)
	if err != nil {
		g.Remove()
		return nil, err
	}
	fail := func(err error) (*runTree, error) {
		gd.lift()
		g.Remove()
		return nil, err
	}
	if err := g.Attach(cmd); err != nil {
		return fail(fmt.Errorf("run --confine: %w: %v", errConfine, err))
	}
	cmd.SysProcAttr.Credential = spec.cred
	// A session of its own: the caller's terminal, which the tree may
	// still read and write, is then not its controlling terminal, and
	// TIOCSTI (pushing input that the caller's shell reads as root's
	// next command once run has ended) is refused to it.
	cmd.SysProcAttr.Setsid = true
	// no_new_privs is a property of the thread, inherited by what it
	// forks and kept across exec: set on this locked thread, it is the
	// command's from its first instruction. The thread keeps it, so it
	// stays locked to this goroutine (one LockOSThread more than the
	// caller undoes) and is never handed to other work.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("run --confine: %w: no_new_privs: %v", errConfine, err))
	}
	if err := cmd.Start(); err != nil {
		return fail(startError{err})
	}
	_, _, h.RunID, _ = confine.ParseRunName(h.Cgroup)
	h.Kind, h.Confined = lease.TreeCgroup, &plan
	rt := &runTree{tree: g, group: g, holder: h, session: true, unconfine: gd.lift, recorded: gd.follow}
	gd.guarding(g)
	return rt, nil
}

// ruleGuard keeps one confinement's rules in the kernel while its tree
// lives: it watches aliaslease's table over netlink and, when the rules
// are gone or incomplete (a firewall reload flushed the ruleset, someone
// deleted the table), installs them again at once; when they cannot be
// restored, or the watch itself fails, it ends the tree (fail closed).
type ruleGuard struct {
	fw     *confine.Firewall
	plan   lease.Confinement
	stderr io.Writer
	cancel context.CancelFunc
	done   <-chan error

	mu        sync.Mutex
	installed bool // the first Install is done: from then on a change is a removal to undo
	lifted    bool
	tree      confine.Tree // nil until the command started
	broken    bool         // the rules could not be restored before that
	// record says whether the lease still records the confinement: nil
	// until it is recorded; false after confine --release lifted it.
	record func() (bool, error)
}

// guard starts watching, then installs the rules: a change after the
// watch listens is never missed, so no moment passes unwatched.
func guard(fw *confine.Firewall, plan lease.Confinement, stderr io.Writer) (*ruleGuard, error) {
	r, err := confine.RulesOf(plan)
	if err != nil {
		return nil, fmt.Errorf("run --confine: %w: %v", errConfine, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gd := &ruleGuard{fw: fw, plan: plan, stderr: stderr, cancel: cancel}
	done, err := fw.Watch(ctx, gd.check)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("run --confine: %w: %v", errConfine, err)
	}
	gd.done = done
	if err := fw.Install(r); err != nil { // one transaction: nothing of it loaded
		cancel()
		for range done {
		}
		return nil, fmt.Errorf("run --confine: %w: %v", errConfine, err)
	}
	gd.mu.Lock()
	gd.installed = true
	gd.mu.Unlock()
	gd.check() // a removal seen before installed was set
	go gd.watchEnded()
	return gd, nil
}

// check is the watch's callback: restore the rules if they are not whole.
func (gd *ruleGuard) check() {
	gd.mu.Lock()
	defer gd.mu.Unlock()
	if gd.lifted || !gd.installed {
		return
	}
	if ok, err := gd.fw.Present(gd.plan.CgroupID); err == nil && ok {
		return
	}
	if gd.record != nil {
		if still, err := gd.record(); err == nil && !still {
			gd.lifted = true // by the operator, on purpose: the record went first
			say(gd.stderr, "note", "the confinement of cgroup %d was lifted (confine --release); its rules stay removed", gd.plan.CgroupID)
			return
		}
	}
	r, err := confine.RulesOf(gd.plan)
	if err == nil {
		err = gd.fw.Install(r)
	}
	if err == nil {
		say(gd.stderr, "note", "the firewall rules of cgroup %d were removed under its live tree; restored", gd.plan.CgroupID)
		return
	}
	say(gd.stderr, "error", "the firewall rules of cgroup %d were removed and cannot be restored (%v): ending the tree", gd.plan.CgroupID, err)
	gd.endTree()
}

// follow makes check consult the lease's record before it restores the
// rules, from the moment the confinement is recorded.
func (gd *ruleGuard) follow(stillConfined func() (bool, error)) {
	gd.mu.Lock()
	defer gd.mu.Unlock()
	gd.record = stillConfined
}

// watchEnded ends the tree when the watch stops on an error: removals
// could then go unseen.
func (gd *ruleGuard) watchEnded() {
	err := <-gd.done
	gd.mu.Lock()
	defer gd.mu.Unlock()
	if err != nil && !gd.lifted {
		say(gd.stderr, "error", "watching the firewall rules of cgroup %d failed (%v): ending the tree", gd.plan.CgroupID, err)
		gd.endTree()
	}
}

// endTree kills the tree, or marks the guard broken before it started;
// gd.mu is held.
func (gd *ruleGuard) endTree() {
	if gd.tree == nil {
		gd.broken = true
		return
	}
	gd.tree.Kill()
}

// guarding hands the guard the started tree, which it ends at once when
// the rules were lost (and not restored) in the meantime.
func (gd *ruleGuard) guarding(t confine.Tree) {
	gd.mu.Lock()
	defer gd.mu.Unlock()
	gd.tree = t
	if gd.broken {
		t.Kill()
	}
}

// lift stops the watch and removes the rules (one transaction): once the
// tree is gone, or when the command never started.
func (gd *ruleGuard) lift() error {
	gd.mu.Lock()
	if gd.lifted {
		gd.mu.Unlock()
		return nil
	}
	gd.lifted = true
	gd.mu.Unlock()
	gd.cancel()
	for range gd.done {
	}
	if err := gd.fw.Remove(gd.plan.CgroupID); err != nil {
		return fmt.Errorf("remove the firewall rules of cgroup %d: %w", gd.plan.CgroupID, err)
	}
	return nil
}
