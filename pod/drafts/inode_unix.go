//go:build unix

package drafts

import (
	"io/fs"
	"syscall"
)

// inode is the file's inode number: a file replaced by a rename has a new
// one even when its size and time look the same.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// oNonblock opens a named pipe without waiting for a writer (a regular
// file ignores it).
const oNonblock = syscall.O_NONBLOCK
