package dockerinv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Config configures an Inventory.
type Config struct {
	// Host is the --docker-host flag; "" resolves as the docker CLI
	// does (see Resolve).
	Host string
	// Timeout bounds all the calls of one Holders or Engine; 0 means no
	// bound beyond the caller's context.
	Timeout time.Duration
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Inventory reads holders from Docker. It implements lease.Inventory.
// Each Holders or Engine resolves the endpoint afresh and uses a client
// of its own, so an Inventory is safe for concurrent use.
type Inventory struct {
	cfg Config
	// Answer bounds (ListLimit, AnswerLimit); tests lower them.
	listLimit, answerLimit int64

	resolve  sync.Once // the endpoint is resolved once, when first needed
	endpoint Endpoint
	epErr    error
}

// New returns an Inventory; it neither resolves nor contacts the daemon
// until Holders or Engine is called.
func New(cfg Config) *Inventory {
	return &Inventory{cfg: cfg, listLimit: ListLimit, answerLimit: AnswerLimit}
}

var (
	_ lease.Inventory       = (*Inventory)(nil)
	_ lease.EndpointChecker = (*Inventory)(nil)
)

// Endpoint resolves the daemon's endpoint (once; later calls return the
// same answer) without contacting it. Its error wraps lease.ErrEndpoint.
func (inv *Inventory) Endpoint() (Endpoint, error) {
	inv.resolve.Do(func() { inv.endpoint, inv.epErr = Resolve(inv.cfg.Host, inv.cfg.Getenv) })
	return inv.endpoint, inv.epErr
}

// CheckEndpoint reports an endpoint that cannot be used as written,
// without contacting the daemon: acquire checks it before it creates
// anything, since bad input must change nothing on disk.
func (inv *Inventory) CheckEndpoint() error {
	_, err := inv.Endpoint()
	return err
}

// inspectConcurrency bounds the inspect calls in flight at once.
const inspectConcurrency = 8

// engineAPI is what the inventory asks of the engine. client.go
// implements it with the Docker client library.
type engineAPI interface {
	// list lists all containers, in any state.
	list(ctx context.Context) ([]summary, error)
	// inspect returns a container's configured port bindings by
	// container port ("80/tcp"), or errGone.
	inspect(ctx context.Context, id string) (map[string][]binding, error)
	// version asks the engine its version.
	version(ctx context.Context) (engineVersion, error)
	// close releases the connections.
	close()
}

// summary is the part of a list entry that is read.
type summary struct {
	ID     string `json:"Id"`
	Names  []string
	Labels map[string]string
	State  string
	Ports  []listedPort
}

// listedPort is a port as the list call shows it.
type listedPort struct {
	IP          string
	PrivatePort uint16
	PublicPort  uint16
	Type        string
}

// binding is a configured port binding, as inspect shows it.
type binding struct {
	HostIP, HostPort string
}

// engineVersion is the answer to a version call.
type engineVersion struct {
	Version, APIVersion string // the engine's
	Spoken              string // the API version negotiated
}

// errGone is an inspect of a container removed since the list call.
var errGone = errors.New("no such container")

// answerErr marks a body that could not be decoded as a garbled answer.
func answerErr(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("garbled answer: %w", err)
	}
	return err
}

// call is one Holders or Engine: an endpoint, a client, one deadline.
type call struct {
	ep      Endpoint
	timeout time.Duration
	outer   context.Context // the caller's
	ctx     context.Context // outer, bounded by timeout
	cancel  context.CancelFunc
	tr      *transport
	api     engineAPI
}

// begin resolves the endpoint and makes a client whose calls share one
// deadline, the configured timeout. The endpoint is returned even on
// error, as far as it was resolved.
func (inv *Inventory) begin(ctx context.Context) (*call, Endpoint, error) {
	ep, err := inv.Endpoint()
	if err != nil {
		return nil, ep, err
	}
	var tc *tls.Config
	if ep.TLS != nil {
		if tc, err = ep.TLS.config(); err != nil {
			return nil, ep, endpointErr(ep, "%v", err)
		}
	}
	tr, err := newTransport(ep, tc)
	if err != nil {
		return nil, ep, endpointErr(ep, "%v", err)
	}
	tr.listLimit, tr.answerLimit = inv.listLimit, inv.answerLimit
	api, err := newEngineAPI(ep, tr, tc != nil)
	if err != nil {
		return nil, ep, endpointErr(ep, "%v", err)
	}
	c := &call{ep: ep, timeout: inv.cfg.Timeout, outer: ctx, ctx: ctx, cancel: func() {}, tr: tr, api: api}
	if c.timeout > 0 {
		c.ctx, c.cancel = context.WithTimeout(ctx, c.timeout)
	}
	return c, ep, nil
}

func (c *call) end() {
	c.cancel()
	c.api.close()
}

// fail classifies the failure err of the call.
func (c *call) fail(err error) error {
	return classify(c.ep, c.timeout, c.outer, c.ctx, c.tr.state(), err)
}

