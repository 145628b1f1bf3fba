// Package dockerinv gathers the holders of loopback aliases from a Docker
// engine: every container, in any state, that publishes a port, with the
// host IP of each binding. It takes no lease decisions.
//
// It speaks the two Engine API calls it needs (list and inspect) over
// net/http instead of importing the Docker client: the client's package
// initialisation and size cost about 4.5 ms of start-up in every process,
// more than half of what an acquire with Docker on takes in all (see
// docs/benchmarks.md). Requests carry no API version prefix, so the engine
// answers in its own current version: no negotiation round trip, and no
// "client version is too new" or "too old" from engines of any age; the
// few fields read have kept their shape across versions.
package dockerinv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Config configures an Inventory.
type Config struct {
	Host    string        // the --docker-host flag; "" resolves as the docker CLI does
	Timeout time.Duration // bound on all the calls of one Holders
	Getenv  func(string) string
}

// Inventory reads holders from Docker. It implements lease.Inventory.
type Inventory struct {
	cfg Config
}

// New returns an Inventory; it neither resolves nor contacts the daemon
// until Holders is called.
func New(cfg Config) *Inventory { return &Inventory{cfg: cfg} }

// inspectConcurrency bounds the inspect calls in flight at once.
const inspectConcurrency = 8

// Holders lists all containers in one call, takes the host IPs of those
// whose ports the list shows (running, paused, restarting), and inspects
// the others (created, exited) for their configured bindings. Every call
// runs under one deadline; any failure fails the whole answer, since a
// partial inventory read as complete would let a live lease be reclaimed.
func (inv *Inventory) Holders(ctx context.Context) ([]lease.Holder, error) {
	ctx, ep, c, done, err := inv.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	hs, err := c.holders(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", inv.cfg.Timeout, err)
		}
		return nil, fmt.Errorf("docker at %s (%s): %w", ep.Host, ep.Source, err)
	}
	return hs, nil
}

// connect resolves the endpoint and makes a client whose calls all share
// one deadline, the configured timeout; done releases both.
func (inv *Inventory) connect(ctx context.Context) (context.Context, Endpoint, *client, func(), error) {
	ep, err := Resolve(inv.cfg.Host, inv.cfg.Getenv)
	if err != nil {
		return ctx, ep, nil, nil, err
	}
	c, err := newClient(ep)
	if err != nil {
		return ctx, ep, nil, nil, fmt.Errorf("docker at %s (%s): %w", ep.Host, ep.Source, err)
	}
	cancel := context.CancelFunc(func() {})
	if inv.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, inv.cfg.Timeout)
	}
	return ctx, ep, c, func() { cancel(); c.http.CloseIdleConnections() }, nil
}

// client is the smallest Engine API client that serves Holders.
type client struct {
	http *http.Client
	base string // scheme://host, without a path
}

func newClient(ep Endpoint) (*client, error) {
	u, err := url.Parse(ep.Host)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: inspectConcurrency, DisableCompression: true}
	c := &client{http: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		c.base = "http://docker"
	case "tcp":
		c.base = "http://" + u.Host
		if ep.TLS != nil {
			if tr.TLSClientConfig, err = tlsConfig(ep.TLS); err != nil {
				return nil, err
			}
			c.base = "https://" + u.Host
		}
	default:
		return nil, fmt.Errorf("unsupported endpoint %s", ep.Host)
	}
	return c, nil
}

func tlsConfig(f *TLSFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.SkipVerify}
	if pem, err := os.ReadFile(f.CA); err == nil {
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", f.CA)
		}
	} else if !f.SkipVerify {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	return tc, nil
}

// errNotFound is an inspect of a container removed since the list call.
var errNotFound = errors.New("no such container")

// get decodes the JSON answer to GET path into v. Anything but a 200 with
// a complete JSON body is an error.
func (c *client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // the URL is ours, not the user's
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/containers/") && path != "/containers/json" {
		return errNotFound
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var msg struct{ Message string }
		if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg.Message)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("garbled answer: %w", err)
	}
	return nil
}

