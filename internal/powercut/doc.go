// Package powercut is a test-only power-loss simulator: a FUSE file
// system over a lower directory that keeps every change in memory until
// it is made durable the way POSIX promises, and that can "lose power":
// drop everything not yet durable, unmount, and leave the lower
// directory holding exactly what a disk would hold when the power came
// back. Product code never imports it.
//
// # The model
//
// Each inode has a volatile state (what processes see through the
// mount, as in the page cache) and a durable state (what the disk
// holds). At mount, both are the lower directory's contents.
//
//   - File data: a write changes the volatile bytes only. fsync or
//     fdatasync of the file copies the file's volatile bytes and size to
//     its durable state; fsync also makes its attributes (mode, owner)
//     durable, fdatasync does not.
//   - Names: creat, mkdir, symlink, link, rename and unlink change the
//     volatile entries of their directories only. fsync of a directory
//     makes that directory's entries durable, all at once (a rename
//     within one directory is atomic), and writes the inodes it newly
//     names (their attributes, not their data: the data of a file never
//     synced is empty on the disk). A rename across directories is two
//     changes, one in each directory, each made durable by its own
//     directory's fsync.
//   - A durable entry is reachable only through durable entries up to
//     the root: a directory created but not yet named durably in its
//     parent takes everything under it down with it, whatever was synced
//     inside. An inode synced through fsync but never named durably is
//     lost, as on a disk.
//
// A cut (Cut) powers the file system off, so that every later request
// fails with EIO and nothing more becomes durable, unmounts it (the
// processes using it must have been killed first), and rewrites the
// lower directory from the durable state. Before the cut, a test may
// also let the "kernel" write back at random (Writeback): random dirty
// pages of a file (clipped to its size), a file's size alone (a grown
// file then reads zeros at its end on the disk), its attributes, or a
// whole directory's entries reach the disk early, as background
// writeback and journal commits do. Without Writeback, a cut loses every
// change not explicitly synced: the worst case POSIX allows. With it,
// any mix of early writes a real disk could show.
//
// File locks are the kernel's (the mount does not forward them), which is
// exactly flock(2) between processes on one machine; shared mmap reads go
// through the kernel page cache, filled by FUSE reads of the volatile
// state, and stay coherent because every write goes through the mount.
//
// Not modelled: timestamps (the lower files get the time of the cut),
// extended attributes (refused), device files, FIFOs and sockets (not
// served), O_TMPFILE, and renames of a directory to another parent
// (EXDEV, so that a directory never has two durable parents).
package powercut
