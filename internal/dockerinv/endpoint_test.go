package dockerinv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
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
		"noport":   "tcp://10.0.0.5",
	}
	cfg := dockerConfig(t, "colima", ctxs)
	noCurrent := dockerConfig(t, "-", ctxs)
	garbage := t.TempDir()
	os.WriteFile(filepath.Join(garbage, "config.json"), []byte("{not json"), 0o600)
	garbledMeta := dockerConfig(t, "bad", map[string]string{"bad": "unix:///x.sock"})
	sum := sha256.Sum256([]byte("bad"))
	os.WriteFile(filepath.Join(garbledMeta, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"), []byte(`{"Endpoints":`), 0o600)
	huge := t.TempDir()
	os.WriteFile(filepath.Join(huge, "config.json"), []byte(`{"currentContext":"`+strings.Repeat("x", maxFileSize)+`"}`), 0o600)
	noDocker := dockerConfig(t, "k8s", map[string]string{"k8s": "unix:///x.sock"})
	sum = sha256.Sum256([]byte("k8s"))
	os.WriteFile(filepath.Join(noDocker, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"), []byte(`{"Endpoints":{"kubernetes":{}}}`), 0o600)
	tests := []struct {
		name   string
		flag   string
		env    map[string]string
		host   string // want
		source string // want
		errSub string
		cause  error // what the error is about beyond the address, nil for the address
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
		{name: "tcp context without a port", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "noport"}, host: "tcp://10.0.0.5:2376", source: "context noport"}, // TLS: its meta says SkipTLSVerify,
		{name: "tcp without a port", flag: "tcp://example.com", host: "tcp://example.com:2375", source: "--docker-host"},
		{name: "DOCKER_CERT_PATH ignored on a unix socket", env: map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_CERT_PATH": "/certs"},
			host: "unix:///x.sock", source: "DOCKER_HOST"},
		{name: "missing context", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "nope"}, errSub: `docker context "nope" (from DOCKER_CONTEXT) does not exist`},
		{name: "ssh unsupported", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "remote"}, errSub: "(from context remote): ssh:// endpoints are not supported"},
		{name: "npipe unsupported", env: map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "win"}, errSub: "npipe:// endpoints are not supported"},
		{name: "ssh DOCKER_HOST unsupported", env: map[string]string{"DOCKER_HOST": "ssh://me@host"}, errSub: "(from DOCKER_HOST): ssh:// endpoints are not supported"},
		{name: "http unsupported", flag: "http://h:2375", errSub: "http:// endpoints are not supported"},
		{name: "not a URL", flag: "/var/run/docker.sock", errSub: `"/var/run/docker.sock" (from --docker-host): not a URL`},
		{name: "empty unix path", flag: "unix://", errSub: "not a URL"},
		{name: "empty tcp host", env: map[string]string{"DOCKER_HOST": "tcp://"}, errSub: "(from DOCKER_HOST): not a URL"},
		{name: "tcp port not a number", flag: "tcp://h:x", errSub: "not a URL"},
		{name: "tcp port out of range", flag: "tcp://h:99999", errSub: "port"},
		{name: "tcp with user info", flag: "tcp://u:p@h:2375", errSub: "only tcp://host:port"},
		{name: "tcp with a query", flag: "tcp://h:2375?x=1", errSub: "only tcp://host:port"},
		{name: "tcp with a nested scheme", flag: "tcp://unix://x", errSub: "not a URL"},
		{name: "DOCKER_CERT_PATH without DOCKER_TLS_VERIFY", env: map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/certs"},
			errSub: "(from DOCKER_HOST): DOCKER_CERT_PATH is set without DOCKER_TLS_VERIFY", cause: ErrTLSEnv},
		{name: "currentContext naming no context", env: map[string]string{"DOCKER_CONFIG": dockerConfig(t, "gone", nil)},
			errSub: `docker context "gone" (from currentContext in `, cause: ErrDockerConfig},
		{name: "garbled config.json", env: map[string]string{"DOCKER_CONFIG": garbage}, errSub: "config.json", cause: ErrDockerConfig},
		{name: "config.json too large", env: map[string]string{"DOCKER_CONFIG": huge}, errSub: "is larger than", cause: ErrDockerConfig},
		{name: "garbled meta.json", env: map[string]string{"DOCKER_CONFIG": garbledMeta}, errSub: `docker context "bad" (from currentContext in `, cause: ErrDockerConfig},
		{name: "context without a docker endpoint", env: map[string]string{"DOCKER_CONFIG": noDocker}, errSub: "has no docker endpoint", cause: ErrDockerConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			ep, err := Resolve(tt.flag, getenv)
			if tt.errSub != "" {
				if !errors.Is(err, lease.ErrEndpoint) || !strings.Contains(err.Error(), tt.errSub) {
					t.Errorf("%s: Resolve() = %+v, %v, want an ErrEndpoint containing %q", tt.name, ep, err, tt.errSub)
				}
				if err != nil && strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: Resolve() = %q, want one line", tt.name, err)
				}
				for _, cause := range []error{ErrTLSEnv, ErrContextTLS, ErrDockerConfig} {
					if errors.Is(err, cause) != (cause == tt.cause) {
						t.Errorf("%s: Resolve() = %v; errors.Is(%v) = %t, want %t", tt.name, err, cause, !(cause == tt.cause), cause == tt.cause)
					}
				}
				return
			}
			if err != nil || ep.Host != tt.host || ep.Source != tt.source {
				t.Errorf("%s: Resolve() = %+v, %v, want %s from %s", tt.name, ep, err, tt.host, tt.source)
			}
		})
	}
}

