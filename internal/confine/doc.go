// Package confine holds a command's whole process tree, so that a lease
// taken by "aliaslease run" stays held while any process of that tree
// lives, and so that the tree can be signalled and ended as one.
//
// Where it can (Linux, cgroup v2), a tree is a cgroup of its own: Find
// locates the cgroup2 mount through /proc/self/mountinfo and the subtree
// this process may use, Root.New makes one group per run (RunName: slug,
// generation and a random run id), and Group.Attach makes exec.Cmd start
// the command inside it with CLONE_INTO_CGROUP (kernel 5.7+), before its
// first instruction. No descendant can leave it (double-forked, setsid or
// not) unless it can write to another cgroup's cgroup.procs. The group's
// cgroup.events says whether any process is left; its ID and Level are
// what nftables' "socket cgroupv2 level N" compares.
//
// Two subtrees are supported:
//
//   - as root: <mount>/aliaslease, made 0755 and owned by root; no
//     controller is needed, since membership is all that is used;
//   - otherwise, a delegated one: when this process's own cgroup and its
//     cgroup.procs are writable by it (systemd's user@UID.service with
//     everything under it, a unit with Delegate=yes), the subtree is
//     <top>/aliaslease, where top is the highest writable cgroup above
//     this process's own, so that every process of the user running in
//     that delegation finds the same groups. A process outside any
//     delegation (a login session's scope) gets ErrNoCgroup.
//
// Elsewhere (macOS, Linux without a usable cgroup) a tree is a process
// group (StartProcGroup), with the wrapper as child subreaper on Linux
// while it lives (SetSubreaper). That is weaker, and what escapes is
// named on ProcGroup. Both kinds satisfy Tree, and Terminate ends either
// one as "run" must: a signal to the whole tree, then SIGKILL to what is
// left after a grace period (--kill-after).
//
// A run, in outline (errors elided):
//
//	root, err := confine.Find()           // ErrNoCgroup: fall back below
//	name, _ := confine.RunName(slug, gen)
//	g, _ := root.New(name)
//	g.Attach(cmd)                         // keeps cmd's other SysProcAttr fields
//	cmd.Start()                           // in g before its first instruction
//	cmd.Wait()                            // CMD's status
//	g.Wait(ctx)                           // what CMD left behind, or on a signal:
//	confine.Terminate(ctx, g, sig, killAfter)
//	g.Remove()
//
// and without a cgroup: confine.SetSubreaper(), then
// pg, _ := confine.StartProcGroup(cmd), and the same with pg. The lease
// records the group's name (or the process group's id and its leader's
// StartTime) as a lease.ProcessHolder; gc, list and release ask Trees
// whether it lives (an empty recorded group is removed on the way), and
// gc removes the empty groups nothing recorded with root.Prune.
//
// Of this module the package imports only lease, whose Trees it
// implements (Trees: a lease's recorded process holders, as gc, list and
// release ask about them); the CLI wires it in.
package confine

import "errors"

var (
	// ErrNoCgroup means no cgroup of our own can be had here; the error
	// wrapping it says which part is missing.
	ErrNoCgroup = errors.New("no cgroup v2 available")
	// ErrName is a group name that is not a single, plain directory name.
	ErrName = errors.New("invalid cgroup name")
	// ErrNoSubreaper means the system has no child subreaper (macOS).
	ErrNoSubreaper = errors.New("no child subreaper on this system")
)
