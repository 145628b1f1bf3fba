//go:build !linux

package confine

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Find reports that this system has no cgroups (see the Linux version).
func Find() (Root, error) {
	return Root{}, fmt.Errorf("%w: %s has no cgroups", ErrNoCgroup, runtime.GOOS)
}

// New fails: there are no cgroups here.
func (r Root) New(name string) (*Group, error) { return nil, errNone() }

// Open fails: there are no cgroups here.
func (r Root) Open(name string) (*Group, error) { return nil, errNone() }

// Prune fails: there are no cgroups here.
func (r Root) Prune(minAge time.Duration) ([]string, error) { return nil, errNone() }

// List fails: there are no cgroups here.
func (r Root) List() ([]Entry, error) { return nil, errNone() }

func errNone() error { return fmt.Errorf("%w: %s has no cgroups", ErrNoCgroup, runtime.GOOS) }

// Group is a cgroup; none can be had on this system, so no value of it
// is ever returned, and its methods fail.
type Group struct{}

// Name is empty: there are no cgroups here.
func (g *Group) Name() string { return "" }

// Dir is empty: there are no cgroups here.
func (g *Group) Dir() string { return "" }

// Path is empty: there are no cgroups here.
func (g *Group) Path() string { return "" }

// FD is -1: there are no cgroups here.
func (g *Group) FD() int { return -1 }

// ID is 0: there are no cgroups here.
func (g *Group) ID() uint64 { return 0 }

// Level is 0: there are no cgroups here.
func (g *Group) Level() uint32 { return 0 }

// Attach fails: there are no cgroups here.
func (g *Group) Attach(cmd *exec.Cmd) error { return errNone() }

// Populated fails: there are no cgroups here.
func (g *Group) Populated() (bool, error) { return false, errNone() }

// Wait fails: there are no cgroups here.
func (g *Group) Wait(ctx context.Context) error { return errNone() }

// Signal fails: there are no cgroups here.
func (g *Group) Signal(sig syscall.Signal) error { return errNone() }

// Kill fails: there are no cgroups here.
func (g *Group) Kill() error { return errNone() }

// Remove fails: there are no cgroups here.
func (g *Group) Remove() error { return errNone() }

// Close does nothing.
func (g *Group) Close() error { return nil }

// RootSubtree is "": there are no cgroups here.
func RootSubtree() string { return "" }
