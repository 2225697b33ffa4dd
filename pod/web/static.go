package web

import (
	"io/fs"
	"net/http"
	"strings"
)

// newStatic serves the built UI. Vite puts content-hashed files under
// /assets/, which never change and may be cached for good; everything else
// (index.html) is revalidated so an upgrade shows at once.
func newStatic(ui fs.FS) http.Handler {
	if ui == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notBuiltPage))
		})
	}
	files := http.FileServerFS(ui)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

const notBuiltPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Seedpod — UI not built</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto">
<h1>The Seedpod UI is not built into this binary</h1>
<p>The API works. To get the UI, build with <code>make build</code> (it runs the frontend build before <code>go build</code>).</p>
</body></html>`
