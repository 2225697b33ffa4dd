package public

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"image"
	"image/png"
	"net/http"
	"unicode/utf8"
)

// Display bounds of the HTML pages: whatever the directory holds, a page
// stays small.
const (
	maxNameDisplay = 140
	maxBioDisplay  = 4096
)

// pageCSS is the only style of the pages; the CSP allows exactly it by
// hash, and no script at all.
const pageCSS = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}` +
	`.avatar{border-radius:50%;background:#ddd}.id{color:#666}.bio{white-space:pre-wrap}footer{margin-top:3rem;color:#888;font-size:.9em}`

var pageCSP = "default-src 'none'; img-src 'self' https:; style-src 'sha256-" + cssHash() + "'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func cssHash() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func setPageCSP(w http.ResponseWriter) { w.Header().Set("Content-Security-Policy", pageCSP) }

// pageTemplates emit pageCSS through the css function so the text sent and
// the hash in the CSP are one string.
var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(pageCSS) },
}).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.}}</title>
<style>{{css}}</style>
</head>
{{end}}
{{define "root"}}{{template "head" (print "Seedpod relay for " .)}}<body>
<main>
<h1>Seedpod relay for {{.}}</h1>
<p>This server publishes the public profiles of the diaspora* identities of {{.}}.</p>
</main>
</body>
</html>
{{end}}
{{define "profile"}}{{template "head" .Name}}<body>
<main>
<img class="avatar" src="{{.Photo}}" width="150" height="150" alt="">
<h1>{{.Name}}</h1>
<p class="id">{{.DiasporaID}}</p>
{{if .Bio}}<p class="bio">{{.Bio}}</p>
{{end}}</main>
<footer>Seedpod relay for {{.Domain}}</footer>
</body>
</html>
{{end}}`))

type profileView struct {
	Name, DiasporaID, Photo, Bio, Domain string
}

func render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return bytes.TrimLeft(b.Bytes(), "\n"), nil
}

func renderRoot(domain string) ([]byte, error) { return render("root", domain) }

func renderProfile(v profileView) ([]byte, error) { return render("profile", v) }

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// defaultAvatarPNG is a plain 100×100 grey square served at
// DefaultAvatarPath.
var defaultAvatarPNG = func() []byte {
	img := image.NewGray(image.Rect(0, 0, 100, 100))
	for i := range img.Pix {
		img.Pix[i] = 0xcc
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()
