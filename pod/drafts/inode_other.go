//go:build !unix

package drafts

import "io/fs"

// inode is 0 where the platform does not tell it; size and time remain.
func inode(fs.FileInfo) uint64 { return 0 }

// oNonblock: no named pipes to guard against here.
const oNonblock = 0
