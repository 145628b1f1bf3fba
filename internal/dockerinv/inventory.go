// Package dockerinv gathers the holders of loopback aliases from a Docker
// engine: every container, in any state, that publishes a port, with the
// host IP of each binding. It is the only package that imports the Docker
// client; it takes no lease decisions.
package dockerinv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

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

// Holders lists all containers in one call, takes the host IPs of running
// ones from the listed ports, and inspects those whose ports are not
// listed (created, exited) for their configured bindings. Every call runs
// under one deadline; any failure fails the whole answer, since a partial
// inventory read as complete would let a live lease be reclaimed.
func (inv *Inventory) Holders(ctx context.Context) ([]lease.Holder, error) {
	ep, err := Resolve(inv.cfg.Host, inv.cfg.Getenv)
	if err != nil {
		return nil, err
	}
	if inv.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, inv.cfg.Timeout)
		defer cancel()
	}
	cli, err := newClient(ep)
	if err != nil {
		return nil, fmt.Errorf("docker at %s (%s): %w", ep.Host, ep.Source, err)
	}
	defer cli.Close()
	hs, err := holders(ctx, cli)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", inv.cfg.Timeout, err)
		}
		return nil, fmt.Errorf("docker at %s (%s): %w", ep.Host, ep.Source, err)
	}
	return hs, nil
}

func newClient(ep Endpoint) (*client.Client, error) {
	opts := []client.Opt{client.WithHost(ep.Host), client.WithAPIVersionNegotiation()}
	if ep.TLS != nil {
		tc, err := tlsConfig(ep.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: tc}}))
	}
	return client.NewClientWithOpts(opts...)
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

func holders(ctx context.Context, cli *client.Client) ([]lease.Holder, error) {
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var (
		out     []lease.Holder
		inspect []container.Summary
	)
	for _, c := range cs {
		if len(c.Ports) > 0 {
			for _, p := range c.Ports {
				if p.PublicPort != 0 {
					out = append(out, holder(c, p.IP, fmt.Sprintf("%d->%d/%s", p.PublicPort, p.PrivatePort, p.Type)))
				}
			}
		} else if c.State != container.StateRunning {
			inspect = append(inspect, c)
		}
	}
	inspected, err := inspectAll(ctx, cli, inspect)
	if err != nil {
		return nil, err
	}
	return dedupe(append(out, inspected...)), nil
}

// inspectAll reads the configured port bindings of containers whose ports
// the list call does not show, a few at a time.
func inspectAll(ctx context.Context, cli *client.Client, cs []container.Summary) ([]lease.Holder, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      []lease.Holder
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, inspectConcurrency)
	)
	for _, c := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			info, err := cli.ContainerInspect(ctx, c.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case cerrdefs.IsNotFound(err):
				// Removed since the list call: it holds nothing now.
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("inspect %s: %w", name(c), err)
					cancel()
				}
			case info.HostConfig != nil:
				for port, bs := range info.HostConfig.PortBindings {
					for _, b := range bs {
						out = append(out, holder(c, b.HostIP, b.HostPort+"->"+string(port)))
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func holder(c container.Summary, ip, port string) lease.Holder {
	a, err := netip.ParseAddr(ip)
	if err != nil || ip == "" {
		a = netip.IPv4Unspecified() // "" binds every address, like 0.0.0.0
	}
	return lease.Holder{Alias: a.Unmap(), ID: c.ID, Name: name(c), Slug: c.Labels[lease.SlugLabel], State: string(c.State), Port: port}
}

func name(c container.Summary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
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
