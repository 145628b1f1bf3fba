package dockerinv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzEngineAnswers feeds arbitrary list and inspect answers to the
// adapter: it must return holders or an error, never panic or hang, and
// every holder it returns must come from the answer.
func FuzzEngineAnswers(f *testing.F) {
	f.Add([]byte(`[{"Id":"abc","Names":["/x"],"State":"running","Labels":{"aliaslease.slug":"s"},"Ports":[{"IP":"127.0.0.16","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]}]`),
		[]byte(`{}`))
	f.Add([]byte(`[{"Id":"abc","Names":["/x"],"State":"exited","Ports":[]}]`),
		[]byte(`{"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.17","HostPort":"8080"},{"HostIp":"","HostPort":"1"}]}}}`))
	f.Add([]byte(`[{"Id":"abc","State":"created","Ports":null}]`), []byte(`{"HostConfig":null}`))
	f.Add([]byte(`[{"Id":"abc","Ports":[{"IP":"::","PublicPort":1}]}`), []byte(``))
	var mu sync.Mutex
	var list, inspect []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/containers/json" {
			w.Write(list)
		} else {
			w.Write(inspect)
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
			return
		}
		var listed []summary
		json.Unmarshal(l, &listed)
		ids := map[string]bool{}
		for _, s := range listed {
			ids[s.ID] = true
		}
		for _, h := range hs {
			if !h.Alias.IsValid() || !ids[h.ID] {
				t.Fatalf("holder %+v does not come from the answer %q", h, l)
			}
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
		if err == nil && !strings.HasPrefix(ep.Host, "unix://") && !strings.HasPrefix(ep.Host, "tcp://") {
			t.Fatalf("Resolve accepted %q", ep.Host)
		}
	})
}
