package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	"golang.org/x/sys/unix"
)

// lockRecordLen is the size of the holder record in the lock file.
const lockRecordLen = 128

// lockSuffix names the lock file beside the database.
const lockSuffix = ".lock"

// recordHolder writes who holds the exclusive lock, and since when, into
// the lock file f, so that a health report can name a stuck holder. It
// writes only into a file that is empty or already holds a record (whole,
// or as a power cut leaves one: zeros, or cut short), in place and never
// past lockRecordLen bytes. It is best effort: the lock, not this record,
// is what excludes others.
func recordHolder(f *os.File, command string) {
	i, err := safefile.Fstat(int(f.Fd()))
	if err != nil || i.Size() > lockRecordLen {
		return
	}
	b := make([]byte, i.Size())
	if n, _ := f.ReadAt(b, 0); int64(n) != i.Size() || !isHolderRecord(b) {
		return
	}
	// One fixed-size write in place: no truncation, so the file's size,
	// and with it the file system's metadata, stays put after the first.
	rec := fmt.Sprintf("pid=%d since=%s command=%s", os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), command)
	f.WriteAt([]byte(fmt.Sprintf("%-*.*s\n", lockRecordLen-1, lockRecordLen-1, rec)), 0)
}

// isHolderRecord says whether b, a lock file's content, is a holder
// record or what is left of one: nothing, zeros, or a record's start.
func isHolderRecord(b []byte) bool {
	return len(b) <= lockRecordLen && (bytes.HasPrefix(b, []byte("pid=")) || len(bytes.Trim(b, "\x00")) == 0)
}

// LockState is what LockStatus found out about a lock file.
type LockState struct {
	Path string
	// Held is whether some process holds the lock now.
	Held bool
	// PID, Since and Command are the last aliaslease holder's record, set
	// when Held and that process is still alive; a holder that is not
	// aliaslease (an operator's flock, say) leaves them zero.
	PID     int
	Since   time.Time
	Command string
	// InDir says that the error lockStatus returned is the directory's
	// (its walk refused), not the lock file's.
	InDir bool
}

// lockStatus reports whether the lock of the database at dbPath is held,
// and by which aliaslease process when it recorded itself. It never
// waits and creates nothing; a lock file the ownership rules refuse is
// an error.
func lockStatus(dbPath string) (LockState, error) {
	st := LockState{Path: dbPath + lockSuffix}
	d, err := safefile.OpenDir(filepath.Dir(dbPath), false)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		st.InDir = true
		return st, err
	}
	defer d.Close()
	f, _, err := d.OpenAt(filepath.Base(st.Path), unix.O_RDONLY, "lock file")
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer f.Close()
	if held, err := safefile.Probe(f, st.Path); err != nil || !held {
		return st, err
	}
	st.Held = true
	b := make([]byte, lockRecordLen)
	n, _ := f.ReadAt(b, 0)
	pid, since, command := parseHolder(b[:n])
	// The record outlives its writer; only a live writer can be the holder.
	if pid > 0 && processAlive(pid) {
		st.PID, st.Since, st.Command = pid, since, command
	}
	return st, nil
}

func parseHolder(b []byte) (pid int, since time.Time, command string) {
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "since":
			since, _ = time.Parse(time.RFC3339Nano, v)
		case "command":
			command = v
		}
	}
	return pid, since, command
}

// lockDB takes the lock file of the database base in d: shared for a
// read-only open, exclusive otherwise, and returns it (nil when there is
// no lock file and none may be made). An exclusive holder records itself
// in the file.
//
// Only a creating open makes a lock file, and only where no database is
// yet or beside one that passes every check (vet), so that no lock file
// appears beside a path that is not a database (see safefile's Dir.Lock).
func lockDB(ctx context.Context, d *safefile.Dir, base string, o storeOptions, vet func() error) (*safefile.Lock, error) {
	h, err := d.Lock(ctx, base+lockSuffix, safefile.LockOptions{Shared: o.ReadOnly, Create: o.Create, Timeout: o.LockTimeout, Vet: vet})
	if h != nil && !o.ReadOnly {
		recordHolder(h.File(), o.Command)
	}
	return h, err
}
