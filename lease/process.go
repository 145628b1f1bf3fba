package lease

import (
	"errors"
	"slices"
	"strconv"
	"syscall"
)

// withProcesses returns holders plus one holder for each lease whose
// process (Lease.PID, the command of "aliaslease run") still runs: a lease
// is never reclaimed from under a running command, even when its wrapper
// was killed and the command outlived it. A reused PID can only keep a
// lease longer than needed, never free one too early.
func withProcesses(holders []Holder, leases []Lease) []Holder {
	out := holders
	for _, l := range leases {
		if ph := processHolder(l); ph != nil {
			if len(out) == len(holders) {
				out = slices.Clip(holders) // append copies: the caller's slice stays as it was
			}
			out = append(out, ph...)
		}
	}
	return out
}

// processHolder is the holder a lease's running process makes, if any.
func processHolder(l Lease) []Holder {
	if l.PID <= 0 || !processAlive(l.PID) {
		return nil
	}
	pid := strconv.Itoa(l.PID)
	return []Holder{{Alias: l.Alias, ID: "pid:" + pid, Name: "process " + pid, Slug: l.Slug, State: "running"}}
}

// processAlive says whether a process with this PID runs: it exists
// (EPERM: owned by someone else) and is not a zombie, which has ended and
// merely waits to be reaped (a PID 1 that never reaps keeps it forever).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid)
}
