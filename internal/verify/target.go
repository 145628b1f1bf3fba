package verify

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrTarget is returned by ParseTarget for text that is not PROTO:ADDR:PORT.
var ErrTarget = errors.New("invalid probe target")

// Target is one socket a probe connects to.
type Target struct {
	Proto string // "tcp" or "udp"
	Addr  netip.AddrPort
}

// String is the target as the probe's command line takes it: tcp:127.0.0.16:4000,
// udp:[::1]:4000.
func (t Target) String() string { return t.Proto + ":" + t.Addr.String() }

// ParseTarget reads what String writes.
func ParseTarget(s string) (Target, error) {
	proto, addr, ok := strings.Cut(s, ":")
	if !ok || (proto != "tcp" && proto != "udp") {
		return Target{}, fmt.Errorf("%w %q: want tcp:ADDR:PORT or udp:ADDR:PORT", ErrTarget, s)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return Target{}, fmt.Errorf("%w %q: want tcp:ADDR:PORT or udp:ADDR:PORT", ErrTarget, s)
	}
	return Target{Proto: proto, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
}

// nonceLen is the length of a nonce in bytes (hex: twice that).
const nonceLen = 16

// NewNonce returns a fresh nonce for one verify, as hex.
func NewNonce() string {
	b := make([]byte, nonceLen)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ValidNonce says whether s is a nonce as NewNonce makes them.
func ValidNonce(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == nonceLen
}

// greeting is what a probe sends on each connection: a fixed word, so
// that a canary tells a probe from a stray client, and the nonce.
func greeting(nonce string) []byte { return []byte("aliaslease-probe " + nonce + "\n") }
