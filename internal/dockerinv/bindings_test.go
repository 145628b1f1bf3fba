package dockerinv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

func TestHostAddr(t *testing.T) {
	tests := []struct {
		ip, def string
		want    string // "" for an error
	}{
		{"127.0.0.17", "", "127.0.0.17"},
		{"127.0.0.17", "127.0.0.18", "127.0.0.17"}, // a host IP wins over the network's
		{"", "", "0.0.0.0"},                        // no default: every address
		{"", "127.0.0.17", "127.0.0.17"},
		{"", "0.0.0.0", "0.0.0.0"},
		{"", "::", "::"},
		{"::ffff:127.0.0.17", "", "127.0.0.17"},
		{"", "::ffff:127.0.0.18", "127.0.0.18"},
		{"::", "", "::"},
		{"garbage", "", ""},
		{"", "garbage", ""},
		{"", " 127.0.0.17", ""},
		{"fe80::1%eth0", "", ""},
		{"127.0.0.17/32", "", ""},
	}
	for _, tt := range tests {
		got, err := hostAddr(tt.ip, tt.def)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("hostAddr(%q, %q) = %v, want an error", tt.ip, tt.def, got)
		case tt.want != "" && (err != nil || got != netip.MustParseAddr(tt.want)):
			t.Errorf("hostAddr(%q, %q) = %v, %v, want %s", tt.ip, tt.def, got, err, tt.want)
		}
	}
}

func TestNetworkName(t *testing.T) {
	for mode, want := range map[string]string{
		"": "bridge", "default": "bridge", "bridge": "bridge", "mynet": "mynet",
		"host": "", "none": "", "container:abc": "",
	} {
		if got := networkName(mode); got != want {
			t.Errorf("networkName(%q) = %q, want %q", mode, got, want)
		}
	}
}

// TestHoldersResolveBindings checks the bindings read from a container's
// own answers, through the client and a fake engine: empty host IPs by
// the network's option (asked once per network, and only when needed),
// running containers that list no ports read from their configuration,
// and garbled answers failing the inventory.
func TestHoldersResolveBindings(t *testing.T) {
	const id = "abcdef0123456789"
	netAns := func(opt string) string {
		return `{"Name":"n","Options":{"` + HostBindingOption + `":"` + opt + `"}}`
	}
	cfg := func(mode, bindings string) string {
		return `{"Id":"` + id + `","HostConfig":{"NetworkMode":"` + mode + `","PortBindings":` + bindings + `}}`
	}
	entry := func(state, mode, ports string) string {
		return `[{"Id":"` + id + `","Names":["/x"],"State":"` + state + `","Labels":{"aliaslease.slug":"s"},"HostConfig":{"NetworkMode":"` + mode + `"},"Ports":` + ports + `}]`
	}
	empty := `{"8080/tcp":[{"HostIp":"","HostPort":"8080"}]}`
	tests := []struct {
		name     string
		list     string
		inspect  string
		networks map[string]string
		want     []string // "ALIAS PORT"
		netCalls int
		err      bool
	}{
		{name: "empty host IP on a network with a default", list: entry("exited", "n", "[]"), inspect: cfg("n", empty),
			networks: map[string]string{"n": netAns("127.0.0.17")}, want: []string{"127.0.0.17 8080->8080/tcp"}, netCalls: 1},
		{name: "empty host IP on a network without one", list: entry("exited", "n", "[]"), inspect: cfg("n", empty),
			networks: map[string]string{"n": `{"Name":"n","Options":{}}`}, want: []string{"0.0.0.0 8080->8080/tcp"}, netCalls: 1},
		{name: "empty host IP on the default bridge", list: entry("created", "default", "[]"), inspect: cfg("default", empty),
			networks: map[string]string{"bridge": netAns("127.0.0.18")}, want: []string{"127.0.0.18 8080->8080/tcp"}, netCalls: 1},
		{name: "empty host IP on a network that is gone", list: entry("exited", "n", "[]"), inspect: cfg("n", empty),
			want: []string{"0.0.0.0 8080->8080/tcp"}, netCalls: 1},
		{name: "empty host IP on the host network", list: entry("exited", "host", "[]"), inspect: cfg("host", empty),
			want: []string{"0.0.0.0 8080->8080/tcp"}},
		{name: "network asked once for many bindings", list: entry("exited", "n", "[]"),
			inspect:  cfg("n", `{"1/tcp":[{"HostIp":"","HostPort":"1"},{"HostIp":"","HostPort":"2"}],"3/udp":[{"HostIp":"","HostPort":"3"}]}`),
			networks: map[string]string{"n": netAns("127.0.0.17")},
			want:     []string{"127.0.0.17 1->1/tcp", "127.0.0.17 2->1/tcp", "127.0.0.17 3->3/udp"}, netCalls: 1},
		{name: "host IPs set: no network asked", list: entry("exited", "n", "[]"),
			inspect: cfg("n", `{"1/tcp":[{"HostIp":"127.0.0.19","HostPort":"1"}]}`), want: []string{"127.0.0.19 1->1/tcp"}},
		{name: "running without listed ports: read from its configuration", list: entry("running", "n", "[]"),
			inspect: cfg("n", `{"1/tcp":[{"HostIp":"127.0.0.19","HostPort":"1"}]}`), want: []string{"127.0.0.19 1->1/tcp"}},
		{name: "running with listed ports: not inspected", list: entry("running", "n", `[{"IP":"127.0.0.20","PrivatePort":1,"PublicPort":1,"Type":"tcp"}]`),
			want: []string{"127.0.0.20 1->1/tcp"}},
		{name: "listed port without an IP: the network's", list: entry("running", "n", `[{"PrivatePort":1,"PublicPort":1,"Type":"tcp"}]`),
			networks: map[string]string{"n": netAns("127.0.0.21")}, want: []string{"127.0.0.21 1->1/tcp"}, netCalls: 1},
		{name: "no HostConfig", list: entry("exited", "n", "[]"), inspect: `{"Id":"` + id + `"}`, err: true},
		{name: "empty inspect answer", list: entry("exited", "n", "[]"), inspect: `{}`, err: true},
		{name: "bad host IP", list: entry("exited", "n", "[]"), inspect: cfg("n", `{"1/tcp":[{"HostIp":"nope","HostPort":"1"}]}`), err: true},
		{name: "bad network option", list: entry("exited", "n", "[]"), inspect: cfg("n", empty),
			networks: map[string]string{"n": netAns("nope")}, err: true, netCalls: 1},
		{name: "network inspect fails", list: entry("exited", "n", "[]"), inspect: cfg("n", empty),
			networks: map[string]string{"n": `{`}, err: true, netCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEngine{list: tt.list, networks: tt.networks}
			if tt.inspect != "" {
				f.inspect = map[string]string{id: tt.inspect}
			}
			inv := newTestInventory(t, serveTCP(t, f), 5*time.Second)
			hs, err := inv.Holders(context.Background())
			if tt.err {
				if err == nil || !errors.Is(err, lease.ErrInventory) {
					t.Errorf("Holders() = %v, %v, want an error wrapping ErrInventory", hs, err)
				}
			} else {
				var got []string
				for _, h := range hs {
					got = append(got, h.Alias.String()+" "+h.Port)
				}
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Holders() = %q, %v, want %q", got, err, tt.want)
				}
			}
			paths, _ := f.requests()
			if n := strings.Count(strings.Join(paths, "\n"), "/networks/"); n != tt.netCalls {
				t.Errorf("%d network inspects, want %d: %q", n, tt.netCalls, paths)
			}
		})
	}
}

