// Command floor is the least any allocator built on the Docker client
// library can do per process: start, create a client for the engine's
// unix socket with API version negotiation, list all containers once
// (the negotiation ping happens inside that first call), exit. The bench
// builds it statically (CGO_ENABLED=0), from this module, so it links the
// same github.com/docker/docker/client version as aliaslease (go.mod).
//
// Usage: floor [SOCKET]  (default /var/run/docker.sock). It prints the
// number of containers and exits 0, or exits 1 with the error on stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

func main() {
	sock := "/var/run/docker.sock"
	if len(os.Args) > 1 {
		sock = os.Args[1]
	}
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	// The same bound aliaslease puts on its Docker calls by default.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	fmt.Println(len(cs))
}
