package keylock

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"strings"
)

// What the page says, by kind. No line of it starts with a number or with
// END, so Restore skips it when the whole page is pasted back (a test checks).
var pageWords = map[Kind]struct {
	contents string
	warning  []string
}{
	KindSealed: {
		contents: "your identity key, locked with your passphrase",
		warning: []string{
			"This sheet alone cannot be used: restoring it asks for the passphrase",
			"the key was locked with. The passphrase is not on this sheet and",
			"cannot be recovered; keep it in your head or in a separate place.",
		},
	},
	KindKey: {
		contents: "your identity key itself, NOT locked",
		warning: []string{
			"Whoever holds this sheet, or a photo of it, can act as you. Keep it",
			"in a safe, do not photograph or scan it into a cloud, and destroy",
			"it when you make a new one.",
		},
	},
}

var restoreWords = []string{
	"To restore: in Seedpod, choose Restore from paper, then scan the QR",
	"codes (in any order) or type every numbered line and the END line.",
	"Spaces and letter case do not matter; O is read as 0, I and L as 1.",
	"Each line ends with its own check code, so a typo is reported on",
	"its line, usually with the character to correct.",
}

// Text is the whole sheet as plain text: what it is, the fingerprint, the
// date, the instructions and the lines. Restore reads it back as it is.
func (s *Sheet) Text() string {
	lines := s.Lines()
	w := pageWords[s.Kind]
	var b strings.Builder
	b.WriteString("SEEDPOD IDENTITY KEY: PAPER BACKUP\n\n")
	if s.Label != "" {
		fmt.Fprintf(&b, "Identity:     %s\n", s.Label)
	}
	fmt.Fprintf(&b, "Fingerprint:  %s\n", groupHex(s.Fingerprint, 8, 64))
	fmt.Fprintf(&b, "Written:      %s\n", s.Created.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Contents:     %s\n", w.contents)
	fmt.Fprintf(&b, "Lines:        %d numbered lines, then END\n\n", len(lines)-1)
	for _, l := range w.warning {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	for _, l := range restoreWords {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// groupHex writes at most n hex digits of s in groups of g. (The text
// form keeps the fingerprint on one line: a continuation line starting
// with digits would read as a numbered line.)
func groupHex(s string, g, n int) string {
	s = s[:min(n, len(s))]
	var b strings.Builder
	for i := 0; i < len(s); i += g {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(len(s), i+g)])
	}
	return b.String()
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Seedpod identity key: paper backup</title>
<style>
  @page { size: auto; margin: 15mm; }
  body { font: 11pt/1.4 system-ui, sans-serif; color: #000; background: #fff; max-width: 180mm; margin: 0 auto; }
  h1 { font-size: 16pt; margin: 0 0 4mm; }
  table.facts { border-collapse: collapse; margin-bottom: 4mm; }
  table.facts th { text-align: left; font-weight: 600; padding: 0 6mm 1mm 0; vertical-align: top; }
  table.facts td { padding: 0 0 1mm; }
  .mono, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; }
  .warn { border: 0.6mm solid #000; padding: 3mm 4mm; margin: 4mm 0; }
  .warn.key { border-width: 1.2mm; }
  .data { display: flex; flex-wrap: wrap; gap: 4mm 6mm; align-items: flex-start; margin: 4mm 0; }
  .codes { display: flex; flex-direction: column; gap: 4mm; }
  figure { margin: 0; text-align: center; break-inside: avoid; page-break-inside: avoid; }
  figure img { width: 50mm; height: 50mm; image-rendering: pixelated; image-rendering: crisp-edges; }
  figcaption { font-size: 9pt; }
  pre { font-size: 9.5pt; line-height: 1.45; margin: 0; white-space: pre; }
  .small { font-size: 9pt; }
</style>
</head>
<body>
<h1>Seedpod identity key: paper backup</h1>
<table class="facts">
{{if .Label}}<tr><th>Identity</th><td>{{.Label}}</td></tr>{{end}}
<tr><th>Fingerprint</th><td class="mono">{{.FP1}}<br>{{.FP2}}</td></tr>
<tr><th>Written</th><td>{{.Date}}</td></tr>
<tr><th>Contents</th><td>{{.Contents}}</td></tr>
</table>
<div class="warn {{.Kind}}">{{range .Warning}}{{.}} {{end}}</div>
<p>{{range .Restore}}{{.}} {{end}}</p>
<div class="data">
<pre>{{range .Lines}}{{.}}
{{end}}</pre>
<div class="codes">
{{range .Codes}}<figure><img src="{{.Src}}" alt="QR code {{.Part}} of {{.Of}}" width="{{.Pixels}}" height="{{.Pixels}}"><figcaption>QR code {{.Part}} of {{.Of}}</figcaption></figure>
{{end}}</div>
</div>
<p class="small">Format: Seedpod key backup 1 ({{.Kind}}). Fingerprint: SHA-256 of the public key.</p>
</body>
</html>
`))

type pageCode struct {
	Part, Of, Pixels int
	Src              template.URL
}

// HTML is the sheet as a printable page: the facts, the warning for its
// kind, the instructions, and the lines with the QR codes (data: URLs)
// beside them; a 4096-bit key's sheet fits one A4 or Letter page. It
// needs no network and no other file (inline style, data: images: the web
// server's CSP allows both), so the UI can open it in a window of its own
// and print it.
func (s *Sheet) HTML() ([]byte, error) {
	codes, err := s.QRCodes()
	if err != nil {
		return nil, err
	}
	pc := make([]pageCode, 0, len(codes))
	for _, c := range codes {
		pc = append(pc, pageCode{
			Part: c.Part, Of: c.Of, Pixels: c.Modules * QRScale,
			// Safe: our own base64 of our own PNG.
			Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.PNG)),
		})
	}
	w := pageWords[s.Kind]
	var b bytes.Buffer
	err = pageTemplate.Execute(&b, map[string]any{
		"Label":    s.Label,
		"FP1":      groupHex(s.Fingerprint, 4, 32),
		"FP2":      groupHex(s.Fingerprint[min(32, len(s.Fingerprint)):], 4, 32),
		"Date":     s.Created.UTC().Format("2006-01-02"),
		"Contents": w.contents,
		"Kind":     string(s.Kind),
		"Warning":  w.warning,
		"Codes":    pc,
		"Restore":  restoreWords,
		"Lines":    s.Lines(),
	})
	if err != nil {
		return nil, fmt.Errorf("paper backup: render the page: %w", err)
	}
	return b.Bytes(), nil
}
