package dockerinv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// HostBindingOption is the bridge network option naming the address that
// a binding without a host IP publishes on (dockerd's --ip sets it on the
// default bridge). When it is unset, such a binding publishes on every
// address.
const HostBindingOption = "com.docker.network.bridge.host_binding_ipv4"

// hostAddr is the address a binding names, as the engine resolves it: its
// host IP ip when set, else def, the HostBindingOption of the
// container's network ("" when unset), else all addresses (0.0.0.0,
// which names no alias). Anything that is not an IP address is an error:
// a binding read as something it is not could hide a holder. IPv4-mapped
// IPv6 addresses are unmapped, as the engine binds them.
func hostAddr(ip, def string) (netip.Addr, error) {
	what := "host IP"
	if ip == "" {
		if def == "" {
			return netip.IPv4Unspecified(), nil
		}
		ip, what = def, "the network's "+HostBindingOption
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s %s is not an IP address", what, quote(ip))
	}
	return a.Unmap(), nil
}

// networkName is the network whose HostBindingOption applies to the
// bindings of a container of network mode mode, or "" when none does:
// ports are not published on the host network nor without one, and a
// container sharing another's network ("container:ID") cannot publish.
func networkName(mode string) string {
	switch {
	case mode == "" || mode == "default":
		return "bridge"
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:"):
		return ""
	}
	return mode
}

// netCache asks each network's HostBindingOption at most once per call,
// however many bindings need it, and only when one does.
type netCache struct {
	mu   sync.Mutex
	nets map[string]*netAnswer
}

type netAnswer struct {
	once sync.Once
	opt  string
	err  error
}

// option returns the HostBindingOption of the network of mode, "" when
// there is none. A network that does not exist gives "": a container on
// it cannot start, so it publishes nothing. ctx must be the call's own,
// not that of one inspect, which may be abandoned while another waits.
func (n *netCache) option(ctx context.Context, api engineAPI, mode string) (string, error) {
	name := networkName(mode)
	if name == "" {
		return "", nil
	}
	if !validID(name) {
		return "", fmt.Errorf("unusable network name %s", quote(name))
	}
	n.mu.Lock()
	if n.nets == nil {
		n.nets = map[string]*netAnswer{}
	}
	a := n.nets[name]
	if a == nil {
		a = &netAnswer{}
		n.nets[name] = a
	}
	n.mu.Unlock()
	a.once.Do(func() {
		a.opt, a.err = api.network(ctx, name)
		if errors.Is(a.err, errGone) {
			a.opt, a.err = "", nil
		} else if a.err != nil {
			a.err = fmt.Errorf("inspect network %s: %w", quote(name), a.err)
		}
	})
	return a.opt, a.err
}
