// Package frontend embeds the built UI. Vite (npm run build) writes it to
// dist/app; dist/README.md is committed so the embed pattern matches in a
// fresh clone and `go vet ./...` works before the first frontend build.
//
// It holds no logic: the UI itself is the Svelte app under src/.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// UI returns the built UI (index.html at its root), or nil when this binary
// was built without running the frontend build first.
func UI() fs.FS {
	sub, err := fs.Sub(dist, "dist/app")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}