func TestResolveTLS(t *testing.T) {
	cfg := dockerConfig(t, "tcp", map[string]string{"tcp": "tcp://10.0.0.5"})
	sum := sha256.Sum256([]byte("tcp"))
	tlsDir := filepath.Join(cfg, "contexts", "tls", hex.EncodeToString(sum[:]), "docker")
	os.MkdirAll(tlsDir, 0o700)
	os.WriteFile(filepath.Join(tlsDir, "cert.pem"), []byte("x"), 0o600)
	ep, err := Resolve("", func(k string) string { return map[string]string{"DOCKER_CONFIG": cfg}[k] })
	want := &TLSFiles{Cert: filepath.Join(tlsDir, "cert.pem"), Key: filepath.Join(tlsDir, "key.pem"), SkipVerify: true}
	if err != nil || ep.Host != "tcp://10.0.0.5:2376" || !reflect.DeepEqual(ep.TLS, want) {
		t.Errorf("Resolve() = %+v (TLS %+v), %v, want port 2376 and %+v, verification skipped as its meta says", ep, ep.TLS, err, want)
	}
	env := map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/certs", "DOCKER_TLS_VERIFY": "1"}
	ep, err = Resolve("", func(k string) string { return env[k] })
	if err != nil || !reflect.DeepEqual(ep.TLS, &TLSFiles{CA: "/certs/ca.pem"}) {
		t.Errorf("Resolve() = %+v (TLS %+v), %v, want /certs/ca.pem with verification", ep, ep.TLS, err)
	}
	// Environment TLS settings do not apply to a context.
	env = map[string]string{"DOCKER_CONFIG": dockerConfig(t, "plain", map[string]string{"plain": "tcp://h:2375"}), "DOCKER_TLS_VERIFY": "1"}
	sum = sha256.Sum256([]byte("plain"))
	meta := filepath.Join(env["DOCKER_CONFIG"], "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	os.WriteFile(meta, []byte(`{"Endpoints":{"docker":{"Host":"tcp://h:2375"}}}`), 0o600)
	ep, err = Resolve("", func(k string) string { return env[k] })
	if err != nil || ep.TLS != nil {
		t.Errorf("Resolve() = %+v (TLS %+v), %v, want the context's plain HTTP", ep, ep.TLS, err)
	}
}
