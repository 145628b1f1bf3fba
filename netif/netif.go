// Package netif makes loopback aliases usable on the host.
//
// On macOS only 127.0.0.1 is on lo0 after boot, so every other alias must
// be added with "ifconfig lo0 alias", which needs root: the missing pool
// aliases are added in one go, so sudo prompts once per boot. On Linux all
// of 127.0.0.0/8 is local already; nothing is added, and an alias is
// checked by listening on it and connecting to it, since with loopback
// down a bind still succeeds and only a connect fails.
//
// The parsing of ifconfig output and the commands run are portable code,
// so the macOS logic is tested on any system through an injected Runner.
package netif

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
)

// ErrUnsupported is returned on systems where aliaslease does not know how
// to manage loopback aliases.
var ErrUnsupported = errors.New("loopback aliases are not supported on this system")

// Ifconfig is the absolute path of macOS's ifconfig; a relative name would
// let PATH choose what runs under sudo.
const Ifconfig = "/sbin/ifconfig"

// SudoPrompt is the prompt sudo shows, so the user knows who asks.
const SudoPrompt = "aliaslease (loopback alias): "

// AliasStatus is whether one pool alias is usable.
type AliasStatus struct {
	Alias netip.Addr
	Up    bool
	// Detail says why an alias is not up, when it is known.
	Detail string
}

// ParseIfconfig returns the set of IPv4 addresses in the output of
// "ifconfig lo0": the words following "inet" (never "inet6"), matched
// whole, so 127.0.0.1 never stands for 127.0.0.16.
func ParseIfconfig(out []byte) map[netip.Addr]bool {
	set := make(map[netip.Addr]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" {
				continue
			}
			s, _, _ := strings.Cut(f[i+1], "/")
			s = strings.TrimPrefix(s, "addr:") // net-tools on Linux: "inet addr:127.0.0.1"
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
				set[a] = true
			}
		}
	}
	return set
}

// AddAliasArgv returns the argv that adds alias to lo0 through sudo. With
// interactive false, sudo is told not to prompt (-n) and fails instead.
func AddAliasArgv(alias netip.Addr, interactive bool) []string {
	argv := []string{"sudo"}
	if !interactive {
		argv = append(argv, "-n")
	}
	return append(argv, "-p", SudoPrompt, Ifconfig, "lo0", "alias", alias.String()+"/32", "up")
}

// ManualCommand is the command a user can run by hand to add alias.
func ManualCommand(alias netip.Addr) string {
	return "sudo " + Ifconfig + " lo0 alias " + alias.String() + "/32 up"
}

// Runner runs argv (never through a shell) and returns its standard
// output. When interactive, the command shares the terminal so that sudo
// can prompt.
type Runner func(ctx context.Context, argv []string, interactive bool) ([]byte, error)
