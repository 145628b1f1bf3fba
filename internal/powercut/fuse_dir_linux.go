//go:build linux

package powercut

import (
	"context"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The directory operations of the go-fuse face: names made, linked,
// removed, renamed and listed in the model.

// link adds name → c to the directory d, which must not hold name.
func link(d *node, name string, c *node) {
	d.kids[name] = c
	c.nlink++
	d.touch()
}

func (i *inode) create(ctx context.Context, name string, typ, mode uint32, out *fuse.EntryOut) (*node, *fs.Inode, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, nil, e
	}
	defer i.unlock()
	if !i.n.isDir() {
		return nil, nil, syscall.ENOTDIR
	}
	if i.n.kids[name] != nil {
		return nil, nil, syscall.EEXIST
	}
	uid, gid := caller(ctx)
	c := i.f.newNode(typ, mode, uid, gid)
	link(i.n, name, c)
	return c, i.child(ctx, c, out), 0
}

func (i *inode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	_, ch, e := i.create(ctx, name, syscall.S_IFREG, mode, out)
	if e == syscall.EEXIST && flags&syscall.O_EXCL == 0 {
		// The kernel found no entry, and then one appeared: open it.
		if e := i.lock(); e != 0 {
			return nil, nil, 0, e
		}
		c := i.n.kids[name]
		if c == nil || !c.isReg() {
			i.unlock()
			return nil, nil, 0, syscall.EEXIST
		}
		if flags&syscall.O_TRUNC != 0 {
			i.f.truncate(c, 0)
		}
		ch = i.child(ctx, c, out)
		i.unlock()
		return ch, nil, 0, 0
	}
	return ch, nil, 0, e
}

func (i *inode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	_, ch, e := i.create(ctx, name, syscall.S_IFDIR, mode, out)
	return ch, e
}

func (i *inode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, e
	}
	if i.n.kids[name] != nil {
		i.unlock()
		return nil, syscall.EEXIST
	}
	uid, gid := caller(ctx)
	c := i.f.newNode(syscall.S_IFLNK, 0o777, uid, gid)
	c.target = target
	link(i.n, name, c)
	ch := i.child(ctx, c, out)
	i.unlock()
	return ch, 0
}

func (i *inode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, e
	}
	defer i.unlock()
	if i.n.typ != syscall.S_IFLNK {
		return nil, syscall.EINVAL
	}
	return []byte(i.n.target), 0
}

func (i *inode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*inode)
	if !ok {
		return nil, syscall.EXDEV
	}
	if e := i.lock(); e != 0 {
		return nil, e
	}
	defer i.unlock()
	switch {
	case t.n.isDir():
		return nil, syscall.EPERM
	case i.n.kids[name] != nil:
		return nil, syscall.EEXIST
	}
	link(i.n, name, t.n)
	t.n.attr.ctime = time.Now()
	return i.child(ctx, t.n, out), 0
}

// unlink removes name from the directory d.
func unlink(d *node, name string) {
	c := d.kids[name]
	delete(d.kids, name)
	c.nlink--
	c.attr.ctime = time.Now()
	d.touch()
}

func (i *inode) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	c := i.n.kids[name]
	switch {
	case c == nil:
		return syscall.ENOENT
	case c.isDir():
		return syscall.EISDIR
	}
	unlink(i.n, name)
	return 0
}

func (i *inode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	c := i.n.kids[name]
	switch {
	case c == nil:
		return syscall.ENOENT
	case !c.isDir():
		return syscall.ENOTDIR
	case len(c.kids) > 0:
		return syscall.ENOTEMPTY
	}
	unlink(i.n, name)
	return 0
}

const (
	renameNoreplace = 1 // RENAME_NOREPLACE
	renameExchange  = 2 // RENAME_EXCHANGE
)

func (i *inode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*inode)
	if !ok {
		return syscall.EXDEV
	}
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	from, to := i.n, np.n
	src, dst := from.kids[name], to.kids[newName]
	switch {
	case src == nil:
		return syscall.ENOENT
	case flags&^(renameNoreplace|renameExchange) != 0:
		return syscall.EINVAL
	case src.isDir() && from != to, dst != nil && dst.isDir() && from != to:
		// A directory keeps one parent, so that the durable tree has
		// it in one place (see the package comment).
		return syscall.EXDEV
	case flags&renameExchange != 0:
		if dst == nil {
			return syscall.ENOENT
		}
		from.kids[name], to.kids[newName] = dst, src
		from.touch()
		to.touch()
		return 0
	case dst != nil && flags&renameNoreplace != 0:
		return syscall.EEXIST
	case src == dst:
		return 0 // two links to one file: nothing happens
	case dst != nil && src.isDir() && !dst.isDir():
		return syscall.ENOTDIR
	case dst != nil && !src.isDir() && dst.isDir():
		return syscall.EISDIR
	case dst != nil && dst.isDir() && len(dst.kids) > 0:
		return syscall.ENOTEMPTY
	}
	if dst != nil {
		unlink(to, newName)
	}
	delete(from.kids, name)
	to.kids[newName] = src
	src.attr.ctime = time.Now()
	from.touch()
	to.touch()
	return 0
}

func (i *inode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, e
	}
	defer i.unlock()
	names := make([]string, 0, len(i.n.kids))
	for name := range i.n.kids {
		names = append(names, name)
	}
	sort.Strings(names)
	list := make([]fuse.DirEntry, 0, len(names))
	for _, name := range names {
		c := i.n.kids[name]
		list = append(list, fuse.DirEntry{Name: name, Mode: c.typ, Ino: c.id})
	}
	return fs.NewListDirStream(slices.Clip(list)), 0
}
