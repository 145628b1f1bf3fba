package listeners

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/aliaslease/aliaslease/lease"
)

// Source is the host's listeners as lease.Listeners (each socket bound
// on an alias is a holder of it) and lease.OwnerNamer. Use it by pointer:
// it keeps the sockets of its last Bound for NameOwners.
type Source struct {
	mu   sync.Mutex
	last map[uint64]Socket // by Inode
}

// Bound implements lease.Listeners.
func (src *Source) Bound(ctx context.Context, within []netip.Prefix) ([]lease.Holder, error) {
	socks, err := Bound(ctx, within)
	if err != nil {
		return nil, fmt.Errorf("reading the host's listeners: %w", err)
	}
	src.mu.Lock()
	src.last = make(map[uint64]Socket, len(socks))
	for _, s := range socks {
		src.last[s.Inode] = s
	}
	src.mu.Unlock()
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

// NameOwners implements lease.OwnerNamer: it walks every process's
// descriptors once; an owner it cannot read is left unnamed.
func (src *Source) NameOwners(hs []lease.Holder) {
	src.mu.Lock()
	defer src.mu.Unlock()
	inodes := make([]uint64, len(hs))
	var socks []Socket
	for i, h := range hs {
		if _, err := fmt.Sscanf(h.ID, "socket:%d", &inodes[i]); err == nil && h.Kind == lease.HolderListener {
			if s, ok := src.last[inodes[i]]; ok {
				socks = append(socks, s)
			}
		}
	}
	owners, _ := Owners(socks)
	for i, h := range hs {
		if p, ok := owners[inodes[i]]; ok && h.Kind == lease.HolderListener {
			hs[i].Name = ownedName(h.Name, p)
		}
	}
}

// ownedName is a listener holder's name with its process:
// "tcp 127.0.0.16:8080 (pid 42 python3)".
func ownedName(name string, p Process) string {
	if p.Command == "" {
		return fmt.Sprintf("%s (pid %d)", name, p.PID)
	}
	return fmt.Sprintf("%s (pid %d %s)", name, p.PID, p.Command)
}
