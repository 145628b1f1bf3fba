package lease_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aliaslease/aliaslease/lease"
)

// A lease is released by the generation acquire returned, so that a late
// release never frees a lease taken again since.
func ExampleManager_Release() {
	dir, _ := os.MkdirTemp("", "aliaslease-example")
	defer os.RemoveAll(dir)
	m := &lease.Manager{Path: filepath.Join(dir, "leases.db"), Pool: lease.MustParsePool("127.0.0.16-127.0.0.31")}
	ctx := context.Background()
	res, err := m.Acquire(ctx, "bottle-7", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Lease.Alias, res.Outcome, res.Lease.Generation)
	if _, err := m.Release(ctx, "bottle-7", res.Lease.Generation+1); errors.Is(err, lease.ErrGenerationMismatch) {
		fmt.Println("kept: not that generation")
	}
	l, err := m.Release(ctx, "bottle-7", res.Lease.Generation)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("released", l.Alias)
	// Output:
	// 127.0.0.16 new 1
	// kept: not that generation
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