// summary is the part of a list entry that is read.
type summary struct {
	ID     string `json:"Id"`
	Names  []string
	Labels map[string]string
	State  string
	Ports  []struct {
		IP          string
		PrivatePort uint16
		PublicPort  uint16
		Type        string
	}
}

// inspected is the part of an inspect answer that is read.
type inspected struct {
	HostConfig *struct {
		PortBindings map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

func (c *client) holders(ctx context.Context) ([]lease.Holder, error) {
	var cs []summary
	if err := c.get(ctx, "/containers/json?all=1", &cs); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var (
		out     []lease.Holder
		inspect []summary
	)
	for _, s := range cs {
		published := 0
		for _, p := range s.Ports {
			if p.PublicPort != 0 {
				out = append(out, holder(s, p.IP, fmt.Sprintf("%d->%d/%s", p.PublicPort, p.PrivatePort, p.Type)))
				published++
			}
		}
		// A container that is not running lists no published ports; its
		// configured bindings are only in an inspect.
		if published == 0 && s.State != "running" {
			inspect = append(inspect, s)
		}
	}
	inspectedHolders, err := c.inspectAll(ctx, inspect)
	if err != nil {
		return nil, err
	}
	return dedupe(append(out, inspectedHolders...)), nil
}

// inspectAll reads the configured port bindings of containers whose ports
// the list call does not show, a few at a time.
func (c *client) inspectAll(ctx context.Context, cs []summary) ([]lease.Holder, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      []lease.Holder
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, inspectConcurrency)
	)
	for _, s := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var info inspected
			err := c.get(ctx, "/containers/"+url.PathEscape(s.ID)+"/json", &info)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errNotFound):
				// Removed since the list call: it holds nothing now.
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("inspect %s: %w", name(s), err)
					cancel()
				}
			case info.HostConfig != nil:
				for port, bs := range info.HostConfig.PortBindings {
					for _, b := range bs {
						out = append(out, holder(s, b.HostIP, b.HostPort+"->"+port))
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func holder(s summary, ip, port string) lease.Holder {
	a, err := netip.ParseAddr(ip)
	if err != nil || ip == "" {
		a = netip.IPv4Unspecified() // "" binds every address, like 0.0.0.0
	}
	return lease.Holder{Alias: a.Unmap(), ID: s.ID, Name: name(s), Slug: s.Labels[lease.SlugLabel], State: s.State, Port: port}
}

func name(s summary) string {
	if len(s.Names) > 0 {
		return strings.TrimPrefix(s.Names[0], "/")
	}
	if len(s.ID) > 12 {
		return s.ID[:12]
	}
	return s.ID
}

// dedupe keeps one holder per container and address.
func dedupe(hs []lease.Holder) []lease.Holder {
	type key struct {
		id string
		a  netip.Addr
	}
	seen := make(map[key]bool, len(hs))
	out := hs[:0]
	for _, h := range hs {
		k := key{h.ID, h.Alias}
		if !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	return out
}

var _ lease.Inventory = (*Inventory)(nil)

// Engine describes the daemon an Inventory talks to.
type Engine struct {
	Endpoint   Endpoint
	Version    string // engine version, "20.10.24"
	APIVersion string // its current API version, "1.41"
}

// Engine resolves the endpoint and asks the daemon its version, under the
// same timeout as Holders.
func (inv *Inventory) Engine(ctx context.Context) (Engine, error) {
	ctx, ep, c, done, err := inv.connect(ctx)
	e := Engine{Endpoint: ep}
	if err != nil {
		return e, err
	}
	defer done()
	var v struct{ Version, APIVersion string }
	if err := c.get(ctx, "/version", &v); err != nil {
		return e, fmt.Errorf("docker at %s (%s): version: %w", ep.Host, ep.Source, err)
	}
	e.Version, e.APIVersion = v.Version, v.APIVersion
	return e, nil
}
