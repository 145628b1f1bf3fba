package dockerinv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate signed by ca, as PEM, and its tls form: for
// a server on 127.0.0.1, or for a client.
func (ca *testCA) issue(t *testing.T, server bool) (certPEM, keyPEM []byte, c tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.Subject.CommonName = "127.0.0.1"
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	c, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, c
}

// tlsEngine is a fake engine behind TLS with a certificate from ca; with
// clientCA it requires a client certificate from that CA. It counts the
// requests that reach it.
func tlsEngine(t *testing.T, ca, clientCA *testCA) (host string, requests *atomic.Int32) {
	t.Helper()
	requests = new(atomic.Int32)
	f := &fakeEngine{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		f.ServeHTTP(w, r)
	}))
	_, _, cert := ca.issue(t, true)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = x509.NewCertPool()
		srv.TLS.ClientCAs.AddCert(clientCA.cert)
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "https://"), requests
}

// plainEngine is a fake engine over plain HTTP that counts the requests
// that reach it.
func plainEngine(t *testing.T) (host string, requests *atomic.Int32) {
	t.Helper()
	requests = new(atomic.Int32)
	f := &fakeEngine{}
	host = serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		f.ServeHTTP(w, r)
	}))
	return host, requests
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsContext writes a DOCKER_CONFIG whose current context "remote" names
// host, with the given TLS files, and returns its directory.
func tlsContext(t *testing.T, host string, skipVerify bool, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("remote"))
	id := hex.EncodeToString(sum[:])
	meta := fmt.Sprintf(`{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":%t}}}`, host, skipVerify)
	writeFiles(t, filepath.Join(dir, "contexts", "meta", id), map[string][]byte{"meta.json": []byte(meta)})
	if len(files) > 0 {
		writeFiles(t, filepath.Join(dir, "contexts", "tls", id, "docker"), files)
	}
	writeFiles(t, dir, map[string][]byte{"config.json": []byte(`{"currentContext":"remote"}`)})
	return dir
}

