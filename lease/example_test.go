package lease_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// A store lives for one decision: open it (taking the lock), act, close.
func Example() {
	dir, _ := os.MkdirTemp("", "aliaslease-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "leases.db")
	pool := lease.MustParsePool("127.0.0.16-127.0.0.31")

	s, err := lease.Open(path, &lease.Options{Create: true})
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Acquire(lease.AcquireRequest{Slug: "bottle-7", Pool: pool, Now: time.Now()})
	s.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Lease.Alias, res.Outcome, res.Lease.Generation)

	s, err = lease.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Release only the lease acquire returned, not one taken since.
	l, err := s.Release("bottle-7", res.Lease.Generation)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("released", l.Alias)
	// Output:
	// 127.0.0.16 new 1
	// released 127.0.0.16
}

// A Manager runs whole commands: it asks Docker before taking the lock and
// brings the alias up on the interface afterwards. With no Inventory and
// no Interface it works from the leases alone.
func ExampleManager_Acquire() {
	dir, _ := os.MkdirTemp("", "aliaslease-example")
	defer os.RemoveAll(dir)
	m := &lease.Manager{Path: filepath.Join(dir, "leases.db"), Pool: lease.MustParsePool("127.0.0.16/30")}
	for _, slug := range []string{"a", "b", "a"} {
		res, err := m.Acquire(context.Background(), slug, 0)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(slug, res.Lease.Alias, res.Outcome)
	}
	// Output:
	// a 127.0.0.16 new
	// b 127.0.0.17 new
	// a 127.0.0.16 renewed
}
