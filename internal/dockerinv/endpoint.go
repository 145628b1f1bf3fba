package dockerinv

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// DefaultHost is the endpoint used when nothing names another.
const DefaultHost = "unix:///var/run/docker.sock"

// Default ports of a tcp:// endpoint that names none, as for the docker
// CLI.
const (
	DefaultPort    = "2375" // plain HTTP
	DefaultTLSPort = "2376" // with TLS
)

// Endpoint is a resolved Docker daemon address and how it was chosen.
type Endpoint struct {
	// Host is unix:///path or tcp://host:port[/path]; a tcp:// host
	// always carries its port.
	Host string
	// Source names where Host came from: "--docker-host",
	// "DOCKER_HOST", "context NAME" or "default".
	Source string
	// TLS is the TLS material of a tcp:// endpoint, nil for plain HTTP.
	// It is always nil for unix:// endpoints, whose socket's file
	// permissions are the protection.
	TLS *TLSFiles
}

// TLSFiles are the TLS files of a tcp:// endpoint. An empty path means
// the file is not used: without CA the system roots verify the daemon,
// without Cert and Key no client certificate is sent.
type TLSFiles struct {
	CA, Cert, Key string
	// SkipVerify is set only by a context whose meta.json asks for it
	// (SkipTLSVerify); environment variables never set it.
	SkipVerify bool
}

// Resolve finds the daemon the way the docker CLI does: host (the
// --docker-host flag), then DOCKER_HOST, then the context named by
// DOCKER_CONTEXT, then currentContext in $DOCKER_CONFIG/config.json
// (default ~/.docker), then DefaultHost. getenv is os.Getenv outside
// tests; nil means os.Getenv.
//
// Only unix:// and tcp:// endpoints are supported. For a tcp:// endpoint
// named by the flag or DOCKER_HOST, a non-empty DOCKER_TLS_VERIFY means
// TLS with verification, with ca.pem (required), cert.pem and key.pem
// from DOCKER_CERT_PATH, else from the docker config directory;
// DOCKER_CERT_PATH without DOCKER_TLS_VERIFY, which the docker CLI reads
// as TLS without verification, is refused. A context uses the TLS files
// stored with it (contexts/tls/<sha256>/docker/), and skips verification
// only when its meta.json says SkipTLSVerify. A tcp:// endpoint without a
// port gets DefaultPort, or DefaultTLSPort with TLS.
//
// Every error wraps lease.ErrEndpoint and names the source; one caused
// by the TLS settings or the docker configuration wraps ErrTLSEnv or
// ErrDockerConfig as well.
func Resolve(host string, getenv func(string) string) (Endpoint, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var (
		ep  Endpoint
		err error
	)
	switch {
	case host != "":
		ep = Endpoint{Host: host, Source: "--docker-host"}
	case getenv("DOCKER_HOST") != "":
		ep = Endpoint{Host: getenv("DOCKER_HOST"), Source: "DOCKER_HOST"}
	default:
		// A context carries its own TLS settings; the environment's
		// apply only to a host named by the flag or DOCKER_HOST.
		if ep, err = fromContext(getenv); err != nil {
			return ep, err
		}
		return normalize(ep)
	}
	scheme, _, _ := strings.Cut(ep.Host, "://")
	if scheme == "tcp" {
		if ep.TLS, err = envTLS(getenv); err != nil {
			return ep, about(ErrTLSEnv, endpointErr(ep, "%v", err))
		}
	}
	return normalize(ep)
}

// What an endpoint error is about when it is not the address itself, so
// that a hint can name what to fix. An error that wraps one of them wraps
// lease.ErrEndpoint as well; its message is the endpoint error's.
var (
	// ErrTLSEnv: the TLS that DOCKER_TLS_VERIFY and DOCKER_CERT_PATH ask
	// for a tcp:// endpoint of --docker-host or DOCKER_HOST cannot be
	// used: the two set inconsistently, or ca.pem, cert.pem or key.pem
	// missing, unreadable or not PEM.
	ErrTLSEnv = errors.New("docker TLS settings unusable")
	// ErrContextTLS: the TLS files stored with a docker context cannot
	// be used.
	ErrContextTLS = errors.New("docker context TLS files unusable")
	// ErrDockerConfig: the docker CLI's configuration cannot be used:
	// $DOCKER_CONFIG/config.json unreadable or not JSON, its
	// currentContext naming no context, or a context's meta.json
	// unreadable, not JSON or without a docker endpoint.
	ErrDockerConfig = errors.New("docker configuration unusable")
)

