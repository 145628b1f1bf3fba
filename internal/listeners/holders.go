package listeners

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aliaslease/aliaslease/lease"
)

// Source is the host's listeners as lease.Listeners: each socket bound
// on an alias is a holder of it.
type Source struct {
	// Owners names each socket's process in its holder's name, for the
	// commands that show holders (list, doctor): it reads every process's
	// descriptors, so acquire and gc leave it unset.
	Owners bool
}

// Bound implements lease.Listeners.
func (src Source) Bound(ctx context.Context, within []netip.Prefix) ([]lease.Holder, error) {
	socks, err := Bound(ctx, within)
	if err != nil {
		return nil, fmt.Errorf("reading the host's listeners: %w", err)
	}
	owners := map[uint64]Process{}
	if src.Owners {
		owners, _ = Owners(socks) // an owner it cannot read is left unnamed
	}
	hs := make([]lease.Holder, len(socks))
	for i, s := range socks {
		state := "listening"
		if s.Proto == UDP {
			state = "bound"
		}
		hs[i] = lease.Holder{
			Kind:  lease.HolderListener,
			Alias: s.Addr.Addr(),
			ID:    fmt.Sprintf("socket:%d", s.Inode),
			Name:  name(s, owners),
			State: state,
			Port:  fmt.Sprintf("%d/%s", s.Addr.Port(), s.Proto),
		}
	}
	return hs, nil
}

// name is a listener holder's name: "tcp 127.0.0.16:8080", with its
// process where known: "tcp 127.0.0.16:8080 (pid 42 python3)".
func name(s Socket, owners map[uint64]Process) string {
	p, ok := owners[s.Inode]
	switch {
	case !ok:
		return s.String()
	case p.Command == "":
		return fmt.Sprintf("%s (pid %d)", s, p.PID)
	}
	return fmt.Sprintf("%s (pid %d %s)", s, p.PID, p.Command)
}
