package netif

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aliaslease/aliaslease/lease"
)

// Lo0 manages aliases on macOS's lo0 with ifconfig and sudo. It is
// portable code: darwin.go gives it the real Runner, tests a recording one.
type Lo0 struct {
	Run Runner
	// Interactive says whether sudo may prompt (standard input is a
	// terminal). Without it sudo runs with -n and fails rather than hang.
	Interactive bool
	// Notify, when set, is told what is about to be added before sudo
	// may prompt.
	Notify func(msg string)
}

// Present returns the IPv4 addresses on lo0.
func (l Lo0) Present(ctx context.Context) (map[netip.Addr]bool, error) {
	out, err := l.Run(ctx, []string{Ifconfig, "lo0"}, false)
	if err != nil {
		return nil, fmt.Errorf("%s lo0: %w", Ifconfig, err)
	}
	return ParseIfconfig(out), nil
}

// Up makes sure alias is on lo0. When it is missing, every missing pool
// alias is added with it, so that sudo prompts once per boot rather than
// once per launch.
func (l Lo0) Up(ctx context.Context, alias netip.Addr, pool lease.Pool) error {
	present, err := l.Present(ctx)
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
	if present, err = l.Present(ctx); err != nil {
		return err
	}
	if !present[alias] {
		return fmt.Errorf("%s is still not on lo0 after adding it; run by hand: %s", alias, ManualCommand(alias))
	}
	return nil
}

// UpAll adds every missing pool alias and returns those it added.
func (l Lo0) UpAll(ctx context.Context, pool lease.Pool) ([]netip.Addr, error) {
	present, err := l.Present(ctx)
	if err != nil {
		return nil, err
	}
	missing := missingFrom(pool, present)
	return missing, l.add(ctx, missing)
}

// Status reports which pool aliases are on lo0.
func (l Lo0) Status(ctx context.Context, pool lease.Pool) ([]AliasStatus, error) {
	present, err := l.Present(ctx)
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

func (l Lo0) add(ctx context.Context, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	if l.Notify != nil {
		l.Notify(fmt.Sprintf("adding %d loopback alias(es) to lo0 (%s%s); sudo may prompt once, and they stay until reboot",
			len(addrs), addrs[0], map[bool]string{true: ", ...", false: ""}[len(addrs) > 1]))
	}
	for _, a := range addrs {
		if _, err := l.Run(ctx, AddAliasArgv(a, l.Interactive), l.Interactive); err != nil {
			why := ""
			if !l.Interactive {
				why = " (no terminal, so sudo could not ask for a password)"
			}
			return fmt.Errorf("adding %s to lo0 failed%s: %v; run by hand: %s, or add the whole pool with: aliaslease pool up", a, why, err, ManualCommand(a))
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
