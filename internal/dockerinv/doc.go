// Package dockerinv gathers the holders of loopback aliases from a Docker
// engine: every container, in any state, that publishes a port, with the
// host IP of each binding. It takes no lease decisions.
//
// It finds the engine as the docker CLI does (Resolve: --docker-host,
// DOCKER_HOST, DOCKER_CONTEXT, currentContext, the default socket) and
// speaks the Engine API through the Docker client library,
// github.com/docker/docker/client, with API version negotiation: the
// first call pings the engine and every request then carries the lower
// of the engine's and the library's API version as a /vX.Y/ prefix.
// Unversioned paths are deprecated, a pinned version breaks on engines
// that have dropped it (Engine 29 refuses anything below 1.44), and the
// library keeps the request and answer types of each version. The cost
// is the library's package initialisation, some milliseconds per
// process, and one ping round trip per call.
//
// Only client.go imports the library; it turns the library's types and
// errors into this package's own, so that the rest (endpoint resolution,
// TLS, the transport, holder extraction, error classification) does not
// depend on it and a move to its successor, github.com/moby/moby/client,
// touches that one file.
//
// The transport given to the library dials only the resolved endpoint,
// refuses redirects, bounds every answer (a body past ListLimit or
// AnswerLimit is an error, never a truncated success) and records dial
// failures: the library folds "no such socket", "connection refused" and
// timeouts into one error without a cause, and only the first two mean
// that no engine is there (lease.ErrNoEngine). Holders fails closed:
// any other failure wraps lease.ErrInventory, and a cancelled caller's
// context is reported as such, never as a Docker failure.
package dockerinv
