//go:build !linux && !darwin

package netif

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"

	"github.com/aliaslease/aliaslease/lease"
)

// System is the host's loopback interface; on this system aliaslease does
// not know how to manage it, and every method says so.
type System struct {
	Stdin  *os.File
	Stderr io.Writer
}

func unsupported() error { return fmt.Errorf("%w (%s); use --no-ifup", ErrUnsupported, runtime.GOOS) }

// Up reports ErrUnsupported.
func (System) Up(context.Context, netip.Addr, lease.Pool) error { return unsupported() }

// UpAll reports ErrUnsupported.
func (System) UpAll(context.Context, lease.Pool) ([]netip.Addr, error) { return nil, unsupported() }

// Status reports ErrUnsupported.
func (System) Status(context.Context, lease.Pool) ([]AliasStatus, error) { return nil, unsupported() }