// TestHoldersSlowInspectRelisted checks that an inspect that blocks (as
// the engine's does while it starts the container) is raced by listing
// the container again: once the list shows its ports, or no longer shows
// it, that is the answer, well within the deadline; while it shows
// neither, the inventory waits, and fails at the deadline.
func TestHoldersSlowInspectRelisted(t *testing.T) {
	const id = "abcdef0123456789"
	created := `[{"Id":"` + id + `","Names":["/x"],"State":"created","Ports":[]}]`
	running := `[{"Id":"` + id + `","Names":["/x"],"State":"running","Ports":[{"IP":"127.0.0.17","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]}]`
	tests := []struct {
		name  string
		later string // the list answer after the first
		want  []string
		err   bool
	}{
		{name: "started", later: running, want: []string{"127.0.0.17 8080->80/tcp"}},
		{name: "removed", later: `[]`},
		{name: "still starting", later: created, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lists atomic.Int32
			release := make(chan struct{})
			defer close(release)
			f := &fakeEngine{handle: func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/v1.41/containers/json":
					if lists.Add(1) > 1 {
						if q := r.URL.Query().Get("filters"); !strings.Contains(q, id) {
							t.Errorf("list again with filters %q, want the waiting container's ID", q)
						}
						io.WriteString(w, tt.later)
						return
					}
					io.WriteString(w, created)
				case strings.HasSuffix(r.URL.Path, "/json"):
					select { // the engine holds the container while it starts it
					case <-release:
					case <-r.Context().Done():
					}
					http.Error(w, "gone", http.StatusInternalServerError)
				default:
					http.NotFound(w, r)
				}
			}}
			timeout := 2 * time.Second
			inv := newTestInventory(t, serveTCP(t, f), timeout)
			began := time.Now()
			hs, err := inv.Holders(context.Background())
			took := time.Since(began)
			if tt.err {
				if !errors.Is(err, lease.ErrInventory) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Holders() = %v, %v, want a timeout", hs, err)
				}
				return
			}
			var got []string
			for _, h := range hs {
				got = append(got, h.Alias.String()+" "+h.Port)
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) || took >= timeout {
				t.Errorf("Holders() = %q, %v after %v, want %q before the deadline (%v)", got, err, took, tt.want, timeout)
			}
		})
	}
}

// FuzzHostAddr checks the binding resolution on arbitrary host IPs and
// network options: an address, never an IPv4-mapped one, or an error;
// and a set host IP always wins over the network's.
func FuzzHostAddr(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"127.0.0.17", ""}, {"", "127.0.0.17"}, {"::ffff:1.2.3.4", "x"}, {"", "fe80::1%lo"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ip, def string) {
		a, err := hostAddr(ip, def)
		if err != nil {
			return
		}
		if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
			t.Fatalf("hostAddr(%q, %q) = %v", ip, def, a)
		}
		if ip != "" {
			if b, err := netip.ParseAddr(ip); err != nil || b.Unmap() != a {
				t.Fatalf("hostAddr(%q, %q) = %v, not the host IP", ip, def, a)
			}
		}
	})
}
