//go:build !linux && !darwin

package netif

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"

	"github.com/aliaslease/aliaslease/lease"
)

// On other systems aliaslease does not know how to manage loopback
// aliases, and every System method says so.

func unsupported() error { return fmt.Errorf("%w (%s); use --no-ifup", ErrUnsupported, runtime.GOOS) }

func sysUp(context.Context, System, netip.Addr, lease.Pool) error { return unsupported() }

func sysUpAll(context.Context, System, lease.Pool) ([]netip.Addr, error) {
	return nil, unsupported()
}

func sysStatus(context.Context, System, lease.Pool) ([]AliasStatus, error) {
	return nil, unsupported()
}
