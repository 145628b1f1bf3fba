//go:build linux || darwin

package listeners

import "fmt"

// keep filters socks to those inside within and not owned by this
// process, in place.
func keep(socks []Socket, within addrSet, own map[uint64]bool) []Socket {
	out := socks[:0]
	for _, s := range socks {
		if s.Addr.Port() == 0 || !within.contains(s.Addr.Addr()) || own[s.Inode] {
			continue
		}
		out = append(out, s)
	}
	return out
}

// tableErr wraps a failure to read one table in ErrTable.
func tableErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrTable, what, err)
}
