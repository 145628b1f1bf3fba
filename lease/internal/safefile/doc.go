// Package safefile is the hardened file layer under package lease: the
// database's directory, its files and its lock file, reached so that no
// other user can steer them. It knows bbolt's file format as far as the
// meta pages, and nothing of leases.
//
// A path is never trusted. The directory is reached by walking the path
// one component at a time from "/" with O_DIRECTORY|O_NOFOLLOW (OpenDir),
// and every file is then opened, created, renamed and synced through that
// directory's descriptor (Dir), never by path. What is found on the way
// is held to rules like ssh's StrictModes: a directory owned by this user
// or root and writable by no one else (unless sticky, above the database's
// own), a file regular, with one link, owned by this user or root and
// writable by no one else; a symbolic link is followed only on the way to
// the directory and only when this user or root owns it. Directories made
// are mkdirat 0700 and synced in their parent.
//
// Before bbolt sees a file, CheckFile reads its meta pages, since bbolt
// initialises an empty file and panics or dies of SIGBUS on a truncated
// one. A new file is made aside (O_EXCL), filled, renamed into place and
// its directory synced (Dir.Create); bbolt is handed an opener that never
// creates and opens only the very file that was checked or made
// (Dir.Opener).
//
// The lock file is locked with gofrs/flock (flock(2), per open file
// description) on the file this package opened and vetted (Dir.Lock); it
// is never deleted. A waiter tries again when a holder releases, woken by
// an inotify watch on the lock file where there is one (Linux), and
// polls elsewhere.
package safefile
