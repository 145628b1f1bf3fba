// Command racer is the attacker of the symlink-race test. Run as another
// user, it swaps whatever it can in the directories it may write for
// symbolic links to files and directories that aliaslease, running as
// root, must never reach: it renames away every entry it is allowed to
// (its own anywhere, anyone's where the directory is not sticky), plants
// a link in its place, and plants links and directories of its own under
// the names aliaslease uses, in those directories and in every directory
// of its own below them (each name free about half the time, so that
// aliaslease wins some races too). It loops as fast as it can until SIGTERM, then
// prints how many links it planted and entries it moved.
//
// Usage: racer -dirs D1:D2 -targets T1:T2 -names N1:N2
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	dirs := flag.String("dirs", "", "directories to attack, colon-separated")
	targets := flag.String("targets", "", "what the planted links point at, colon-separated")
	names := flag.String("names", "", "names to plant links and directories under, colon-separated")
	flag.Parse()
	r := &racer{targets: strings.Split(*targets, ":"), names: strings.Split(*names, ":"), rnd: rand.New(rand.NewSource(int64(os.Getpid())))}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	for {
		select {
		case <-stop:
			fmt.Printf("planted %d moved %d\n", r.planted, r.moved)
			return
		default:
		}
		for _, d := range strings.Split(*dirs, ":") {
			r.attack(d, 0)
		}
	}
}

type racer struct {
	targets, names []string
	rnd            *rand.Rand
	planted, moved int
	seq            int
}

func (r *racer) target() string { return r.targets[r.rnd.Intn(len(r.targets))] }

// attack swaps what it can in dir, and goes one level down into
// directories of its own.
func (r *racer) attack(dir string, depth int) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".racer-") {
			os.RemoveAll(p)
			continue
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) != nil {
			continue
		}
		if int(st.Uid) == os.Getuid() && st.Mode&syscall.S_IFMT == syscall.S_IFDIR && depth == 0 {
			r.attack(p, depth+1)
		}
		r.seq++
		if os.Rename(p, filepath.Join(dir, fmt.Sprintf(".racer-%d", r.seq))) == nil {
			r.moved++
			r.plant(p)
		}
	}
	for _, n := range r.names {
		p := filepath.Join(dir, n)
		os.Remove(p)            // only its own, in a sticky directory
		if r.rnd.Intn(2) == 0 { // and leave the name free now and then
			r.plant(p)
		}
	}
}

// plant puts a link to a target at p, or now and then a directory of its
// own.
func (r *racer) plant(p string) {
	if r.rnd.Intn(8) == 0 {
		if os.Mkdir(p, 0o777) == nil {
			os.Chmod(p, 0o777)
			r.planted++
		}
		return
	}
	if os.Symlink(r.target(), p) == nil {
		r.planted++
	}
}
