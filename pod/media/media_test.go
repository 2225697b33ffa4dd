package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"
)

var (
	red   = color.RGBA{0xff, 0, 0, 0xff}
	blue  = color.RGBA{0, 0, 0xff, 0xff}
	green = color.RGBA{0, 0xff, 0, 0xff}
)

// sentinels are the errors every bad-input error must wrap.
var sentinels = []error{ErrTooLarge, ErrNotImage, ErrTooManyPixels, ErrCorrupt}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkResult verifies what every successful Process must hold: each
// variant decodes, as its content type, to the size it claims; the hash
// names the original; variants are in order and within their nominal
// sizes.
func checkResult(t testing.TB, res *Result, kind Kind) {
	t.Helper()
	all := append([]Variant{res.Original}, res.Variants...)
	for _, v := range all {
		var cfg image.Config
		var err error
		switch v.ContentType {
		case typeJPEG:
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(v.Data))
		case typePNG:
			cfg, err = png.DecodeConfig(bytes.NewReader(v.Data))
		default:
			t.Fatalf("%s: content type %q", v.Name, v.ContentType)
		}
		if err != nil {
			t.Fatalf("%s (%s) does not decode: %v", v.Name, v.ContentType, err)
		}
		if cfg.Width != v.Width || cfg.Height != v.Height {
			t.Fatalf("%s claims %dx%d, is %dx%d", v.Name, v.Width, v.Height, cfg.Width, cfg.Height)
		}
		if v.ContentType != res.Original.ContentType {
			t.Fatalf("%s is %s, original is %s", v.Name, v.ContentType, res.Original.ContentType)
		}
	}
	sum := sha256.Sum256(res.Original.Data)
	if res.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("SHA256 %s is not the original's", res.SHA256)
	}
	if len(res.Variants) != 3 {
		t.Fatalf("%d variants", len(res.Variants))
	}
	nominal := map[string][2]int{"small": {50, 50}, "medium": {100, 100}, "large": {700, math.MaxInt}}
	if kind == Avatar {
		nominal["large"] = [2]int{300, 300}
	}
	for i, name := range []string{"small", "medium", "large"} {
		v := res.Variants[i]
		if v.Name != name {
			t.Fatalf("variant %d is %q, want %q", i, v.Name, name)
		}
		if v.Width > nominal[name][0] || v.Height > nominal[name][1] {
			t.Fatalf("%s %s is %dx%d, larger than nominal", kind, name, v.Width, v.Height)
		}
	}
}

func decodeVariant(t *testing.T, v Variant) image.Image {
	t.Helper()
	m, _, err := image.Decode(bytes.NewReader(v.Data))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func near(c color.Color, want color.RGBA) bool {
	r, g, b, a := c.RGBA()
	d := func(x uint32, y uint8) bool { return math.Abs(float64(x>>8)-float64(y)) < 40 }
	return d(r, want.R) && d(g, want.G) && d(b, want.B) && d(a, want.A)
}

func TestProcessFormats(t *testing.T) {
	gifOpaque := solidPaletted(image.Rect(0, 0, 40, 30), color.Palette{red, blue})
	transparentGIF := solidPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.RGBA{}, red})
	tests := []struct {
		name       string
		in         []byte
		format     string
		outType    string
		w, h       int
		cornerTest func(*testing.T, image.Image)
	}{
		{"jpeg", encJPEG(t, photoLike(800, 600)), "jpeg", typeJPEG, 800, 600, nil},
		{"png opaque", encPNG(t, photoLike(64, 48)), "png", typeJPEG, 64, 48, nil},
		{"png alpha", encPNG(t, withAlpha(64, 48)), "png", typePNG, 64, 48, func(t *testing.T, m image.Image) {
			if _, _, _, a := m.At(0, 0).RGBA(); a != 0 {
				t.Errorf("top-left alpha %d, want 0", a)
			}
		}},
		{"png gray", encPNG(t, image.NewGray(image.Rect(0, 0, 10, 10))), "png", typeJPEG, 10, 10, nil},
		{"png 16-bit alpha", encPNG(t, image.NewNRGBA64(image.Rect(0, 0, 10, 10))), "png", typePNG, 10, 10, nil},
		{"gif opaque", encGIF(t, 40, 30, gifOpaque), "gif", typeJPEG, 40, 30, func(t *testing.T, m image.Image) {
			if !near(m.At(20, 15), red) { // first frame, not the blue second one
				t.Errorf("centre %v, want red", m.At(20, 15))
			}
		}},
		{"gif transparent", encGIF(t, 40, 30, transparentGIF), "gif", typePNG, 40, 30, nil},
		{"webp opaque", webpSolid(20, 10, color.NRGBA{0x10, 0x80, 0xf0, 0xff}), "webp", typeJPEG, 20, 10, func(t *testing.T, m image.Image) {
			if !near(m.At(5, 5), color.RGBA{0x10, 0x80, 0xf0, 0xff}) {
				t.Errorf("pixel %v", m.At(5, 5))
			}
		}},
		{"webp alpha", webpSolid(20, 10, color.NRGBA{0x10, 0x80, 0xf0, 0x40}), "webp", typePNG, 20, 10, func(t *testing.T, m image.Image) {
			if _, _, _, a := m.At(5, 5).RGBA(); a>>8 != 0x40 {
				t.Errorf("alpha %d, want 0x40", a>>8)
			}
		}},
		{"1x1", encPNG(t, photoLike(1, 1)), "png", typeJPEG, 1, 1, nil},
		{"panorama", encJPEG(t, photoLike(12000, 40)), "jpeg", typeJPEG, 12000, 40, nil},
		{"tall", encPNG(t, withAlpha(30, 2000)), "png", typePNG, 30, 2000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []Kind{Photo, Avatar} {
				res, err := Process(bytes.NewReader(tt.in), kind, Limits{})
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				checkResult(t, res, kind)
				if res.Format != tt.format {
					t.Errorf("format %q, want %q", res.Format, tt.format)
				}
				if res.Original.ContentType != tt.outType {
					t.Errorf("original is %s, want %s", res.Original.ContentType, tt.outType)
				}
				if res.Original.Width != tt.w || res.Original.Height != tt.h {
					t.Errorf("original %dx%d, want %dx%d", res.Original.Width, res.Original.Height, tt.w, tt.h)
				}
				if tt.cornerTest != nil {
					tt.cornerTest(t, decodeVariant(t, res.Original))
				}
			}
		})
	}
}

