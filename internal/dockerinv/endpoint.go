package dockerinv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultHost is the endpoint used when nothing names another.
const DefaultHost = "unix:///var/run/docker.sock"

// Endpoint is a resolved Docker daemon address and how it was chosen.
type Endpoint struct {
	Host   string // unix:///path or tcp://host:port
	Source string // "--docker-host", "DOCKER_HOST", "context NAME", "default"
	TLS    *TLSFiles
}

// TLSFiles are the client certificate files for a tcp:// endpoint.
type TLSFiles struct {
	CA, Cert, Key string
	SkipVerify    bool
}

// Resolve finds the daemon the way the docker CLI does: host (the
// --docker-host flag), then DOCKER_HOST, then the context named by
// DOCKER_CONTEXT, then currentContext in $DOCKER_CONFIG/config.json
// (default ~/.docker), then DefaultHost. getenv is os.Getenv outside
// tests. Only unix:// and tcp:// endpoints are supported.
func Resolve(host string, getenv func(string) string) (Endpoint, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var ep Endpoint
	switch {
	case host != "":
		ep = Endpoint{Host: host, Source: "--docker-host", TLS: envTLS(getenv)}
	case getenv("DOCKER_HOST") != "":
		ep = Endpoint{Host: getenv("DOCKER_HOST"), Source: "DOCKER_HOST", TLS: envTLS(getenv)}
	default:
		var err error
		if ep, err = fromContext(getenv); err != nil {
			return ep, err
		}
	}
	return ep, checkScheme(ep)
}

func checkScheme(ep Endpoint) error {
	scheme, rest, ok := strings.Cut(ep.Host, "://")
	switch {
	case !ok || rest == "":
		return fmt.Errorf("docker endpoint %q (from %s) is not a URL such as unix:///var/run/docker.sock", ep.Host, ep.Source)
	case scheme == "unix" || scheme == "tcp":
		return nil
	}
	kind := scheme + "://"
	if q := strconv.Quote(kind); q[1:len(q)-1] != kind {
		kind = q // keep the message on one line whatever the variable held
	}
	return fmt.Errorf("docker endpoint %q (from %s): %s endpoints are not supported, only unix:// and tcp://", ep.Host, ep.Source, kind)
}

func envTLS(getenv func(string) string) *TLSFiles {
	dir := getenv("DOCKER_CERT_PATH")
	if dir == "" {
		return nil
	}
	return &TLSFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		Cert:       filepath.Join(dir, "cert.pem"),
		Key:        filepath.Join(dir, "key.pem"),
		SkipVerify: getenv("DOCKER_TLS_VERIFY") == "",
	}
}

func configDir(getenv func(string) string) (string, error) {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(home, ".docker"), nil
}

func fromContext(getenv func(string) string) (Endpoint, error) {
	def := Endpoint{Host: DefaultHost, Source: "default"}
	dir, err := configDir(getenv)
	if err != nil {
		return def, nil
	}
	name, source := getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	if name == "" {
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if errors.Is(err, fs.ErrNotExist) {
			return def, nil
		}
		if err != nil {
			return def, fmt.Errorf("docker config: %w", err)
		}
		var cfg struct{ CurrentContext string }
		if err := json.Unmarshal(b, &cfg); err != nil {
			return def, fmt.Errorf("docker config %s: %w", filepath.Join(dir, "config.json"), err)
		}
		name, source = cfg.CurrentContext, "currentContext in "+filepath.Join(dir, "config.json")
	}
	if name == "" || name == "default" {
		return def, nil
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return def, fmt.Errorf("docker context %q (from %s) does not exist (no %s)", name, source, metaPath)
	}
	if err != nil {
		return def, fmt.Errorf("docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return def, fmt.Errorf("docker context %q: %s: %w", name, metaPath, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return def, fmt.Errorf("docker context %q has no docker endpoint in %s", name, metaPath)
	}
	ep := Endpoint{Host: d.Host, Source: "context " + name}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "cert.pem")); err == nil {
		ep.TLS = &TLSFiles{
			CA:         filepath.Join(tlsDir, "ca.pem"),
			Cert:       filepath.Join(tlsDir, "cert.pem"),
			Key:        filepath.Join(tlsDir, "key.pem"),
			SkipVerify: d.SkipTLSVerify,
		}
	}
	return ep, nil
}
