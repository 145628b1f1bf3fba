package dockerinv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// FuzzEngineAnswers feeds arbitrary list and inspect answers to the
// adapter, through the Docker client and a fake engine that negotiates
// API 1.41: it must return holders or an error, never panic or hang, and
// every holder it returns must come from the answer: a listed container,
// with a valid address, never one taken from a label.
func FuzzEngineAnswers(f *testing.F) {
	f.Add([]byte(`[{"Id":"abc","Names":["/x"],"State":"running","Labels":{"aliaslease.slug":"s"},"Ports":[{"IP":"127.0.0.16","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]}]`),
		[]byte(`{}`))
	f.Add([]byte(`[{"Id":"abc","Names":["/x"],"State":"exited","Ports":[]}]`),
		[]byte(`{"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.17","HostPort":"8080"},{"HostIp":"","HostPort":"1"}]}}}`))
	f.Add([]byte(`[{"Id":"abc","Names":["/x"],"State":"exited","Labels":{"aliaslease.slug":"s"},"Ports":[]},{"Id":"def","State":"created","Labels":{"aliaslease.slug":"t"}}]`),
		[]byte(`{"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"::ffff:127.0.0.17","HostPort":"8080"}]}}}`))
	f.Add([]byte(`[{"Id":"abc","State":"created","Ports":null}]`), []byte(`{"HostConfig":null}`))
	f.Add([]byte(`[{"Id":"abc","State":"created"}]`), []byte(`{"HostConfig":{"PortBindings":{"1/tcp":[{"HostIp":"garbage"}]}}}`))
	f.Add([]byte(`[{"Id":"abc","Ports":[{"IP":"::","PublicPort":1}]}`), []byte(``))
	var mu sync.Mutex
	var list, inspect []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.URL.Path == "/_ping":
			w.Header().Set("API-Version", "1.41")
			w.Write([]byte("OK"))
		case r.URL.Path == "/v1.41/containers/json":
			w.Write(list)
		case strings.HasPrefix(r.URL.Path, "/v1.41/containers/"):
			w.Write(inspect)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	inv := New(Config{Host: "tcp://" + strings.TrimPrefix(srv.URL, "http://"), Timeout: 5 * time.Second, Getenv: func(string) string { return "" }})
	f.Fuzz(func(t *testing.T, l, i []byte) {
		mu.Lock()
		list, inspect = l, i
		mu.Unlock()
		hs, err := inv.Holders(context.Background())
		if err != nil {
			if !errors.Is(err, lease.ErrInventory) || errors.Is(err, lease.ErrNoEngine) {
				t.Fatalf("Holders() = %v, want an error wrapping ErrInventory only", err)
			}
			return
		}
		var listed []summary
		json.Unmarshal(l, &listed)
		ids := map[string]bool{}
		for _, s := range listed {
			ids[s.ID] = true
		}
		for _, h := range hs {
			if !ids[h.ID] || !h.Alias.IsValid() || h.Alias.Is4In6() {
				t.Fatalf("holder %+v does not come from the answer %q", h, l)
			}
		}
	})
}

// FuzzResolve feeds arbitrary --docker-host values, with and without
// TLS, to the endpoint resolution: an endpoint of a supported kind, whose
// tcp:// host carries a port and resolves to itself again, or an error
// wrapping lease.ErrEndpoint; never a panic.
func FuzzResolve(f *testing.F) {
	for _, h := range []string{"unix:///var/run/docker.sock", "tcp://h", "tcp://[::1]:2376/p", "tcp://:1", "ssh://h", "tcp://h:x", "tcp://%zz", "x"} {
		f.Add(h, false)
	}
	certs := f.TempDir()
	f.Fuzz(func(t *testing.T, host string, tls bool) {
		env := map[string]string{}
		if tls {
			env["DOCKER_TLS_VERIFY"], env["DOCKER_CERT_PATH"] = "1", certs
		}
		getenv := func(k string) string { return env[k] }
		ep, err := Resolve(host, getenv)
		if err != nil {
			if !errors.Is(err, lease.ErrEndpoint) {
				t.Fatalf("Resolve(%q) = %v, want an error wrapping ErrEndpoint", host, err)
			}
			return
		}
		if host == "" {
			return
		}
		scheme, rest, _ := strings.Cut(ep.Host, "://")
		switch scheme {
		case "unix":
		case "tcp":
			hostport, _, _ := strings.Cut(rest, "/")
			if _, port, err := net.SplitHostPort(hostport); err != nil || port == "" {
				t.Fatalf("Resolve(%q) = %q, want a host and a port", host, ep.Host)
			}
			again, err := Resolve(ep.Host, getenv)
			if err != nil || again.Host != ep.Host {
				t.Fatalf("Resolve(%q) = %q, then %q, %v", host, ep.Host, again.Host, err)
			}
		default:
			t.Fatalf("Resolve(%q) accepted %q", host, ep.Host)
		}
	})
}

// FuzzResolveContext feeds arbitrary config.json and meta.json files to
// the endpoint resolution: an endpoint or an error, never a panic, and
// never an endpoint of an unsupported kind.
func FuzzResolveContext(f *testing.F) {
	f.Add([]byte(`{"currentContext":"c"}`), []byte(`{"Name":"c","Endpoints":{"docker":{"Host":"unix:///x.sock"}}}`))
	f.Add([]byte(`{"currentContext":"c"}`), []byte(`{"Endpoints":{"docker":{"Host":"ssh://h"}}}`))
	f.Add([]byte(`{"currentContext":""}`), []byte(`null`))
	f.Add([]byte(`{`), []byte(`{`))
	f.Fuzz(func(t *testing.T, config, meta []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), config, 0o600)
		sum := sha256.Sum256([]byte("c"))
		m := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
		os.MkdirAll(m, 0o700)
		os.WriteFile(filepath.Join(m, "meta.json"), meta, 0o600)
		ep, err := Resolve("", func(k string) string {
			if k == "DOCKER_CONFIG" {
				return dir
			}
			return ""
		})
		if err != nil && !errors.Is(err, lease.ErrEndpoint) {
			t.Fatalf("Resolve() = %v, want an error wrapping ErrEndpoint", err)
		}
		if err == nil && !strings.HasPrefix(ep.Host, "unix://") && !strings.HasPrefix(ep.Host, "tcp://") {
			t.Fatalf("Resolve() accepted %q", ep.Host)
		}
	})
}
