// Package netif makes loopback aliases usable on the host. System is the
// door: it brings an alias (or the whole pool) up and reports the pool's
// state, and it implements lease.Interface.
//
// On macOS only 127.0.0.1 is on lo0 after boot, so every other alias must
// be added with "ifconfig lo0 alias", which needs root: the missing pool
// aliases are added in one go, so sudo prompts once per boot, and
// LaunchdPlist writes a LaunchDaemon that adds them at every boot instead.
// On Linux all of 127.0.0.0/8 is local already; nothing is added, and an
// alias is checked by listening on it and connecting to it, since with
// loopback down a bind still succeeds and only a connect fails. On other
// systems every System method returns an error wrapping ErrUnsupported.
//
// The macOS logic (reading ifconfig output, the commands run under sudo)
// is portable code in lo0.go, tested on any system through an injected
// runner; darwin.go only supplies the real one.
package netif

import (
	"errors"
	"net/netip"
)

// ErrUnsupported is returned on systems where aliaslease does not know how
// to manage loopback aliases.
var ErrUnsupported = errors.New("loopback aliases are not supported on this system")

// Ifconfig is the absolute path of macOS's ifconfig; a relative name would
// let PATH choose what runs under sudo.
const Ifconfig = "/sbin/ifconfig"

// sudo is named by its absolute path too: PATH must not choose what
// runs as root.
const sudo = "/usr/bin/sudo"

// AliasStatus is whether one pool alias is usable.
type AliasStatus struct {
	Alias netip.Addr
	Up    bool
	// Detail says why an alias is not up, when it is known.
	Detail string
}
