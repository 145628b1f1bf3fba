// Command floordb is the floor (see ../floor) plus the least a lease
// database built on bbolt must do per decision: open the file (bbolt's
// own flock), one read-write transaction that puts one key, its commit
// (bbolt's two fdatasyncs), close. It shows what the durability promise
// alone costs a process, beside the Docker question.
//
// Usage: floordb DB [SOCKET]. It prints the number of containers.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floordb DB [SOCKET]")
		os.Exit(2)
	}
	sock := "/var/run/docker.sock"
	if len(os.Args) > 2 {
		sock = os.Args[2]
	}
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	cancel()
	if err != nil {
		fail(err)
	}
	db, err := bolt.Open(os.Args[1], 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		fail(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("leases"))
		if err != nil {
			return err
		}
		return b.Put([]byte(strconv.Itoa(os.Getpid())), []byte(time.Now().String()))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fail(err)
	}
	fmt.Println(len(cs))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floordb:", err)
	os.Exit(1)
}
