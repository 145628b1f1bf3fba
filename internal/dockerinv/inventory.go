package dockerinv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// engineAPI is what the inventory asks of the engine. client.go
// implements it with the Docker client library.
type engineAPI interface {
	// list lists the containers, in any state: all of them, or those
	// of ids when ids is not empty.
	list(ctx context.Context, ids []string) ([]summary, error)
	// inspect returns a container's configuration, or errGone; an
	// answer without a HostConfig is errNoHostConfig.
	inspect(ctx context.Context, id string) (config, error)
	// network returns the HostBindingOption of a network ("" when it
	// is not set), or errGone.
	network(ctx context.Context, name string) (string, error)
	// version asks the engine its version.
	version(ctx context.Context) (engineVersion, error)
	// close releases the connections.
	close()
}

// summary is the part of a list entry that is read.
type summary struct {
	ID      string `json:"Id"`
	Names   []string
	Labels  map[string]string
	State   string
	Ports   []listedPort
	Network string // HostConfig.NetworkMode
}

// listedPort is a port as the list call shows it.
type listedPort struct {
	IP          string
	PrivatePort uint16
	PublicPort  uint16
	Type        string
}

// config is the part of an inspect answer that is read.
type config struct {
	Network  string               // HostConfig.NetworkMode
	Bindings map[string][]binding // HostConfig.PortBindings, by container port ("80/tcp")
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

var (
	// errGone is an inspect of a container removed since the list
	// call, or of a network that does not exist.
	errGone = errors.New("no such container or network")
	// errNoHostConfig is an inspect answer without the configuration
	// that holds the bindings: garbled, never "no bindings".
	errNoHostConfig = errors.New("garbled answer: no HostConfig")
)

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
	nets    netCache
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
		if tc, err = ep.TLS.config(); errors.Is(err, lease.ErrUnsafePath) {
			return nil, ep, fmt.Errorf("docker at %s (%s): %w", ep.Host, ep.Source, err)
		} else if err != nil {
			return nil, ep, about(ep.tlsCause(), endpointErr(ep, "%v", err))
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
	return classifyErr(c.ep, c.timeout, c.outer, c.ctx, c.tr.state(), err)
}

// classifyErr maps a failed call to the error Holders and Engine return,
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
func classifyErr(ep Endpoint, timeout time.Duration, outer, bounded context.Context, st dialState, err error) error {
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
// container, host address and published port, every address read from
// the container's own bindings (never from its label, and never from
// the leases: Holders asks the database nothing). Containers whose list
// entry shows published ports (running, paused, restarting) are read
// from it. The others, in any state, have their configured bindings
// (HostConfig.PortBindings) read by an inspect: created and exited
// containers list no ports, and a running container disconnected from
// its network lists none while it binds them again on reconnect. A
// binding with an empty host IP names the address the container's
// network publishes on (its HostBindingOption, read once per network),
// else all addresses. The inspects run concurrently, a few at a time; an
// inspect that blocks (the engine holds a container it is starting)
// gives up its place and is raced by listing that container again until
// it runs and lists its ports (see configured). A container removed
// since the list holds nothing.
//
// Every call runs under one deadline, Config.Timeout; any failure fails
// the whole answer, since a partial inventory read as complete would let
// a live lease be reclaimed. The error wraps:
//
//   - lease.ErrEndpoint when the endpoint cannot be used as written (see
//     Resolve), TLS files included (then ErrTLSEnv or ErrContextTLS
//     too); lease.ErrUnsafePath when a file it
//     names is refused (see readFile);
//   - ctx.Err(), and not lease.ErrInventory, when ctx ended: an
//     interruption is never a Docker failure;
//   - lease.ErrInventory and context.DeadlineExceeded when the timeout
//     passed ("no answer within 5s");
//   - lease.ErrNoEngine (which wraps lease.ErrInventory) only when
//     nothing is there: no connection could be made because the socket
//     file does not exist (ENOENT) or nothing listens (ECONNREFUSED);
//   - lease.ErrInventory for any other failure: permission denied on
//     the socket (errors.Is(err, fs.ErrPermission) holds), HTTP errors,
//     garbled or oversized answers (an inspect without a HostConfig
//     included), TLS failures, redirects, and a binding or network
//     option whose host IP is not an IP address.
//
// Messages are one line and name the endpoint and its source, "docker at
// HOST (SOURCE)"; text from the daemon is not escaped.
func (inv *Inventory) Holders(ctx context.Context) ([]lease.Holder, error) {
	c, _, err := inv.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end()
	hs, err := c.holders()
	if err != nil {
		return nil, c.fail(err)
	}
	return hs, nil
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
