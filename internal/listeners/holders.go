package listeners

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aliaslease/aliaslease/lease"
)

// Source is the host's listeners as lease.Listeners: each socket bound
// on an alias is a holder of it.
type Source struct{}

// Bound implements lease.Listeners.
func (Source) Bound(ctx context.Context, within []netip.Prefix) ([]lease.Holder, error) {
	socks, err := Bound(ctx, within)
	if err != nil {
		return nil, fmt.Errorf("reading the host's listeners: %w", err)
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
			Name:  s.String(),
			State: state,
			Port:  fmt.Sprintf("%d/%s", s.Addr.Port(), s.Proto),
		}
	}
	return hs, nil
}
