package dockerinv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerConfig writes a DOCKER_CONFIG holding the given contexts (name ->
// endpoint host) and current context, and returns its directory.
func dockerConfig(t *testing.T, current string, contexts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, host := range contexts {
		sum := sha256.Sum256([]byte(name))
		d := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		js := fmt.Sprintf(`{"Name":%q,"Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":true}}}`, name, host)
		if err := os.WriteFile(filepath.Join(d, "meta.json"), []byte(js), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if current != "-" {
		cfg := fmt.Sprintf(`{"auths":{},"currentContext":%q}`, current)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolve(t *testing.T) {
	ctxs := map[string]string{
		"colima":   "unix:///Users/me/.colima/default/docker.sock",
		"orbstack": "unix:///Users/me/.orbstack/run/docker.sock",
		"remote":   "ssh://me@host",
		"win":      "npipe:////./pipe/docker_engine",
		"tcp":      "tcp://10.0.0.5:2376",
	}
	cfg := dockerConfig(t, "colima", ctxs)
	noCurrent := dockerConfig(t, "-", ctxs)
	garbage := t.TempDir()
	os.WriteFile(filepath.Join(garbage, "config.json"), []byte("{not json"), 0o600)
	tests := []struct {
		name   string
		flag   string
		env    map[string]string
		host   string // want
		source string // want
		errSub string
	}{
		{name: "flag wins", flag: "tcp://1.2.3.4:2375", env: map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_CONFIG": cfg},
			host: "tcp://1.2.3.4:2375", source: "--docker-host"},
		{name: "DOCKER_HOST before contexts", env: map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_CONTEXT": "orbstack", "DOCKER_CONFIG": cfg},
			host: "unix:///x.sock", source: "DOCKER_HOST"},
		{name: "DOCKER_CONTEXT before currentContext", env: map[string]string{"DOCKER_CONTEXT": "orbstack", "DOCKER_CONFIG": cfg},
			host: ctxs["orbstack"], source: "context orbstack"},
		{name: "currentContext", env: map[string]string{"DOCKER_CONFIG": cfg}, host: ctxs["colima"], source: "context colima"},
		{name: "HOME/.docker when DOCKER_CONFIG unset", env: map[string]string{"HOME": filepath.Dir(cfg) + "/" + filepath.Base(cfg) + "-home"},
			host: DefaultHost, source: "default"},
		{name: "no config.json", env: map[string]string{"DOCKER_CONFIG": noCurrent}, host: DefaultHost, source: "default"},
		{name: "default context", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "default"}, host: DefaultHost, source: "default"},
		{name: "tcp context", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "tcp"}, host: ctxs["tcp"], source: "context tcp"},
		{name: "missing context", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "nope"}, errSub: `docker context "nope" (from DOCKER_CONTEXT) does not exist`},
		{name: "ssh unsupported", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "remote"}, errSub: "ssh:// endpoints are not supported"},
		{name: "npipe unsupported", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "win"}, errSub: "npipe:// endpoints are not supported"},
		{name: "ssh DOCKER_HOST unsupported", env: map[string]string{"DOCKER_HOST": "ssh://me@host"}, errSub: "ssh:// endpoints are not supported"},
		{name: "not a URL", flag: "/var/run/docker.sock", errSub: "is not a URL"},
		{name: "garbled config.json", env: map[string]string{"DOCKER_CONFIG": garbage}, errSub: "config.json"},
	}
	for _, tt := range tests {
		getenv := func(k string) string { return tt.env[k] }
		ep, err := Resolve(tt.flag, getenv)
		if tt.errSub != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Errorf("%s: Resolve = %+v, %v, want error containing %q", tt.name, ep, err, tt.errSub)
			}
			continue
		}
		if err != nil || ep.Host != tt.host || ep.Source != tt.source {
			t.Errorf("%s: Resolve = %+v, %v, want %s from %s", tt.name, ep, err, tt.host, tt.source)
		}
	}
}

func TestResolveTLS(t *testing.T) {
	cfg := dockerConfig(t, "tcp", map[string]string{"tcp": "tcp://10.0.0.5:2376"})
	sum := sha256.Sum256([]byte("tcp"))
	tlsDir := filepath.Join(cfg, "contexts", "tls", hex.EncodeToString(sum[:]), "docker")
	os.MkdirAll(tlsDir, 0o700)
	os.WriteFile(filepath.Join(tlsDir, "cert.pem"), []byte("x"), 0o600)
	ep, err := Resolve("", func(k string) string { return map[string]string{"DOCKER_CONFIG": cfg}[k] })
	if err != nil || ep.TLS == nil || ep.TLS.Cert != filepath.Join(tlsDir, "cert.pem") || !ep.TLS.SkipVerify {
		t.Errorf("Resolve = %+v (TLS %+v), %v, want the context's TLS files, verification skipped as its meta says", ep, ep.TLS, err)
	}
	env := map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/certs", "DOCKER_TLS_VERIFY": "1"}
	ep, err = Resolve("", func(k string) string { return env[k] })
	if err != nil || ep.TLS == nil || ep.TLS.CA != "/certs/ca.pem" || ep.TLS.SkipVerify {
		t.Errorf("Resolve = %+v (TLS %+v), %v, want /certs with verification", ep, ep.TLS, err)
	}
}