// TestTLS runs each way of configuring TLS against a server with the
// right CA (it must answer), one with another CA (verification must
// fail) and a plain HTTP one (it must get no request), or checks that
// the configuration is refused before any connection.
func TestTLS(t *testing.T) {
	ca, otherCA := newCA(t, "right"), newCA(t, "other")
	clientCert, clientKey, _ := ca.issue(t, false)
	certs := map[string][]byte{"ca.pem": ca.pem, "cert.pem": clientCert, "key.pem": clientKey}
	tests := []struct {
		name string
		// setup returns the flag and environment for a server at host.
		setup      func(t *testing.T, host string) (flag string, env map[string]string)
		clientCert bool  // the servers require a client certificate
		skips      bool  // verification skipped, as explicitly asked
		refused    error // refused as an unusable endpoint, about this (ErrTLSEnv, ErrContextTLS)
	}{
		{name: "DOCKER_TLS_VERIFY with DOCKER_CERT_PATH", clientCert: true,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, certs)
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir, "DOCKER_CONFIG": t.TempDir()}
			}},
		{name: "DOCKER_TLS_VERIFY, certificates in DOCKER_CONFIG", clientCert: true,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, certs)
				return host, map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": dir}
			}},
		{name: "DOCKER_TLS_VERIFY, certificates in HOME/.docker", clientCert: true,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				home := t.TempDir()
				writeFiles(t, filepath.Join(home, ".docker"), certs)
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "yes", "HOME": home}
			}},
		{name: "DOCKER_TLS_VERIFY, CA only", clientCert: false,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, map[string][]byte{"ca.pem": ca.pem})
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}
			}},
		{name: "DOCKER_CERT_PATH without DOCKER_TLS_VERIFY", refused: ErrTLSEnv,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, certs)
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_CERT_PATH": dir, "DOCKER_CONFIG": t.TempDir()}
			}},
		{name: "DOCKER_TLS_VERIFY without ca.pem", refused: ErrTLSEnv,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, map[string][]byte{"cert.pem": clientCert, "key.pem": clientKey})
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}
			}},
		{name: "DOCKER_TLS_VERIFY with cert.pem but no key.pem", refused: ErrTLSEnv,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, map[string][]byte{"ca.pem": ca.pem, "cert.pem": clientCert})
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}
			}},
		{name: "DOCKER_TLS_VERIFY with a garbled ca.pem", refused: ErrTLSEnv,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				dir := t.TempDir()
				writeFiles(t, dir, map[string][]byte{"ca.pem": []byte("not PEM")})
				return "", map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}
			}},
		{name: "context with a CA only", clientCert: false,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				return "", map[string]string{"DOCKER_CONFIG": tlsContext(t, host, false, map[string][]byte{"ca.pem": ca.pem})}
			}},
		{name: "context with CA and client certificate", clientCert: true,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				return "", map[string]string{"DOCKER_CONFIG": tlsContext(t, host, false, certs)}
			}},
		{name: "context with a garbled ca.pem", refused: ErrContextTLS,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				return "", map[string]string{"DOCKER_CONFIG": tlsContext(t, host, false, map[string][]byte{"ca.pem": []byte("not PEM")})}
			}},
		{name: "context with cert.pem but no key.pem", refused: ErrContextTLS,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				return "", map[string]string{"DOCKER_CONFIG": tlsContext(t, host, false, map[string][]byte{"ca.pem": ca.pem, "cert.pem": clientCert})}
			}},
		{name: "context asking SkipTLSVerify", clientCert: false, skips: true,
			setup: func(t *testing.T, host string) (string, map[string]string) {
				return "", map[string]string{"DOCKER_CONFIG": tlsContext(t, host, true, nil)}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clientCA *testCA
			if tt.clientCert {
				clientCA = ca
			}
			good, goodReqs := tlsEngine(t, ca, clientCA)
			bad, badReqs := tlsEngine(t, otherCA, clientCA)
			plain, plainReqs := plainEngine(t)
			holders := func(host string) error {
				t.Helper()
				flag, env := tt.setup(t, host)
				inv := New(Config{Host: flag, Timeout: 5 * time.Second, Getenv: func(k string) string { return env[k] }})
				_, err := inv.Holders(context.Background())
				t.Logf("Holders() at %s = %v", host, err)
				return err
			}
			if tt.refused != nil {
				for _, host := range []string{good, plain} {
					if err := holders(host); !errors.Is(err, lease.ErrEndpoint) || !errors.Is(err, tt.refused) {
						t.Errorf("Holders() at %s = %v, want an error wrapping ErrEndpoint and %v", host, err, tt.refused)
					}
				}
				if n, m := goodReqs.Load(), plainReqs.Load(); n+m > 0 {
					t.Errorf("%d and %d requests reached the servers, want none", n, m)
				}
				return
			}
			if err := holders(good); err != nil {
				t.Errorf("Holders() against the right CA = %v, want no error", err)
			}
			if goodReqs.Load() == 0 {
				t.Errorf("no request reached the server")
			}
			err := holders(bad)
			switch {
			case tt.skips && err != nil:
				t.Errorf("Holders() against another CA, verification skipped as asked = %v, want no error", err)
			case !tt.skips && (!errors.Is(err, lease.ErrInventory) || errors.Is(err, lease.ErrNoEngine)):
				t.Errorf("Holders() against another CA = %v, want a TLS failure wrapping ErrInventory", err)
			case !tt.skips && badReqs.Load() > 0:
				t.Errorf("%d requests reached the server of another CA, want none", badReqs.Load())
			}
			if err := holders(plain); !errors.Is(err, lease.ErrInventory) || errors.Is(err, lease.ErrNoEngine) {
				t.Errorf("Holders() against plain HTTP = %v, want an error wrapping ErrInventory", err)
			}
			if n := plainReqs.Load(); n > 0 {
				t.Errorf("%d plain-HTTP requests reached the server, want none", n)
			}
		})
	}
}

func TestTLSDefaultPort(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"ca.pem": []byte("x")})
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DOCKER_HOST": "tcp://h"}, "tcp://h:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}, "tcp://h:2376"},
		{map[string]string{"DOCKER_HOST": "tcp://h:1234", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}, "tcp://h:1234"},
		{map[string]string{"DOCKER_HOST": "tcp://[::1]"}, "tcp://[::1]:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://:2375"}, "tcp://localhost:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://h/base"}, "tcp://h:2375/base"},
		{map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_TLS_VERIFY": "1"}, "unix:///x.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			ep, err := Resolve("", func(k string) string { return tt.env[k] })
			if err != nil || ep.Host != tt.want {
				t.Errorf("Resolve(%v) = %+v, %v, want %s", tt.env, ep, err, tt.want)
			}
			if strings.HasPrefix(ep.Host, "unix:") && ep.TLS != nil {
				t.Errorf("Resolve(%v) = %+v, want no TLS on a unix socket", tt.env, ep)
			}
		})
	}
}