func TestVariantSizes(t *testing.T) {
	type dims [3][2]int // small, medium, large
	tests := []struct {
		w, h          int
		photo, avatar dims
	}{
		{1, 1, dims{{50, 50}, {100, 100}, {1, 1}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{50, 50, dims{{50, 50}, {100, 100}, {50, 50}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{640, 480, dims{{50, 50}, {100, 100}, {640, 480}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{700, 700, dims{{50, 50}, {100, 100}, {700, 700}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{701, 10, dims{{50, 50}, {100, 100}, {700, 10}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{1400, 1050, dims{{50, 50}, {100, 100}, {700, 525}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{1000, 3, dims{{50, 50}, {100, 100}, {700, 2}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{12000, 100, dims{{50, 50}, {100, 100}, {700, 6}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{12000, 1, dims{{50, 50}, {100, 100}, {700, 1}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		{100, 3000, dims{{50, 50}, {100, 100}, {100, 3000}}, dims{{50, 50}, {100, 100}, {300, 300}}},
		// Big enough for the box pre-shrink in both kinds (k = 2).
		{2800, 1201, dims{{50, 50}, {100, 100}, {700, 300}}, dims{{50, 50}, {100, 100}, {300, 300}}},
	}
	for _, tt := range tests {
		in := encPNG(t, image.NewGray(image.Rect(0, 0, tt.w, tt.h)))
		for _, kind := range []Kind{Photo, Avatar} {
			want := tt.photo
			if kind == Avatar {
				want = tt.avatar
			}
			t.Run(kind.String()+"/"+strings.ReplaceAll(image.Pt(tt.w, tt.h).String(), ",", "x"), func(t *testing.T) {
				res, err := Process(bytes.NewReader(in), kind, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, res, kind)
				for i, v := range res.Variants {
					if v.Width != want[i][0] || v.Height != want[i][1] {
						t.Errorf("%s is %dx%d, want %dx%d", v.Name, v.Width, v.Height, want[i][0], want[i][1])
					}
				}
				if kind == Photo && tt.w <= photoLargeWidth && &res.Variants[2].Data[0] != &res.Original.Data[0] {
					t.Errorf("unscaled large does not share the original's bytes")
				}
			})
		}
	}
}

// TestEXIFOrientation: a phone photo with GPS in its EXIF and orientation 6
// comes out upright and with no EXIF at all.
func TestEXIFOrientation(t *testing.T) {
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(bo.String(), func(t *testing.T) {
			// Left half red, right half blue, as the sensor saw it; the
			// camera was turned, so the viewer's top is the left.
			in := insertAfterSOI(encJPEG(t, halves(64, 32, red, blue)), exifAPP1(bo, 6))
			if jpegOrientation(in) != 6 {
				t.Fatalf("test input orientation %d", jpegOrientation(in))
			}
			res, err := Process(bytes.NewReader(in), Photo, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res, Photo)
			o := res.Original
			if o.Width != 32 || o.Height != 64 {
				t.Fatalf("original %dx%d, want 32x64", o.Width, o.Height)
			}
			for _, v := range append([]Variant{o}, res.Variants...) {
				for _, m := range jpegSegments(t, v.Data) {
					if m >= 0xe0 && m <= 0xef || m == 0xfe {
						t.Errorf("%s has an APP%d/COM segment (marker %#x)", v.Name, m-0xe0, m)
					}
				}
				if bytes.Contains(v.Data, []byte("Exif")) || bytes.Contains(v.Data, []byte("II*\x00")) || bytes.Contains(v.Data, []byte("MM\x00*")) {
					t.Errorf("%s still holds EXIF bytes", v.Name)
				}
			}
			m := decodeVariant(t, o)
			if !near(m.At(16, 8), red) || !near(m.At(16, 56), blue) {
				t.Errorf("not rotated clockwise: top %v, bottom %v", m.At(16, 8), m.At(16, 56))
			}
			if jpegOrientation(o.Data) != 1 {
				t.Errorf("output still has an orientation")
			}
		})
	}
}

// TestMetadataStrippedPNG: text chunks (where PNG keeps its metadata) do
// not survive.
func TestMetadataStrippedPNG(t *testing.T) {
	in := insertPNGChunk(encPNG(t, withAlpha(8, 8)), pngChunk("tEXt", []byte("GPSLatitude\x0052.5200")))
	in = insertPNGChunk(in, pngChunk("eXIf", exifAPP1(binary.BigEndian, 6)[10:]))
	res, err := Process(bytes.NewReader(in), Avatar, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append([]Variant{res.Original}, res.Variants...) {
		for _, s := range []string{"tEXt", "eXIf", "GPS", "MM\x00*"} {
			if bytes.Contains(v.Data, []byte(s)) {
				t.Errorf("%s contains %q", v.Name, s)
			}
		}
	}
}

// TestGIFFirstFrameOffset: a first frame smaller than the screen is shown
// where it sits, with transparency around it.
func TestGIFFirstFrameOffset(t *testing.T) {
	frame := solidPaletted(image.Rect(5, 5, 15, 15), color.Palette{green})
	res, err := Process(bytes.NewReader(encGIF(t, 20, 20, frame)), Photo, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, Photo)
	if res.Original.ContentType != typePNG || res.Original.Width != 20 || res.Original.Height != 20 {
		t.Fatalf("original %s %dx%d", res.Original.ContentType, res.Original.Width, res.Original.Height)
	}
	m := decodeVariant(t, res.Original)
	if _, _, _, a := m.At(0, 0).RGBA(); a != 0 {
		t.Errorf("corner alpha %d, want transparent", a)
	}
	if !near(m.At(10, 10), green) {
		t.Errorf("centre %v, want green", m.At(10, 10))
	}
}

// TestBomb: a 60-byte PNG claiming 100000×100000 pixels (40 GB decoded) is
// refused from its header, without allocating for its pixels.
func TestBomb(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		lim  Limits
	}{
		{"png 100000x100000", pngHeader(100000, 100000), Limits{}},
		{"png 100000x100000 by pixels", pngHeader(100000, 100000), Limits{MaxSide: 1 << 20}},
		{"png side", pngHeader(12001, 10), Limits{}},
		{"png pixels", pngHeader(8000, 8000), Limits{}},
		{"png custom limit", pngHeader(101, 100), Limits{MaxPixels: 10000}},
		{"jpeg 65000x65000", jpegSOF(65000, 65000), Limits{}},
		{"gif 65535x65535", []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"), Limits{}},
		{"webp 16384x16384", webpSolid(16384, 16384, color.NRGBA{A: 0xff}), Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Process(bytes.NewReader(tt.in), Photo, tt.lim)
			if !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("got %v, want ErrTooManyPixels", err)
			}
			t.Log(err)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(10, func() {
				Process(bytes.NewReader(tt.in), Photo, tt.lim)
			})
			runtime.ReadMemStats(&after)
			// As of 2026-11 a refusal costs 11–17 allocations and
			// 2–15 KiB (the JPEG decoder's state is the largest); 50
			// allocations and 100 KiB leave room for decoder changes and
			// none for the pixel buffers these headers claim.
			perRun := (after.TotalAlloc - before.TotalAlloc) / 11
			t.Logf("%.0f allocs, %d bytes a run", allocs, perRun)
			if allocs > 50 || perRun > 100<<10 {
				t.Errorf("refusal cost %.0f allocs, %d bytes a run", allocs, perRun)
			}
		})
	}
}

// TestJPEGScanBomb: a small progressive JPEG with thousands of scans (each
// a full pass of the decoder over the image) is refused before decoding.
func TestJPEGScanBomb(t *testing.T) {
	ok := jpegScans(64, 64, maxJPEGScans)
	if _, err := Process(bytes.NewReader(ok), Photo, Limits{}); err != nil {
		t.Fatalf("%d scans: %v", maxJPEGScans, err)
	}
	bomb := jpegScans(4000, 3000, 10000) // 130 KB; minutes of CPU if decoded
	start := time.Now()
	_, err := Process(bytes.NewReader(bomb), Photo, Limits{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("got %v, want ErrCorrupt for scans", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
}

// TestTruncated: files cut short fail with a sentinel, never a panic.
func TestTruncated(t *testing.T) {
	inputs := map[string][]byte{
		"jpeg": encJPEG(t, photoLike(64, 64)),
		"png":  encPNG(t, photoLike(64, 64)),
		"gif":  encGIF(t, 64, 64, solidPaletted(image.Rect(0, 0, 64, 64), color.Palette{red})),
		"webp": webpSolid(64, 64, color.NRGBA{1, 2, 3, 0xff}),
		"exif": insertAfterSOI(encJPEG(t, photoLike(64, 64)), exifAPP1(binary.LittleEndian, 6)),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{0, 1, 3, 8, 12, 16, 20, 30, 40, len(in) / 2, len(in) * 3 / 4} {
				if name == "gif" && n > 30 {
					// The only frame's LZW data is a few bytes; cutting
					// into it is the 30-byte case.
					continue
				}
				if n >= len(in) {
					continue
				}
				_, err := Process(bytes.NewReader(in[:n]), Photo, Limits{})
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotImage) {
					t.Errorf("cut at %d of %d: got %v, want ErrCorrupt or ErrNotImage", n, len(in), err)
				}
			}
		})
	}
}

func TestNotImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0 // no magic
	bmp := append([]byte("BM"), make([]byte, 64)...)
	tiff := append([]byte("II*\x00"), make([]byte, 64)...)
	for name, in := range map[string][]byte{
		"random": random,
		"empty":  nil,
		"text":   []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"),
		"bmp":    bmp,
		"tiff":   tiff,
		"riff":   []byte("RIFF\x10\x00\x00\x00WAVEfmt "),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(bytes.NewReader(in), Photo, Limits{})
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("got %v, want ErrNotImage", err)
			}
		})
	}
}

// countingReader is an endless stream of 0xff that counts what was read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xff
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestTooLarge(t *testing.T) {
	const limit = 1 << 20
	r := &countingReader{}
	_, err := Process(r, Photo, Limits{MaxBytes: limit})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "1048576 bytes") {
		t.Errorf("error %q does not say the limit", err)
	}
	if r.n > limit+1 {
		t.Errorf("read %d bytes, limit %d", r.n, limit)
	}

	// Exactly the limit is fine.
	in := encPNG(t, photoLike(20, 20))
	if _, err := Process(bytes.NewReader(in), Photo, Limits{MaxBytes: int64(len(in))}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := Process(bytes.NewReader(in), Photo, Limits{MaxBytes: int64(len(in) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one byte over: %v", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Process(io.MultiReader(strings.NewReader("\x89PNG"), errReader{boom}), Photo, Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestUnknownKind(t *testing.T) {
	if _, err := Process(bytes.NewReader(encPNG(t, photoLike(2, 2))), Kind(7), Limits{}); err == nil {
		t.Fatal("no error for Kind(7)")
	}
}

// TestThumbnailsDoNotAlias backs the choice of resampler: a 1-pixel
// checkerboard shrunk 7:1 (as 700 → 100) must come out a flat mid-grey. A
// 2×2-sample interpolator (ApproxBiLinear) keeps picking whole black or
// white pixels.
func TestThumbnailsDoNotAlias(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 700, 700))
	for y := 0; y < 700; y++ {
		for x := 0; x < 700; x++ {
			if (x+y)%2 == 0 {
				src.Pix[y*src.Stride+x] = 0xff
			}
		}
	}
	spread := func(q draw.Interpolator) float64 {
		dst := image.NewGray(image.Rect(0, 0, 100, 100))
		q.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		lo, hi := 255, 0
		for _, p := range dst.Pix {
			lo, hi = min(lo, int(p)), max(hi, int(p))
		}
		return float64(hi - lo)
	}
	if s := spread(resampler); s > 16 {
		t.Errorf("resampler output spans %v grey levels, want a flat grey", s)
	}
	t.Logf("grey-level spread: CatmullRom %v, ApproxBiLinear %v", spread(draw.CatmullRom), spread(draw.ApproxBiLinear))
}

// TestShrink: the box pre-shrink averages premultiplied colour (a red
// pixel beside a transparent one is half-transparent red, not a dark
// purple), keeps a uniform picture uniform, and stays centred.
func TestShrink(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 9, 5))
	for y := 0; y < 5; y++ {
		for x := 0; x < 9; x++ {
			if x%2 == 0 {
				src.SetNRGBA(x, y, color.NRGBA{0xff, 0, 0, 0xff})
			} else {
				src.SetNRGBA(x, y, color.NRGBA{0, 0, 0xff, 0}) // transparent "blue"
			}
		}
	}
	// 9×5 by 2: 4×2, with the odd column and row split between edges,
	// so blocks start at x=0, y=0 (the remainder 1 halves to 0).
	got := shrink(src, src.Bounds(), 2)
	if got.Bounds() != image.Rect(0, 0, 4, 2) {
		t.Fatalf("bounds %v", got.Bounds())
	}
	for y := 0; y < 2; y++ {
		for x := 0; x < 4; x++ {
			if c := got.RGBAAt(x, y); c != (color.RGBA{0x80, 0, 0, 0x80}) {
				t.Fatalf("(%d,%d) = %v, want half-transparent red", x, y, c)
			}
		}
	}

	// Centring: 11 by 3 leaves 2 over, one for each edge, so a 1-pixel
	// black frame round a grey 11×11 picture is dropped, not averaged in
	// on one side.
	m := image.NewGray(image.Rect(0, 0, 11, 11))
	for y := 1; y < 10; y++ {
		for x := 1; x < 10; x++ {
			m.SetGray(x, y, color.Gray{200})
		}
	}
	g := shrink(m, m.Bounds(), 3)
	for i, p := range g.Pix {
		if i%4 != 3 && p != 200 {
			t.Fatalf("frame leaked in: byte %d is %d", i, p)
		}
	}
}

// TestShrinkYCbCr: the plane-wise shrink for decoded JPEGs agrees with
// the RGBA one (to rounding, and to the chroma of an odd block start)
// for every subsampling it takes, and falls back for those it does not.
func TestShrinkYCbCr(t *testing.T) {
	bounds := image.Rect(0, 0, 61, 45)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440,
	} {
		// A smooth picture: JPEG-like content, where chroma a pixel off
		// is nearly the same chroma.
		m := image.NewYCbCr(bounds, ratio)
		for y := 0; y < 45; y++ {
			for x := 0; x < 61; x++ {
				m.Y[m.YOffset(x, y)] = uint8(x*3 + y)
				ci := m.COffset(x, y)
				m.Cb[ci], m.Cr[ci] = uint8(100+x), uint8(150-y)
			}
		}
		// The whole picture, and a crop whose blocks start on odd columns.
		for _, sr := range []image.Rectangle{m.Rect, image.Rect(3, 1, 59, 44)} {
			k := 4
			if !shrinkable(m, &k) {
				t.Fatalf("%v not shrinkable", ratio)
			}
			got, want := shrinkYCbCr(m, sr, k), shrink(m, sr, k)
			if got.Rect != want.Rect {
				t.Fatalf("%v %v: bounds %v, want %v", ratio, sr, got.Rect, want.Rect)
			}
			for i := range got.Pix {
				if d := int(got.Pix[i]) - int(want.Pix[i]); d < -4 || d > 4 {
					t.Fatalf("%v %v: byte %d is %d, want %d", ratio, sr, i, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
	k := 3
	if m := image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420); !shrinkable(m, &k) || k != 2 {
		t.Errorf("4:2:0 with k=3: shrinkable gives k=%d", k)
	}
	if m := image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio411); shrinkable(m, &k) {
		t.Errorf("4:1:1 taken")
	}
}
