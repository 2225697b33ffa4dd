package keylock

import (
	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

func TestQRRoundTrip(t *testing.T) {
	parts := map[string][2]int{ // codes for the plain and the sealed sheet
		"rsa4096-pkcs8":       {2, 2},
		"rsa2048-pkcs1-bob":   {1, 1},
		"rsa2048-pkcs1-alice": {1, 1},
		"rsa2048-pkcs8-bob":   {1, 1},
		"rsa1024-pkcs1-spec":  {1, 1},
	}
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			sealed := sealT(t, k.pem, "p")
			for i, in := range [][]byte{k.pem, sealed} {
				s := sheetT(t, in)
				p := s.QRPayloads()
				if len(p) != parts[k.name][i] {
					t.Fatalf("sheet %d: %d codes, want %d", i, len(p), parts[k.name][i])
				}
				for _, c := range p {
					if len(c) > qrMaxChars+len("SDK1:1/1:0123456789:") || strings.Trim(c, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:/") != "" {
						t.Fatalf("code %q is not short QR-alphanumeric text", c)
					}
				}
				// Any order, a code scanned twice, a scanner's lower case and newline.
				scanned := slices.Concat(p, p[:1])
				slices.Reverse(scanned)
				scanned[0] = strings.ToLower(scanned[0]) + "\n"
				b, err := RestoreQR(scanned)
				if err != nil {
					t.Fatal(err)
				}
				want := [][]byte{k.pem, sealed}[i]
				if !bytes.Equal(b.Data, want) || b.Fingerprint != s.Fingerprint || b.Kind != s.Kind {
					t.Fatalf("sheet %d: restored %s %s", i, b.Kind, b.Fingerprint)
				}
			}
		})
	}
}

// The PNGs are images of the codes go-qrcode builds from the payloads:
// the right size, every module where the symbol has it, versions that print
// and scan well.
func TestQRCodesPNG(t *testing.T) {
	k := testKeys(t)[0]
	for _, in := range [][]byte{k.pem, sealT(t, k.pem, "p")} {
		codes, err := sheetT(t, in).QRCodes()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			img, err := png.Decode(bytes.NewReader(c.PNG))
			if err != nil {
				t.Fatal(err)
			}
			q, err := qrcode.New(c.Payload, qrLevel)
			if err != nil {
				t.Fatal(err)
			}
			bits := q.Bitmap()
			if c.Modules != len(bits) || c.Modules > 21*4+17+8 {
				t.Fatalf("code %d: %d modules (version %d); want at most version 21", c.Part, c.Modules, q.VersionNumber)
			}
			if sz := img.Bounds().Size(); sz != image.Pt(c.Modules*QRScale, c.Modules*QRScale) {
				t.Fatalf("code %d: %v pixels, want %d×%d modules of %d px", c.Part, sz, c.Modules, c.Modules, QRScale)
			}
			for y := range bits {
				for x := range bits[y] {
					r, _, _, _ := img.At(x*QRScale+QRScale/2, y*QRScale+QRScale/2).RGBA()
					if dark := r < 0x8000; dark != bits[y][x] {
						t.Fatalf("code %d: module (%d,%d) dark=%v in the PNG, %v in the symbol", c.Part, x, y, dark, bits[y][x])
					}
				}
			}
		}
	}
}

// With zbarimg installed (Debian: zbar-tools) the codes are decoded for
// real; without it, TestQRCodesPNG's module comparison stands in.
func TestQRDecodesWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed")
	}
	k := testKeys(t)[0]
	codes, err := sheetT(t, sealT(t, k.pem, "p")).QRCodes()
	if err != nil {
		t.Fatal(err)
	}
	var scanned []string
	for _, c := range codes {
		f := filepath.Join(t.TempDir(), "code.png")
		if err := os.WriteFile(f, blot(t, c.PNG, c.Modules), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		got := strings.TrimRight(string(out), "\n")
		if got != c.Payload {
			t.Fatalf("code %d decodes to %q, want %q", c.Part, got, c.Payload)
		}
		scanned = append(scanned, got)
	}
	if _, err := RestoreQR(scanned); err != nil {
		t.Fatal(err)
	}
}

// blot paints a white square over the middle fifth of a code (4% of its
// area, a coffee stain): level Q must read through it.
func blot(t *testing.T, b []byte, modules int) []byte {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, image.Point{}, draw.Src)
	side := modules / 5 * QRScale
	mid := modules * QRScale / 2
	draw.Draw(rgba, image.Rect(mid-side/2, mid-side/2, mid+side/2, mid+side/2), image.White, image.Point{}, draw.Src)
	var out bytes.Buffer
	if err := png.Encode(&out, rgba); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestRestoreQRRefuses(t *testing.T) {
	k := testKeys(t)[0]
	p := sheetT(t, k.pem).QRPayloads() // two codes
	other := sheetT(t, sealT(t, k.pem, "p")).QRPayloads()
	// altered changes the last character of a code to another one.
	altered := func(s string) string {
		last := s[len(s)-1]
		return s[:len(s)-1] + string(crockford[(strings.IndexByte(crockford, last)+1)%len(crockford)])
	}
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, "no codes"},
		{"part missing", p[:1], "part 2 of 2 not scanned"},
		{"two sheets", []string{p[0], other[1]}, "another sheet"},
		{"not ours", []string{"https://example.org/"}, "not a Seedpod"},
		{"bad part", []string{strings.Replace(p[0], "1/2", "3/2", 1)}, "part"},
		{"part zero", []string{strings.Replace(p[0], "1/2", "0/2", 1)}, "part"},
		{"too many parts", []string{strings.Replace(p[0], "1/2", "1/99", 1)}, "part"},
		{"bad hash", []string{strings.Replace(p[0], ":"+p[0][9:19]+":", ":SHORT:", 1)}, "hash"},
		{"data altered", []string{altered(p[0]), p[1]}, "does not match"},
		{"same part, different data", []string{p[0], altered(p[0]), p[1]}, "scanned twice"},
		{"letter not in the alphabet", []string{p[0][:30] + "U" + p[0][31:], p[1]}, "data"},
		{"too long", []string{p[0] + strings.Repeat("A", maxQRText)}, "characters"},
		{"too many", slices.Repeat(p[:1], maxQRParts*2+1), "codes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RestoreQR(tc.in)
			if !errors.Is(err, ErrBadQR) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrBadQR saying %q", err, tc.want)
			}
		})
	}
}