// causedError is an endpoint error marked with what it is about.
type causedError struct{ err, cause error }

func (e causedError) Error() string   { return e.err.Error() }
func (e causedError) Unwrap() []error { return []error{e.err, e.cause} }

// about marks err as caused by cause (ErrTLSEnv, ErrContextTLS,
// ErrDockerConfig), its message unchanged.
func about(cause, err error) error { return causedError{err: err, cause: cause} }

// endpointErr is an error about ep that wraps lease.ErrEndpoint.
func endpointErr(ep Endpoint, format string, args ...any) error {
	return fmt.Errorf("%w: %s (from %s): %s", lease.ErrEndpoint, quote(ep.Host), ep.Source, fmt.Sprintf(format, args...))
}

// tlsCause is what an error of ep's TLS material is about: the files of
// its context, or the environment's settings.
func (ep Endpoint) tlsCause() error {
	if strings.HasPrefix(ep.Source, "context ") {
		return ErrContextTLS
	}
	return ErrTLSEnv
}

// quote quotes s for a message.
func quote(s string) string { return strconv.Quote(s) }

// normalize checks ep.Host and gives a tcp:// host its default port.
func normalize(ep Endpoint) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(ep.Host, "://")
	if !ok || rest == "" {
		return ep, endpointErr(ep, "not a URL such as %s", DefaultHost)
	}
	switch scheme {
	case "unix":
		ep.TLS = nil
		if strings.Contains(rest, "://") || strings.ContainsRune(rest, 0) {
			return ep, endpointErr(ep, "not a socket path")
		}
		return ep, nil
	case "tcp":
		u, err := url.Parse(ep.Host)
		if err != nil || strings.Contains(rest, "://") {
			return ep, endpointErr(ep, "not a URL such as tcp://host:2376")
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery {
			return ep, endpointErr(ep, "only tcp://host:port[/path] is supported")
		}
		port := DefaultPort
		if ep.TLS != nil {
			port = DefaultTLSPort
		}
		h, p := u.Hostname(), u.Port()
		if h == "" {
			h = "localhost"
		}
		if p == "" {
			p = port
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return ep, endpointErr(ep, "port %s is not a number from 1 to 65535", quote(p))
		}
		hostport := net.JoinHostPort(h, p)
		if hh, pp, err := net.SplitHostPort(hostport); err != nil || hh != h || pp != p || !validHostname(h) {
			return ep, endpointErr(ep, "host %s is not a host name or an IP address", quote(h))
		}
		ep.Host = "tcp://" + hostport + u.EscapedPath()
		return ep, nil
	}
	kind := scheme + "://"
	if q := strconv.Quote(kind); q[1:len(q)-1] != kind {
		kind = q // keep the message on one line whatever the variable held
	}
	return ep, endpointErr(ep, "%s endpoints are not supported, only unix:// and tcp://", kind)
}

