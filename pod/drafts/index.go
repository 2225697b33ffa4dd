package drafts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The index (<folder>/.seedpod/index.json) maps the folder's files to
// drafts without touching the files: for each file name, its draft, the
// file as last synced (hash and stat) and the draft as last synced
// (revision and the version the file holds). Comparing both sides with it
// tells who changed since: the file, the app, or both (a conflict).

// indexVersion is the index format; another version is not read (the
// folder is adopted afresh, see Folder.adopt).
const indexVersion = 1

// maxIndexSize bounds the index file: ~400 bytes an entry, MaxFiles
// entries, the photo map, with room to spare.
const maxIndexSize = 32 << 20

// maxPhotoMemo bounds the index's photo map (content hash → guid); when
// full, entries no draft names any more are dropped.
const maxPhotoMemo = 10_000

type index struct {
	Version int `json:"version"`
	// Owner is the pod that keeps this folder (Options.Owner). An index
	// of another pod names drafts this one does not have: it is not used.
	Owner string `json:"owner"`
	// Adopted is set once a full sync matched the folder's files with the
	// drafts (Folder.adopt); until then a file without an entry is first
	// looked for among the drafts without a file.
	Adopted bool              `json:"adopted"`
	Files   map[string]*entry `json:"files"`
	// Photos maps a photo file's SHA-256 to the pod photo uploaded from it,
	// so the same picture is uploaded once.
	Photos map[string]string `json:"photos,omitempty"`
}

type entry struct {
	Draft string `json:"draft"`
	// Hash is the SHA-256 of the file as last synced (read or written);
	// "" when the file never matched its draft (it had an error from the
	// start).
	Hash string `json:"hash,omitempty"`
	// Stat is the file's stat when Hash was taken: an unchanged stat
	// spares reading the file again.
	Stat stamp `json:"stat"`
	// Version is the draft version the file holds; Revision the draft's
	// revision (all its live versions) at the last sync.
	Version  string `json:"version,omitempty"`
	Revision string `json:"revision,omitempty"`
	// Error is why the file cannot be read as a draft, for the file whose
	// hash is ErrorHash. While it is set, the file is never written: the
	// user's text stays as it is until they fix it.
	Error     string `json:"error,omitempty"`
	ErrorHash string `json:"error_hash,omitempty"`
	// Conflicts are the conflict copies written for the draft's other live
	// versions: file name → version and the copy's hash.
	Conflicts map[string]conflictCopy `json:"conflicts,omitempty"`
	// Photos maps the draft's photo guids to the paths the file names them
	// by, so a rewrite keeps the user's paths.
	Photos map[string]string `json:"photos,omitempty"`
}

type conflictCopy struct {
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

func newIndex(owner string) *index {
	return &index{Version: indexVersion, Owner: owner, Files: map[string]*entry{}, Photos: map[string]string{}}
}

// loadIndex reads the index; fresh is true when there was none that this
// owner can use (missing, damaged, another version or owner), or when no
// full sync has adopted the folder yet. A damaged index is kept beside as
// index.json.damaged for a human to look at.
func loadIndex(path, owner string) (idx *index, fresh bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newIndex(owner), true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the drafts index %s: %w", path, err)
	}
	if fi.Size() > maxIndexSize {
		return nil, false, fmt.Errorf("read the drafts index %s: %d bytes is more than %d", path, fi.Size(), maxIndexSize)
	}
	b, err := readCapped(path, maxIndexSize)
	if err != nil {
		return nil, false, fmt.Errorf("read the drafts index %s: %w", path, err)
	}
	x, ok := parseIndex(b)
	if !ok {
		aside := path + ".damaged"
		_ = os.Rename(path, aside)
		return newIndex(owner), true, nil
	}
	if x.Owner != owner {
		return newIndex(owner), true, nil
	}
	return x, !x.Adopted, nil
}

// parseIndex reads an index file's bytes; ok is false for anything but a
// well-formed index of this version.
func parseIndex(b []byte) (*index, bool) {
	var x index
	if err := json.Unmarshal(b, &x); err != nil || x.Version != indexVersion || x.Files == nil || !validIndex(&x) {
		return nil, false
	}
	if x.Photos == nil {
		x.Photos = map[string]string{}
	}
	return &x, true
}

// validIndex refuses an index whose names could point outside the folder
// or whose entries are empty: it is then treated as damaged.
func validIndex(x *index) bool {
	drafts := map[string]bool{}
	for name, e := range x.Files {
		if e == nil || !IsDraftName(name) || e.Draft == "" || drafts[e.Draft] {
			return false
		}
		drafts[e.Draft] = true
		for c := range e.Conflicts {
			if !isConflictName(c) || filepath.Base(c) != c || strings.ContainsRune(c, 0) {
				return false
			}
		}
	}
	return true
}

// save writes the index atomically (temporary file, fsync, rename).
func (x *index) save(path string) error {
	if len(x.Photos) > maxPhotoMemo {
		used := map[string]bool{}
		for _, e := range x.Files {
			for g := range e.Photos {
				used[g] = true
			}
		}
		for sha, g := range x.Photos {
			if !used[g] {
				delete(x.Photos, sha)
			}
		}
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("encode the drafts index: %w", err)
	}
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("save the drafts index: %w", err)
	}
	return nil
}
