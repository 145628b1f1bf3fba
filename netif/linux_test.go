//go:build linux

package netif

import (
	"context"
	"net/netip"
	"testing"
)

func TestReachableOnHost(t *testing.T) {
	for _, a := range []string{"127.0.0.16", "127.0.0.31", "127.1.2.3"} {
		if err := reachable(context.Background(), netip.MustParseAddr(a)); err != nil {
			t.Errorf("reachable(%s) = %v, want nil on a host with loopback up", a, err)
		}
	}
	if err := reachable(context.Background(), netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Errorf("reachable(192.0.2.1) = nil, want an error: no such local address")
	}
}