// classify maps a failed call to the error Holders and Engine return,
// checked in this order:
//
//   - the caller's context ended (a signal): its error, not
//     lease.ErrInventory, whatever the call saw;
//   - the timeout's deadline passed: lease.ErrInventory and
//     context.DeadlineExceeded, "no answer within TIMEOUT";
//   - no connection was made and a dial failed: lease.ErrNoEngine when
//     the dial found nothing there (no socket file: ENOENT; nothing
//     listening: ECONNREFUSED), else lease.ErrInventory with the dial's
//     error (permission denied: errors.Is(err, fs.ErrPermission));
//   - anything else (HTTP errors, garbled or oversized answers, TLS
//     failures, redirects, unusable bindings): lease.ErrInventory.
//
// bounded is outer with the timeout; st is what the transport saw.
func classify(ep Endpoint, timeout time.Duration, outer, bounded context.Context, st dialState, err error) error {
	where := fmt.Sprintf("docker at %s (%s)", ep.Host, ep.Source)
	if e := outer.Err(); e != nil {
		return fmt.Errorf("%s: %w", where, e)
	}
	if errors.Is(bounded.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: no answer within %s: %w", lease.ErrInventory, where, timeout, context.DeadlineExceeded)
	}
	if !st.connected && st.dialErr != nil {
		if nothingThere(st.dialErr) {
			return fmt.Errorf("%w: %s: %w", lease.ErrNoEngine, where, st.dialErr)
		}
		return fmt.Errorf("%w: %s: %w", lease.ErrInventory, where, st.dialErr)
	}
	return fmt.Errorf("%w: %s: %w", lease.ErrInventory, where, err)
}

