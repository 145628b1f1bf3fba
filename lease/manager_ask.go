package lease

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Inventory gathers the holders of addresses: the containers that publish
// ports on them. The Docker adapter implements it.
type Inventory interface {
	// Holders returns every container publishing a port, in any state,
	// each with the addresses its own bindings name. It never consults
	// the leases: no lease can change under an answer, and no wait for
	// the database hides inside the inventory's deadline.
	// An error means the answer is incomplete and must not be used.
	//
	// Errors: one wrapping ErrNoEngine when nothing is there (no socket,
	// connection refused); one wrapping ErrEndpoint when the endpoint
	// cannot be used as written; one wrapping ctx.Err() and not
	// ErrInventory when ctx itself ended (an interruption is never a
	// Docker failure); any other wraps ErrInventory.
	Holders(ctx context.Context) ([]Holder, error)
}

// EndpointChecker is an Inventory that can tell, without asking, that
// it cannot be asked as configured (an ErrEndpoint). Acquire checks it
// before creating anything; the Docker adapter is one.
type EndpointChecker interface {
	CheckEndpoint() error
}

// Listeners reads the host's sockets bound on addresses: each is a
// holder of its address whatever the Docker mode (a VMM's port forward,
// a dev server, the proxy of a container whose engine is down). The
// listener adapter (internal/listeners) implements it.
type Listeners interface {
	// Bound returns a holder (of kind HolderListener) for each socket
	// bound on an address within the prefixes, a TCP socket listening or
	// a UDP socket bound, none of this process's own. An error means the
	// answer is incomplete and must not be used.
	Bound(ctx context.Context, within []netip.Prefix) ([]Holder, error)
}

// OwnerNamer is Listeners that can name the process of each listener
// holder, in its Name, for the commands that show holders (list, doctor:
// Manager.NameOwners); it may cost a walk of every process, so it is
// asked only about the listeners kept as holders of their own.
type OwnerNamer interface {
	NameOwners(hs []Holder)
}

// usesInventory says whether the inventory is asked at all.
func (m *Manager) usesInventory() bool { return m.Inventory != nil && m.Mode != InventoryOff }

// fallback says how take treats an inventory that did not answer.
type fallback int

const (
	mustAnswer    fallback = iota // any failure is an error
	ifNoEngine                    // under auto, ErrNoEngine alone falls back, with a warning
	ifUnavailable                 // under auto, any Docker failure falls back (reports only)
)

// answer is what one question to the holder sources gave.
type answer struct {
	// snap is never nil. Its Containers say what the inventory gave.
	snap *Snapshot
	// fellBack is the inventory's failure that the mode let fall back
	// on (nothing there, or any failure for reports), for the caller to
	// warn about once it uses the answer; nil when it answered or was
	// off.
	fellBack error
}

// take asks the holder sources, the inventory (unless off) and the
// listeners, before any lock is taken. A failure of the inventory that
// fb lets fall back on is the answer's fellBack; an interruption (ctx
// ended), an unusable endpoint or an unsafe Docker configuration, and
// the listeners' failure are errors in every mode.
//
// The listeners are read beside the inventory's question, which waits
// for the engine most of its time: the two overlap instead of adding up.
// What this process itself has bound meanwhile is not a holder either
// way (internal/listeners leaves out its own sockets); the Docker client
// binds none on a pool alias.
func (m *Manager) take(ctx context.Context, fb fallback) (answer, error) {
	at := readClocks(m.now())
	snap := &Snapshot{TakenAt: at.wall, at: at, Containers: NotAsked}
	bound := m.boundBeside(ctx)
	a, err := m.askInventory(ctx, fb, snap)
	ls, lerr := bound()
	if err != nil {
		return answer{}, err
	}
	if err := m.addListeners(ctx, snap, ls, lerr); err != nil {
		return answer{}, err
	}
	a.snap = snap
	return a, nil
}

