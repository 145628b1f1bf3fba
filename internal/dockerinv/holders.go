package dockerinv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// inspectConcurrency bounds the inspect calls in flight at once that
// have not yet outlasted inspectPatience.
const inspectConcurrency = 8

// An inspect of a container the engine is starting waits for the start
// to finish (the engine holds the container's lock; over 5 s seen in
// bursts of launches). One that has not answered within inspectPatience
// gives up its place among the inspectConcurrency, so that it never
// holds up the others, and its container is listed again every
// relistEvery: the list call takes no container lock, and a container
// that has started lists its ports there.
const (
	inspectPatience = 100 * time.Millisecond
	relistEvery     = 100 * time.Millisecond
)

func (c *call) holders() ([]lease.Holder, error) {
	cs, err := c.api.list(c.ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var (
		out  []lease.Holder
		rest []summary // no published port listed
	)
	for _, s := range cs {
		hs, err := c.listed(s)
		if err != nil {
			return nil, err
		}
		if len(hs) == 0 {
			rest = append(rest, s)
		}
		out = append(out, hs...)
	}
	configured, err := c.configured(rest)
	if err != nil {
		return nil, err
	}
	return dedupe(append(out, configured...)), nil
}

// listed returns the holders of the ports s's list entry publishes.
func (c *call) listed(s summary) ([]lease.Holder, error) {
	var out []lease.Holder
	for _, p := range s.Ports {
		if p.PublicPort == 0 {
			continue // exposed, not published
		}
		h, err := c.holder(s, s.Network, p.IP, fmt.Sprintf("%d->%d/%s", p.PublicPort, p.PrivatePort, p.Type))
		if err != nil {
			return nil, fmt.Errorf("list containers: container %s: %w", name(s), err)
		}
		out = append(out, h)
	}
	return out, nil
}

// answer is what one inspect of configured gave.
type answer struct {
	i   int
	hs  []lease.Holder
	err error
}

// configured reads the configured bindings of cs by inspecting each,
// inspectConcurrency at a time. An inspect slower than inspectPatience
// frees its place and its container is listed again every relistEvery
// while it waits: once the list shows the container's published ports,
// or no longer shows the container, that answer is taken and the inspect
// abandoned. The first failure fails all.
func (c *call) configured(cs []summary) ([]lease.Holder, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	for _, s := range cs {
		if !validID(s.ID) {
			return nil, fmt.Errorf("list containers: unusable container ID %s", quote(s.ID))
		}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	answers, slow := make(chan answer, len(cs)), make(chan int, len(cs))
	stops := make([]context.CancelFunc, len(cs))
	ctxs := make([]context.Context, len(cs))
	for i := range cs {
		ctxs[i], stops[i] = context.WithCancel(ctx)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.launch(ctx, &wg, cs, ctxs, answers, slow)
	}()
	return c.collect(ctx, cs, stops, answers, slow)
}

// launch starts the inspects of cs, each under its own context, holding
// a place among inspectConcurrency until it answers or outlasts
// inspectPatience (then it sends its index on slow).
func (c *call) launch(ctx context.Context, wg *sync.WaitGroup, cs []summary, ctxs []context.Context, answers chan<- answer, slow chan<- int) {
	sem := make(chan struct{}, inspectConcurrency)
	for i, s := range cs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			free := func() { once.Do(func() { <-sem }) }
			t := time.AfterFunc(inspectPatience, func() { free(); slow <- i })
			hs, err := c.inspect(ctxs[i], s)
			t.Stop()
			free()
			answers <- answer{i, hs, err}
		}()
	}
}

// collect gathers the answers of configured, listing the slow containers
// again while any is waited for.
func (c *call) collect(ctx context.Context, cs []summary, stops []context.CancelFunc, answers <-chan answer, slow <-chan int) ([]lease.Holder, error) {
	var (
		results = make([][]lease.Holder, len(cs))
		done    = make([]bool, len(cs))
		left    = len(cs)
		waiting = map[string]int{} // ID -> index, of slow inspects
		tick    = time.NewTicker(relistEvery)
	)
	defer tick.Stop()
	settle := func(i int, hs []lease.Holder) {
		results[i], done[i] = hs, true
		left--
		delete(waiting, cs[i].ID)
		stops[i]()
	}
	for left > 0 {
		select {
		case a := <-answers:
			if done[a.i] {
				continue // settled by a list; its inspect was abandoned
			}
			if a.err != nil {
				return nil, a.err
			}
			settle(a.i, a.hs)
		case i := <-slow:
			if !done[i] {
				waiting[cs[i].ID] = i
			}
		case <-tick.C:
			if len(waiting) == 0 {
				continue
			}
			if err := c.relist(ctx, cs, waiting, settle); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return slices.Concat(results...), nil
}

// relist lists the waiting containers again and settles those that now
// list published ports, or are gone.
func (c *call) relist(ctx context.Context, cs []summary, waiting map[string]int, settle func(int, []lease.Holder)) error {
	ids := make([]string, 0, len(waiting))
	for id := range waiting {
		ids = append(ids, id)
	}
	now, err := c.api.list(ctx, ids)
	if err != nil {
		return fmt.Errorf("list containers again: %w", err)
	}
	seen := map[string]bool{}
	for _, s := range now {
		i, ok := waiting[s.ID]
		if !ok {
			continue // the id filter matches by prefix; not one asked about
		}
		seen[s.ID] = true
		hs, err := c.listed(s)
		if err != nil {
			return err
		}
		if len(hs) > 0 {
			settle(i, hs)
		}
	}
	for _, id := range ids {
		if !seen[id] {
			settle(waiting[id], nil) // removed: it holds nothing now
		}
	}
	return nil
}

// inspect returns the holders of s's configured bindings.
func (c *call) inspect(ctx context.Context, s summary) ([]lease.Holder, error) {
	cfg, err := c.api.inspect(ctx, s.ID)
	if errors.Is(err, errGone) {
		return nil, nil // removed since the list call: it holds nothing now
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", name(s), err)
	}
	ports := make([]string, 0, len(cfg.Bindings))
	for p := range cfg.Bindings {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	var out []lease.Holder
	for _, p := range ports {
		for _, b := range cfg.Bindings[p] {
			h, err := c.holder(s, cfg.Network, b.HostIP, b.HostPort+"->"+p)
			if err != nil {
				return nil, fmt.Errorf("inspect %s: %w", name(s), err)
			}
			out = append(out, h)
		}
	}
	return out, nil
}

// holder is the Holder of one binding of s, with host IP ip, of a
// container on network mode mode.
func (c *call) holder(s summary, mode, ip, port string) (lease.Holder, error) {
	def := ""
	if ip == "" {
		var err error
		if def, err = c.nets.option(c.ctx, c.api, mode); err != nil {
			return lease.Holder{}, err
		}
	}
	a, err := hostAddr(ip, def)
	if err != nil {
		return lease.Holder{}, fmt.Errorf("binding %s: %w", quote(port), err)
	}
	return lease.Holder{Alias: a, ID: s.ID, Name: name(s), Slug: s.Labels[lease.SlugLabel], Owner: s.Labels[lease.OwnerLabel], State: s.State, Port: port}, nil
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