// nothingThere says whether a dial error means that no engine is there
// at all: the socket file does not exist, or nothing listens.
func nothingThere(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// Holders lists all containers in one call and returns one Holder per
// container, host address and published port. Containers whose ports
// the list shows (running, paused, restarting) are read from it. Those
// that list no published port and are not running (created, exited)
// have their bindings only in an inspect; before inspecting, the slugs
// of their SlugLabel labels are passed to leased, once (when leased is
// not nil), and a container whose slug holds a lease is returned as one
// Holder without an Alias, attributed by its label. The others are
// inspected concurrently, a few at a time; one removed since the list
// holds nothing.
//
// Every call runs under one deadline, Config.Timeout; any failure fails
// the whole answer, since a partial inventory read as complete would let
// a live lease be reclaimed. The error wraps:
//
//   - lease.ErrEndpoint when the endpoint cannot be used as written (see
//     Resolve), TLS files included;
//   - ctx.Err(), and not lease.ErrInventory, when ctx ended: an
//     interruption is never a Docker failure;
//   - lease.ErrInventory and context.DeadlineExceeded when the timeout
//     passed ("no answer within 5s");
//   - lease.ErrNoEngine (which wraps lease.ErrInventory) only when
//     nothing is there: no connection could be made because the socket
//     file does not exist (ENOENT) or nothing listens (ECONNREFUSED);
//   - lease.ErrInventory for any other failure: permission denied on
//     the socket (errors.Is(err, fs.ErrPermission) holds), HTTP errors,
//     garbled or oversized answers, TLS failures, redirects, a binding
//     whose host IP is not an IP address, and an error of leased (which
//     stays reachable through errors.Is).
//
// Messages are one line and name the endpoint and its source, "docker at
// HOST (SOURCE)"; text from the daemon is not escaped.
func (inv *Inventory) Holders(ctx context.Context, leased func(slugs []string) (map[string]bool, error)) ([]lease.Holder, error) {
	c, _, err := inv.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end()
	hs, err := c.holders(leased)
	if err != nil {
		return nil, c.fail(err)
	}
	return hs, nil
}

func (c *call) holders(leased func([]string) (map[string]bool, error)) ([]lease.Holder, error) {
	cs, err := c.api.list(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var (
		out  []lease.Holder
		rest []summary // not running, no published port listed
	)
	for _, s := range cs {
		published := 0
		for _, p := range s.Ports {
			if p.PublicPort == 0 {
				continue // exposed, not published
			}
			h, err := holder(s, p.IP, fmt.Sprintf("%d->%d/%s", p.PublicPort, p.PrivatePort, p.Type))
			if err != nil {
				return nil, fmt.Errorf("list containers: container %s: %w", name(s), err)
			}
			out = append(out, h)
			published++
		}
		if published == 0 && s.State != "running" {
			rest = append(rest, s)
		}
	}
	attributed, inspect, err := attribute(rest, leased)
	if err != nil {
		return nil, err
	}
	if err := c.outer.Err(); err != nil {
		return nil, err // interrupted while leased ran
	}
	inspected, err := c.inspectAll(inspect)
	if err != nil {
		return nil, err
	}
	out = append(out, attributed...)
	return dedupe(append(out, inspected...)), nil
}

// attribute splits the containers whose bindings the list does not show
// into those attributed by their label to a slug that holds a lease, and
// those to inspect.
func attribute(cs []summary, leased func([]string) (map[string]bool, error)) ([]lease.Holder, []summary, error) {
	if leased == nil {
		return nil, cs, nil
	}
	var slugs []string
	for _, s := range cs {
		if slug := s.Labels[lease.SlugLabel]; slug != "" {
			slugs = append(slugs, slug)
		}
	}
	if len(slugs) == 0 {
		return nil, cs, nil
	}
	slices.Sort(slugs)
	held, err := leased(slices.Compact(slugs))
	if err != nil {
		return nil, nil, fmt.Errorf("leased slugs: %w", err)
	}
	var (
		attributed []lease.Holder
		inspect    []summary
	)
	for _, s := range cs {
		if slug := s.Labels[lease.SlugLabel]; slug != "" && held[slug] {
			attributed = append(attributed, lease.Holder{ID: s.ID, Name: name(s), Slug: slug, State: s.State})
		} else {
			inspect = append(inspect, s)
		}
	}
	return attributed, inspect, nil
}

// inspectAll reads the configured port bindings of cs, at most
// inspectConcurrency at a time; the first failure cancels the rest.
func (c *call) inspectAll(cs []summary) ([]lease.Holder, error) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	var (
		results  = make([][]lease.Holder, len(cs))
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, inspectConcurrency)
	)
loop:
	for i, s := range cs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			hs, err := c.inspect(ctx, s)
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			results[i] = hs
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

func (c *call) inspect(ctx context.Context, s summary) ([]lease.Holder, error) {
	if !validID(s.ID) {
		return nil, fmt.Errorf("list containers: unusable container ID %s", quote(s.ID))
	}
	bindings, err := c.api.inspect(ctx, s.ID)
	if errors.Is(err, errGone) {
		return nil, nil // removed since the list call: it holds nothing now
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", name(s), err)
	}
	ports := make([]string, 0, len(bindings))
	for p := range bindings {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	var out []lease.Holder
	for _, p := range ports {
		for _, b := range bindings[p] {
			h, err := holder(s, b.HostIP, b.HostPort+"->"+p)
			if err != nil {
				return nil, fmt.Errorf("inspect %s: %w", name(s), err)
			}
			out = append(out, h)
		}
	}
	return out, nil
}

// validID says whether id can name a container in a request path.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// holder is the Holder of one binding of s on host IP ip. An empty ip
// binds every address, like 0.0.0.0; any other must be an IP address,
// since a binding read as something it is not could hide a holder.
func holder(s summary, ip, port string) (lease.Holder, error) {
	a := netip.IPv4Unspecified()
	if ip != "" {
		var err error
		if a, err = netip.ParseAddr(ip); err != nil {
			return lease.Holder{}, fmt.Errorf("binding %s: host IP %s is not an IP address", quote(port), quote(ip))
		}
	}
	return lease.Holder{Alias: a.Unmap(), ID: s.ID, Name: name(s), Slug: s.Labels[lease.SlugLabel], State: s.State, Port: port}, nil
}

// name is a container's name without the leading slash, else its short
// ID.
func name(s summary) string {
	if len(s.Names) > 0 {
		return strings.TrimPrefix(s.Names[0], "/")
	}
	if len(s.ID) > 12 {
		return s.ID[:12]
	}
	return s.ID
}

// dedupe drops repeated holders: one per container, address and port.
func dedupe(hs []lease.Holder) []lease.Holder {
	type key struct {
		id, port string
		a        netip.Addr
	}
	seen := make(map[key]bool, len(hs))
	out := hs[:0]
	for _, h := range hs {
		k := key{h.ID, h.Port, h.Alias}
		if !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	return out
}

// Engine describes the daemon an Inventory talks to.
type Engine struct {
	// Endpoint is where the daemon was looked for, and why.
	Endpoint Endpoint
	// Version is the engine's version, "20.10.24".
	Version string
	// APIVersion is the engine's current API version, "1.41".
	APIVersion string
	// ClientAPIVersion is the API version negotiated and spoken: the
	// lower of the engine's and the client library's.
	ClientAPIVersion string
}

// Engine resolves the endpoint and asks the daemon its version, under the
// same timeout and with the same error classes as Holders. The returned
// Engine holds the endpoint whenever it was resolved, even on error.
func (inv *Inventory) Engine(ctx context.Context) (Engine, error) {
	c, ep, err := inv.begin(ctx)
	e := Engine{Endpoint: ep}
	if err != nil {
		return e, err
	}
	defer c.end()
	v, err := c.api.version(c.ctx)
	if err != nil {
		return e, c.fail(fmt.Errorf("version: %w", err))
	}
	e.Version, e.APIVersion, e.ClientAPIVersion = v.Version, v.APIVersion, v.Spoken
	return e, nil
}

var _ lease.Describer = (*Inventory)(nil)

// Describe is Engine in the shape of lease.Describer, for health
// reports: Host and Source are set whenever the endpoint was resolved,
// and APIVersion is the version spoken, the negotiated one.
func (inv *Inventory) Describe(ctx context.Context) (lease.EngineInfo, error) {
	e, err := inv.Engine(ctx)
	return lease.EngineInfo{Host: e.Endpoint.Host, Source: e.Endpoint.Source, Version: e.Version, APIVersion: e.ClientAPIVersion}, err
}
