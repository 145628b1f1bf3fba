package netif

import (
	"context"
	"io"
	"net/netip"
	"os"

	"github.com/aliaslease/aliaslease/lease"
)

// System is the host's loopback interface. Its zero value is usable; the
// fields matter only on macOS.
//
//   - macOS: aliases are added to lo0 with "sudo /sbin/ifconfig lo0 alias
//     IP/32 up" (argv only, never a shell), every missing pool alias in one
//     go, so that sudo prompts once per boot.
//   - Linux: all of 127.0.0.0/8 is local already; nothing is added, and an
//     alias is checked by listening on it and connecting to it.
//   - Other systems: every method returns an error wrapping ErrUnsupported.
type System struct {
	// Stdin, on macOS, decides whether sudo may prompt: when it is a
	// terminal, sudo runs with it; otherwise sudo runs with -n and fails
	// rather than hang, and the error says what to run by hand.
	Stdin *os.File
	// Stderr, on macOS, is told which aliases are about to be added before
	// sudo may prompt, and, when sudo may prompt, receives sudo's own error
	// output as well. Nil keeps quiet.
	Stderr io.Writer
}

var _ lease.Interface = System{}

// Up makes alias usable.
//
// On macOS, when alias is not on lo0, it adds every pool alias missing
// from lo0 together with it (alias as well if it has left the pool, as a
// renewed lease's may have), then checks that alias is on lo0. On Linux it
// checks that alias can be bound and reached; pool is not used. Elsewhere
// it returns an error wrapping ErrUnsupported.
func (s System) Up(ctx context.Context, alias netip.Addr, pool lease.Pool) error {
	return sysUp(ctx, s, alias, pool)
}

// UpAll brings the whole pool up at once and returns the aliases it set
// out to add.
//
// On macOS it adds every pool alias missing from lo0 (sudo prompts at most
// once); on an error the aliases returned are all those that were missing,
// some of which may not have been added. On Linux nothing needs adding: it
// checks every pool alias, returns no aliases, and an error naming the
// first that cannot be bound and reached. Elsewhere it returns an error
// wrapping ErrUnsupported.
func (s System) UpAll(ctx context.Context, pool lease.Pool) ([]netip.Addr, error) {
	return sysUpAll(ctx, s, pool)
}

// Status reports whether each pool alias is usable, one AliasStatus per
// alias, lowest first.
//
// On macOS an alias is up when it is on lo0 (Detail "not on lo0"
// otherwise), and the error is set only when lo0 cannot be read. On Linux
// an alias is up when it can be bound and reached (Detail says why not),
// and the error is always nil. Elsewhere it returns an error wrapping
// ErrUnsupported.
func (s System) Status(ctx context.Context, pool lease.Pool) ([]AliasStatus, error) {
	return sysStatus(ctx, s, pool)
}
