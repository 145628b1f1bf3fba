package dockerinv

// This is the one file that imports the Docker client library. It turns
// the library's types and errors into the package's own (summary,
// config, errGone), so that moving to another client module, such as
// github.com/moby/moby/client, changes this file alone.

import (
	"context"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// dockerAPI is the engine as the Docker client library speaks to it.
type dockerAPI struct {
	cli *client.Client
	tr  *transport
}

// newEngineAPI returns a client for ep that sends its requests through
// tr, with API version negotiation: the first call pings the engine and
// speaks the lower of its API version and the library's, under /vX.Y/
// paths. useTLS says whether tr speaks TLS.
func newEngineAPI(ep Endpoint, tr *transport, useTLS bool) (engineAPI, error) {
	opts := []client.Opt{
		// WithHost before WithHTTPClient: it configures the transport
		// it finds, the library's default, which is then replaced.
		client.WithHost(ep.Host),
		client.WithHTTPClient(tr.httpClient()),
		client.WithAPIVersionNegotiation(),
		client.WithUserAgent("aliaslease"),
	}
	if useTLS {
		// The library infers https only from a bare *http.Transport.
		opts = append(opts, client.WithScheme("https"))
	} else {
		opts = append(opts, client.WithScheme("http"))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, err
	}
	return &dockerAPI{cli: cli, tr: tr}, nil
}

// fix gives a failure below HTTP the transport's own message and cause.
func (a *dockerAPI) fix(err error) error {
	if err != nil && client.IsErrConnectionFailed(err) {
		return connectionFailed(err, a.tr.state().rtErr)
	}
	return err
}

func (a *dockerAPI) list(ctx context.Context, ids []string) ([]summary, error) {
	opts := container.ListOptions{All: true}
	if len(ids) > 0 {
		opts.Filters = filters.NewArgs()
		for _, id := range ids {
			opts.Filters.Add("id", id)
		}
	}
	cs, err := a.cli.ContainerList(ctx, opts)
	if err != nil {
		return nil, answerErr(a.fix(err))
	}
	out := make([]summary, len(cs))
	for i, c := range cs {
		s := summary{ID: c.ID, Names: c.Names, Labels: c.Labels, State: string(c.State), Network: c.HostConfig.NetworkMode}
		for _, p := range c.Ports {
			s.Ports = append(s.Ports, listedPort{IP: p.IP, PrivatePort: p.PrivatePort, PublicPort: p.PublicPort, Type: p.Type})
		}
		out[i] = s
	}
	return out, nil
}

// gone says whether err is the engine's own "no such container": a 404
// from anything else (a proxy, a missing route) is a failure.
func gone(err error, what string) bool {
	return cerrdefs.IsNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "no such "+what)
}

func (a *dockerAPI) inspect(ctx context.Context, id string) (config, error) {
	info, err := a.cli.ContainerInspect(ctx, id)
	if err != nil {
		if gone(err, "container") {
			return config{}, errGone
		}
		return config{}, answerErr(a.fix(err))
	}
	if info.ContainerJSONBase == nil || info.HostConfig == nil {
		return config{}, errNoHostConfig
	}
	out := config{Network: string(info.HostConfig.NetworkMode), Bindings: make(map[string][]binding, len(info.HostConfig.PortBindings))}
	for port, bs := range info.HostConfig.PortBindings {
		for _, b := range bs {
			out.Bindings[string(port)] = append(out.Bindings[string(port)], binding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
	}
	return out, nil
}

func (a *dockerAPI) network(ctx context.Context, name string) (string, error) {
	n, err := a.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		if msg := strings.ToLower(err.Error()); cerrdefs.IsNotFound(err) && strings.Contains(msg, "network") && strings.Contains(msg, "not found") {
			return "", errGone
		}
		return "", answerErr(a.fix(err))
	}
	return n.Options[HostBindingOption], nil
}

func (a *dockerAPI) version(ctx context.Context) (engineVersion, error) {
	v, err := a.cli.ServerVersion(ctx)
	if err != nil {
		return engineVersion{}, answerErr(a.fix(err))
	}
	return engineVersion{Version: v.Version, APIVersion: v.APIVersion, Spoken: a.cli.ClientVersion()}, nil
}

func (a *dockerAPI) close() {
	_ = a.cli.Close()
	a.tr.close()
}

var _ engineAPI = (*dockerAPI)(nil)
