package lease

import (
	"errors"
	"slices"
	"strconv"
	"syscall"
)

// withProcesses returns holders plus the process holders of each lease
// (see processHolder): a lease is never reclaimed from under a running
// command, even when its wrapper was killed and the tree outlived it.
func withProcesses(holders []Holder, leases []Lease, t Trees) []Holder {
	out := holders
	for _, l := range leases {
		if ph := processHolder(l, t); ph != nil {
			if len(out) == len(holders) {
				out = slices.Clip(holders) // append copies: the caller's slice stays as it was
			}
			out = append(out, ph...)
		}
	}
	return out
}

// processHolders is processHolder as classifyEach's alsoHeldBy.
func processHolders(t Trees) func(Lease) []Holder {
	return func(l Lease) []Holder { return processHolder(l, t) }
}

// processHolder returns the holders a lease's processes make: each
// recorded tree that lives (as t tells), and the process of Lease.PID
// (an older binary's run) while it runs. A reused PID can only keep a
// lease longer than needed, never free one too early.
func processHolder(l Lease, t Trees) []Holder {
	var hs []Holder
	for _, h := range l.Processes {
		if treeAlive(t, h) {
			hs = append(hs, h.holder(l.Alias))
		}
	}
	if l.PID > 0 && processAlive(l.PID) {
		pid := strconv.Itoa(l.PID)
		hs = append(hs, Holder{Kind: HolderProcess, Alias: l.Alias, ID: "pid:" + pid, Name: "process " + pid, Slug: l.Slug, State: "running"})
	}
	return hs
}

// processAlive says whether a process with this PID runs: it exists
// (EPERM: owned by someone else) and is not a zombie, which has ended and
// merely waits to be reaped (a PID 1 that never reaps keeps it forever).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid)
}