// validHostname says whether h is an IP address or a DNS name.
func validHostname(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// envTLS is the docker CLI's TLS from the environment, for a tcp://
// endpoint named by the flag or DOCKER_HOST.
func envTLS(getenv func(string) string) (*TLSFiles, error) {
	certPath := getenv("DOCKER_CERT_PATH")
	if getenv("DOCKER_TLS_VERIFY") == "" {
		if certPath != "" {
			return nil, errors.New("DOCKER_CERT_PATH is set without DOCKER_TLS_VERIFY, which means TLS without verifying the daemon: set DOCKER_TLS_VERIFY=1 to verify it, or unset DOCKER_CERT_PATH for plain HTTP")
		}
		return nil, nil
	}
	dir := certPath
	if dir == "" {
		var err error
		if dir, err = configDir(getenv); err != nil {
			return nil, fmt.Errorf("DOCKER_TLS_VERIFY is set, DOCKER_CERT_PATH is not, and there is no docker config directory: %v", err)
		}
	}
	f := &TLSFiles{CA: filepath.Join(dir, "ca.pem")}
	// As the CLI does: the client certificate is optional, the CA is
	// not (loading it fails when it is missing).
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if exists(cert) || exists(key) {
		f.Cert, f.Key = cert, key
	}
	return f, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
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

// contextMeta is the part of a context's meta.json that is read.
type contextMeta struct {
	Endpoints map[string]struct {
		Host          string
		SkipTLSVerify bool
	}
}

// currentContext is the currentContext of config.json in dir, "" when
// there is no such file, and the source to name it by.
func currentContext(dir string) (name, source string, err error) {
	cfgPath := filepath.Join(dir, "config.json")
	b, err := readFile("docker config", cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "", nil
	case errors.Is(err, lease.ErrUnsafePath):
		return "", "", err
	case err != nil:
		return "", "", about(ErrDockerConfig, fmt.Errorf("%w: docker config: %v", lease.ErrEndpoint, err))
	}
	var cfg struct{ CurrentContext string }
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", "", about(ErrDockerConfig, fmt.Errorf("%w: docker config %s: %v", lease.ErrEndpoint, quote(cfgPath), err))
	}
	return cfg.CurrentContext, "currentContext in " + quote(cfgPath), nil
}

func fromContext(getenv func(string) string) (Endpoint, error) {
	def := Endpoint{Host: DefaultHost, Source: "default"}
	dir, err := configDir(getenv)
	if err != nil {
		return def, nil
	}
	name, source := getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	if name == "" {
		if name, source, err = currentContext(dir); err != nil {
			return def, err
		}
	}
	if name == "" || name == "default" {
		return def, nil
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := readFile("docker context", metaPath)
	if errors.Is(err, lease.ErrUnsafePath) {
		return def, err
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w: docker context %s (from %s) does not exist (no %s)", lease.ErrEndpoint, quote(name), source, quote(metaPath))
		if source == "DOCKER_CONTEXT" {
			return def, err // a name typed: DOCKER_CONTEXT is what to fix
		}
		return def, about(ErrDockerConfig, err)
	}
	if err != nil {
		return def, about(ErrDockerConfig, fmt.Errorf("%w: docker context %s (from %s): %v", lease.ErrEndpoint, quote(name), source, err))
	}
	var meta contextMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return def, about(ErrDockerConfig, fmt.Errorf("%w: docker context %s (from %s): %s: %v", lease.ErrEndpoint, quote(name), source, quote(metaPath), err))
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return def, about(ErrDockerConfig, fmt.Errorf("%w: docker context %s (from %s) has no docker endpoint in %s", lease.ErrEndpoint, quote(name), source, quote(metaPath)))
	}
	ep := Endpoint{Host: d.Host, Source: "context " + name}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	f := &TLSFiles{SkipVerify: d.SkipTLSVerify}
	if p := filepath.Join(tlsDir, "ca.pem"); exists(p) {
		f.CA = p
	}
	cert, key := filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem")
	if exists(cert) || exists(key) {
		f.Cert, f.Key = cert, key
	}
	// As the CLI does: TLS material, or an explicit SkipTLSVerify,
	// means TLS; neither means plain HTTP.
	if f.CA != "" || f.Cert != "" || f.SkipVerify {
		ep.TLS = f
	}
	return ep, nil
}

// config loads the files into a TLS client configuration. A CA file, when
// named, is the only root trusted; a missing or unreadable file is an
// error, never a reason to fall back to plain HTTP or to skip
// verification.
func (f *TLSFiles) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.SkipVerify}
	if f.CA != "" {
		pem, err := readFile("CA certificate", f.CA)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate: no PEM certificate in %s", quote(f.CA))
		}
	}
	if f.Cert != "" || f.Key != "" {
		certPEM, err := readFile("client certificate", f.Cert)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		keyPEM, err := readFile("client key", f.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
