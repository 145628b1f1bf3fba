//go:build !linux

// Outside Linux there is no nftables: every method says so, and a caller
// that must confine fails closed.

package confine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

var errNoNftables = fmt.Errorf("nftables: %w (Linux only)", errors.ErrUnsupported)

// Install fails: there is no nftables outside Linux.
func (f *Firewall) Install(r Rules) error { return errNoNftables }

// Remove fails: there is no nftables outside Linux.
func (f *Firewall) Remove(id uint64) error { return errNoNftables }

// Present fails: there is no nftables outside Linux.
func (f *Firewall) Present(id uint64) (bool, error) { return false, errNoNftables }

// List fails: there is no nftables outside Linux.
func (f *Firewall) List() ([]Status, error) { return nil, errNoNftables }

// Watch fails: there is no nftables outside Linux.
func (f *Firewall) Watch(ctx context.Context, onChange func()) (<-chan error, error) {
	return nil, errNoNftables
}

// LocalTargets fails: the rules it is for exist on Linux only.
func LocalTargets() ([]netip.Prefix, error) { return nil, errNoNftables }
