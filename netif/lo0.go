package netif

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// lo0 manages aliases on macOS's lo0 with ifconfig and sudo. It is
// portable code: darwin.go gives it the real runner, tests a recording
// one. Its Up, UpAll and Status are System's on macOS.
type lo0 struct {
	run runner
	// interactive says whether sudo may prompt (standard input is a
	// terminal). Without it sudo runs with -n and fails rather than hang.
	interactive bool
	// notify, when set, is told what is about to be added before sudo
	// may prompt.
	notify func(msg string)
}

var _ lease.Interface = lo0{}

// runner runs argv (never through a shell) and returns its standard
// output. When interactive, the command shares the terminal so that sudo
// can prompt.
type runner func(ctx context.Context, argv []string, interactive bool) ([]byte, error)

// sudoPrompt is the prompt sudo shows, so the user knows who asks.
const sudoPrompt = "aliaslease (loopback alias): "

// addrs returns the IPv4 addresses on lo0.
func (l lo0) addrs(ctx context.Context) (map[netip.Addr]bool, error) {
	out, err := l.run(ctx, []string{Ifconfig, "lo0"}, false)
	if err != nil {
		return nil, fmt.Errorf("%s lo0: %w", Ifconfig, err)
	}
	return parseIfconfig(out), nil
}

// Up makes sure alias is on lo0. When it is missing, every missing pool
// alias is added with it, so that sudo prompts once per boot rather than
// once per launch.
func (l lo0) Up(ctx context.Context, alias netip.Addr, pool lease.Pool) error {
	present, err := l.addrs(ctx)
	if err != nil {
		return err
	}
	if present[alias] {
		return nil
	}
	missing := []netip.Addr{}
	if !pool.Contains(alias) {
		missing = append(missing, alias) // a renewed lease whose alias left the pool
	}
	if err := l.add(ctx, append(missing, missingFrom(pool, present)...)); err != nil {
		return err
	}
	if present, err = l.addrs(ctx); err != nil {
		return err
	}
	if !present[alias] {
		return fmt.Errorf("%s is still not on lo0 after adding it; run by hand: %s", alias, manualCommand(alias))
	}
	return nil
}

// UpAll adds every missing pool alias and returns those missing (all of
// them, even when adding one failed).
func (l lo0) UpAll(ctx context.Context, pool lease.Pool) ([]netip.Addr, error) {
	present, err := l.addrs(ctx)
	if err != nil {
		return nil, err
	}
	missing := missingFrom(pool, present)
	return missing, l.add(ctx, missing)
}

// Status reports which pool aliases are on lo0.
func (l lo0) Status(ctx context.Context, pool lease.Pool) ([]AliasStatus, error) {
	present, err := l.addrs(ctx)
	if err != nil {
		return nil, err
	}
	var st []AliasStatus
	pool.All(func(a netip.Addr) bool {
		s := AliasStatus{Alias: a, Up: present[a]}
		if !s.Up {
			s.Detail = "not on lo0"
		}
		st = append(st, s)
		return true
	})
	return st, nil
}

func (l lo0) add(ctx context.Context, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	if l.notify != nil {
		l.notify(fmt.Sprintf("adding %d loopback alias(es) to lo0 (%s%s); sudo may prompt once, and they stay until reboot",
			len(addrs), addrs[0], map[bool]string{true: ", ...", false: ""}[len(addrs) > 1]))
	}
	for _, a := range addrs {
		if _, err := l.run(ctx, addAliasArgv(a, l.interactive), l.interactive); err != nil {
			why := ""
			if !l.interactive {
				why = " (no terminal, so sudo could not ask for a password)"
			}
			return fmt.Errorf("adding %s to lo0 failed%s: %v; run by hand: %s, or add the whole pool with: aliaslease pool up", a, why, err, manualCommand(a))
		}
	}
	return nil
}

func missingFrom(pool lease.Pool, present map[netip.Addr]bool) []netip.Addr {
	var missing []netip.Addr
	pool.All(func(a netip.Addr) bool {
		if !present[a] {
			missing = append(missing, a)
		}
		return true
	})
	return missing
}

// parseIfconfig returns the set of IPv4 addresses in the output of
// "ifconfig lo0": the words following "inet" (never "inet6"), matched
// whole, so 127.0.0.1 never stands for 127.0.0.16.
func parseIfconfig(out []byte) map[netip.Addr]bool {
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

// addAliasArgv returns the argv that adds alias to lo0 through sudo. With
// interactive false, sudo is told not to prompt (-n) and fails instead.
func addAliasArgv(alias netip.Addr, interactive bool) []string {
	argv := []string{sudo}
	if !interactive {
		argv = append(argv, "-n")
	}
	return append(argv, "-p", sudoPrompt, Ifconfig, "lo0", "alias", alias.String()+"/32", "up")
}

// manualCommand is the command a user can run by hand to add alias.
func manualCommand(alias netip.Addr) string {
	return "sudo " + Ifconfig + " lo0 alias " + alias.String() + "/32 up"
}
