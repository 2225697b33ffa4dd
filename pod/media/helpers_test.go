package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// Test images are generated here, never read from files, so every input a
// test uses is visible in the test.

// photoLike is a w×h opaque picture with gradients and noise, so encoders
// and scalers do realistic work (a flat image compresses to nothing).
func photoLike(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rng.IntN(32))
			i := m.PixOffset(x, y)
			m.Pix[i+0] = uint8(x*255/max(w, 1)) ^ n
			m.Pix[i+1] = uint8(y*255/max(h, 1)) + n
			m.Pix[i+2] = uint8((x+y)&0xff) | n
			m.Pix[i+3] = 0xff
		}
	}
	return m
}

// halves is a w×h picture whose left half is a and right half b.
func halves(w, h int, a, b color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < w/2 {
				m.Set(x, y, a)
			} else {
				m.Set(x, y, b)
			}
		}
	}
	return m
}

// withAlpha is photoLike with a transparent top-left quarter and a
// half-transparent bottom row.
func withAlpha(w, h int) *image.NRGBA {
	p := photoLike(w, h)
	m := image.NewNRGBA(p.Rect)
	copy(m.Pix, p.Pix)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			switch {
			case x < w/2 && y < h/2:
				m.Pix[m.PixOffset(x, y)+3] = 0
			case y == h-1:
				m.Pix[m.PixOffset(x, y)+3] = 0x80
			}
		}
	}
	return m
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encGIF writes a two-frame GIF: the first frame is first, placed at its
// own bounds, on a w×h screen; the second is solid blue.
func encGIF(t testing.TB, w, h int, first *image.Paletted) []byte {
	t.Helper()
	second := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.RGBA{0, 0, 0xff, 0xff}})
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{
		Image:  []*image.Paletted{first, second},
		Delay:  []int{10, 10},
		Config: image.Config{ColorModel: first.Palette, Width: w, Height: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// solidPaletted is r filled with palette entry 0 of p.
func solidPaletted(r image.Rectangle, p color.Palette) *image.Paletted {
	return image.NewPaletted(r, p)
}

// pngChunk frames one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// pngHeader is a PNG signature and a valid IHDR claiming w×h RGBA, and no
// pixel data: what a decompression bomb looks like to DecodeConfig.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// insertPNGChunk puts a chunk right after IHDR.
func insertPNGChunk(p []byte, chunk []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, p[afterIHDR:]...)
}

// jpegSOF is a JPEG that is only SOI, a baseline SOF0 claiming w×h and
// the header of a scan (DecodeConfig reads that far when there is no JFIF
// segment).
func jpegSOF(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	return append(b, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0)
}

// byteOrder is what both binary.LittleEndian and binary.BigEndian are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifAPP1 builds a complete APP1 segment (marker included) holding a TIFF
// structure in byte order bo with IFD0 holding the orientation (when o is
// not 0) and a pointer to a GPS IFD with a latitude and longitude.
func exifAPP1(bo byteOrder, o uint16) []byte {
	var t []byte
	if bo == binary.LittleEndian {
		t = append(t, "II*\x00"...)
	} else {
		t = append(t, "MM\x00*"...)
	}
	t = bo.AppendUint32(t, 8)
	entry := func(tag, typ uint16, n, v uint32) {
		t = bo.AppendUint16(t, tag)
		t = bo.AppendUint16(t, typ)
		t = bo.AppendUint32(t, n)
		t = bo.AppendUint32(t, v)
	}
	const (
		ifd0Len = 2 + 2*12 + 4
		gpsAt   = 8 + ifd0Len
		gpsLen  = 2 + 5*12 + 4
		dataAt  = gpsAt + gpsLen
	)
	// IFD0: a GPS pointer, and the orientation.
	t = bo.AppendUint16(t, 2)
	entry(0x8825, 4, 1, gpsAt) // GPSInfo, LONG
	if o != 0 {
		t = bo.AppendUint16(t, 0x0112)
		t = bo.AppendUint16(t, 3) // SHORT
		t = bo.AppendUint32(t, 1)
		t = bo.AppendUint16(t, o)
		t = bo.AppendUint16(t, 0)
	} else {
		entry(0x010f, 2, 4, 0x00434241) // Make "ABC"
	}
	t = bo.AppendUint32(t, 0)
	// GPS IFD: version, N 52°31'12.34", E 13°24'56.78".
	t = bo.AppendUint16(t, 5)
	t = bo.AppendUint16(t, 0x0000)
	t = bo.AppendUint16(t, 1) // BYTE
	t = bo.AppendUint32(t, 4)
	t = append(t, 2, 3, 0, 0)
	t = bo.AppendUint16(t, 0x0001)
	t = bo.AppendUint16(t, 2) // ASCII
	t = bo.AppendUint32(t, 2)
	t = append(t, 'N', 0, 0, 0)
	entry(0x0002, 5, 3, dataAt) // RATIONAL×3
	t = bo.AppendUint16(t, 0x0003)
	t = bo.AppendUint16(t, 2)
	t = bo.AppendUint32(t, 2)
	t = append(t, 'E', 0, 0, 0)
	entry(0x0004, 5, 3, dataAt+24)
	t = bo.AppendUint32(t, 0)
	for _, r := range [][2]uint32{{52, 1}, {31, 1}, {1234, 100}, {13, 1}, {24, 1}, {5678, 100}} {
		t = bo.AppendUint32(t, r[0])
		t = bo.AppendUint32(t, r[1])
	}
	body := append([]byte("Exif\x00\x00"), t...)
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(body)))
	return append(seg, body...)
}