// askInventory asks the inventory, unless it is off, into snap's
// holders (see take).
func (m *Manager) askInventory(ctx context.Context, fb fallback, snap *Snapshot) (answer, error) {
	var a answer
	if !m.usesInventory() {
		return a, nil
	}
	hs, err := m.Inventory.Holders(ctx)
	switch {
	case err == nil:
		snap.Holders, snap.Containers = hs, Listed
	case ctx.Err() != nil:
		return a, fmt.Errorf("asking docker: %w", ctx.Err())
	case errors.Is(err, ErrEndpoint), errors.Is(err, ErrUnsafePath):
		return a, err
	default:
		if !errors.Is(err, ErrInventory) {
			err = fmt.Errorf("%w: %w", ErrInventory, err)
		}
		noEngine := errors.Is(err, ErrNoEngine)
		if m.Mode != InventoryAuto || !(fb == ifNoEngine && noEngine || fb == ifUnavailable) {
			return a, err
		}
		a.fellBack = err
		if noEngine {
			snap.Containers = NoEngine
		}
	}
	return a, nil
}

// boundBeside begins to read the host's listeners and returns the wait
// for them: in a goroutine of its own when the inventory is asked
// meanwhile, else when the wait is called. The wait is always called, so
// that the goroutine has ended when take returns.
func (m *Manager) boundBeside(ctx context.Context) func() ([]Holder, error) {
	if m.Listeners == nil {
		return func() ([]Holder, error) { return nil, nil }
	}
	read := func() ([]Holder, error) { return m.Listeners.Bound(ctx, loopbackAliases) }
	if !m.usesInventory() {
		return read
	}
	type bound struct {
		hs  []Holder
		err error
	}
	done := make(chan bound, 1)
	go func() {
		hs, err := read()
		done <- bound{hs, err}
	}()
	return func() ([]Holder, error) {
		b := <-done
		return b.hs, b.err
	}
}

// takeAll is take with no fallback: every container's bindings are read
// (recover rebuilds the database, so it may be damaged).
func (m *Manager) takeAll(ctx context.Context) (*Snapshot, error) {
	a, err := m.take(ctx, mustAnswer)
	return a.snap, err
}

// loopbackAliases is where the listeners are read: every alias a lease
// or a pool can name (one condition for the kernel's filter).
var loopbackAliases = []netip.Prefix{loopback}

// addListeners adds the host's listeners ls (read with error err) to
// snap, except those that are a container's published bindings (which
// are that container: the proxy of a running one).
func (m *Manager) addListeners(ctx context.Context, snap *Snapshot, ls []Holder, err error) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("reading the host's listeners: %w", ctx.Err())
	case err != nil:
		return fmt.Errorf("%w: %w", ErrListeners, err)
	}
	published := map[string]bool{}
	for _, h := range snap.Holders {
		if h.Kind == HolderContainer {
			published[bindingKey(h.Alias, h.Port)] = true
		}
	}
	kept := len(snap.Holders)
	for _, l := range ls {
		if !published[bindingKey(l.Alias, l.Port)] {
			snap.Holders = append(snap.Holders, l)
		}
	}
	if n, ok := m.Listeners.(OwnerNamer); ok && m.NameOwners {
		// Only those on pool aliases are shown (a lease outside the pool
		// shows its listeners unnamed): the walk of every process is not
		// paid for sockets no report names.
		var at []int
		var inPool []Holder
		for i := kept; i < len(snap.Holders); i++ {
			if m.Pool.Contains(snap.Holders[i].Alias) {
				at, inPool = append(at, i), append(inPool, snap.Holders[i])
			}
		}
		if len(inPool) > 0 {
			n.NameOwners(inPool)
			for j, i := range at {
				snap.Holders[i].Name = inPool[j].Name
			}
		}
	}
	return nil
}

// bindingKey names a published port as "ALIAS HOSTPORT/PROTO", from a
// container's "HOSTPORT->PORT/PROTO" or a listener's "PORT/PROTO".
func bindingKey(a netip.Addr, port string) string {
	host, rest, mapped := strings.Cut(port, "->")
	if !mapped {
		return a.String() + " " + port
	}
	_, proto, _ := strings.Cut(rest, "/")
	if proto == "" {
		proto = "tcp"
	}
	return a.String() + " " + host + "/" + proto
}
