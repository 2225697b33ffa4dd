package keylock

import (
	"bytes"
	"encoding/base64"
	stdhtml "html"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestHTMLPage(t *testing.T) {
	k := testKeys(t)[0]
	for _, tc := range []struct {
		name string
		key  []byte
		kind Kind
		says string
	}{
		{"plain", k.pem, KindKey, "Whoever holds this sheet"},
		{"sealed", sealT(t, k.pem, "p"), KindSealed, "asks for the passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSheet(tc.key, `<script>alert("x")</script> alice@pod.example`, day)
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.HTML()
			if err != nil {
				t.Fatal(err)
			}
			html := string(page)
			for _, want := range []string{
				"2026-05-01", groupHex(s.Fingerprint, 4, 32), tc.says,
				"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; alice@pod.example",
				s.Lines()[0], s.Lines()[len(s.Lines())-1], "QR code 2 of 2",
			} {
				if !strings.Contains(html, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(html, "<script>") || strings.Contains(html, "http") {
				t.Error("page has a script or a link")
			}
			// Attribute values are entity-escaped ('+' is &#43;): a browser
			// reads them unescaped.
			imgs := regexp.MustCompile(`<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="QR code (\d) of 2" width="(\d+)"`).FindAllStringSubmatch(stdhtml.UnescapeString(html), -1)
			if len(imgs) != 2 {
				t.Fatalf("%d images on the page, want 2", len(imgs))
			}
			for i, m := range imgs {
				b, err := base64.StdEncoding.DecodeString(m[1])
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil || m[2] != strconv.Itoa(i+1) || m[3] != strconv.Itoa(img.Bounds().Dx()) {
					t.Fatalf("image %d (%s of 2, width %s): %v", i+1, m[2], m[3], err)
				}
			}
			// The text inside <pre> restores (after the page's escaping is undone).
			pre := html[strings.Index(html, "<pre>")+5 : strings.Index(html, "</pre>")]
			if b, err := Restore(pre); err != nil || b.Kind != tc.kind {
				t.Fatalf("the page's lines: %v", err)
			}
		})
	}
}