// insertAfterSOI puts segments right after a JPEG's SOI marker.
func insertAfterSOI(j []byte, segs ...[]byte) []byte {
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

// jpegSegments lists the markers of a JPEG up to and including SOS.
func jpegSegments(t *testing.T, b []byte) []byte {
	t.Helper()
	var markers []byte
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		markers = append(markers, m)
		if m == 0xda {
			return markers
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	t.Fatal("no SOS")
	return nil
}

// bitWriter writes the LSB-first bit stream of VP8L.
type bitWriter struct {
	b     []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.nbits > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return w.b
}

// webpSolid is a real lossless WebP (VP8L) of w×h pixels of one colour,
// built by hand: every prefix code is a one-symbol "simple" code, which
// takes zero bits a pixel, so the whole file is headers.
func webpSolid(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.write(0x2f, 8)
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	alpha := uint64(0)
	if c.A != 0xff {
		alpha = 1
	}
	bw.write(alpha, 1)
	bw.write(0, 3)                                       // version
	bw.write(0, 1)                                       // no transforms
	bw.write(0, 1)                                       // no colour cache
	bw.write(0, 1)                                       // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} { // green, red, blue, alpha, distance
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(uint64(sym), 8)
	}
	vp8l := append(bw.bytes(), 0, 0)
	if len(vp8l)%2 == 1 {
		vp8l = append(vp8l, 0)
	}
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(vp8l)))
	b = append(b, "WEBPVP8L"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vp8l)))
	return append(b, vp8l...)
}

// jpegScans is a progressive 1-component JPEG made of n AC scans, each 13
// bytes and each covering every block with one end-of-band run: the
// cheapest way to make Go's decoder pass over the whole image n times.
func jpegScans(w, h uint16, n int) []byte {
	b := []byte{0xff, 0xd8}
	b = append(b, 0xff, 0xdb, 0, 67, 0) // DQT 0, all ones
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, 0xff, 0xc2, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	// DHT: AC table 0 and DC table 0, each one 1-bit code.
	b = append(b, 0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0)
	b = append(b, 0xff, 0xc4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00)
	for range n {
		// SOS: component 1, tables 0/0, band 1–63; then the EOB-run
		// symbol (0) and 14 one bits, 0xff stuffed.
		b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0, 0x7f, 0xff, 0x00)
	}
	return append(b, 0xff, 0xd9)
}
