package media

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"testing"
)

// want is where dst (x, y) comes from in a w×h source for orientation o,
// written from the destination's side as the EXIF specification tables
// are, independently of orientPlane's forward mapping.
func want(o, w, h, x, y int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return y, h - 1 - x
	case 7:
		return w - 1 - y, h - 1 - x
	case 8:
		return w - 1 - y, x
	}
	return x, y
}

// TestOrient checks every orientation of every image type the decoders
// return against want, pixel for pixel, on even and odd sizes (odd sides
// with subsampled chroma take the RGBA path; the result must be as exact).
func TestOrient(t *testing.T) {
	for _, sz := range [][2]int{{6, 4}, {5, 3}, {1, 1}, {3, 7}, {8, 2}} {
		w, h := sz[0], sz[1]
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		gray := image.NewGray(image.Rect(0, 0, w, h))
		nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.RGBA{uint8(x * 40), uint8(y * 30), uint8(x*10 + y), 0xff}
				rgba.Set(x, y, c)
				nrgba.Set(x, y, c)
				gray.SetGray(x, y, color.Gray{uint8(y*w + x)})
			}
		}
		ycbcr := func(r image.YCbCrSubsampleRatio) *image.YCbCr {
			m := image.NewYCbCr(image.Rect(0, 0, w, h), r)
			for i := range m.Y {
				m.Y[i] = uint8(i * 7)
			}
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = uint8(i*13), uint8(255-i*11)
			}
			return m
		}
		imgs := map[string]image.Image{
			"rgba": rgba, "nrgba": nrgba, "gray": gray,
			"ycbcr444": ycbcr(image.YCbCrSubsampleRatio444),
			"ycbcr422": ycbcr(image.YCbCrSubsampleRatio422),
			"ycbcr420": ycbcr(image.YCbCrSubsampleRatio420),
			"ycbcr440": ycbcr(image.YCbCrSubsampleRatio440),
			"ycbcr411": ycbcr(image.YCbCrSubsampleRatio411),
			"ycbcr410": ycbcr(image.YCbCrSubsampleRatio410),
		}
		for name, src := range imgs {
			for o := 1; o <= 8; o++ {
				t.Run(fmt.Sprintf("%dx%d/%s/%d", w, h, name, o), func(t *testing.T) {
					got := orient(src, o)
					dw, dh := w, h
					if o >= 5 {
						dw, dh = h, w
					}
					if b := got.Bounds(); b != image.Rect(0, 0, dw, dh) {
						t.Fatalf("bounds %v, want %dx%d", b, dw, dh)
					}
					for y := 0; y < dh; y++ {
						for x := 0; x < dw; x++ {
							sx, sy := want(o, w, h, x, y)
							g, s := color.RGBAModel.Convert(got.At(x, y)), color.RGBAModel.Convert(src.At(sx, sy))
							if g != s {
								t.Fatalf("dst (%d,%d) = %v, want src (%d,%d) = %v", x, y, g, sx, sy, s)
							}
						}
					}
				})
			}
		}
	}
}

// TestOrientKeepsYCbCr: an even-sided JPEG-like image is turned without
// going through RGBA (the memory reason for the plane path).
func TestOrientKeepsYCbCr(t *testing.T) {
	m := image.NewYCbCr(image.Rect(0, 0, 8, 6), image.YCbCrSubsampleRatio422)
	got, ok := orient(m, 6).(*image.YCbCr)
	if !ok {
		t.Fatalf("orient gave %T", orient(m, 6))
	}
	if got.SubsampleRatio != image.YCbCrSubsampleRatio440 {
		t.Errorf("ratio %v, want 4:4:0", got.SubsampleRatio)
	}
}

func TestJPEGOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	base := jpegSOF(8, 8)
	app1 := func(body string) []byte {
		seg := []byte{0xff, 0xe1}
		seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(body)))
		return append(seg, body...)
	}
	// A minimal TIFF with one IFD0 entry.
	tiff := func(tag, typ uint16, n uint32, v uint16, ifdAt uint32, count uint16) string {
		b := []byte("II*\x00")
		b = le.AppendUint32(b, ifdAt)
		b = le.AppendUint16(b, count)
		b = le.AppendUint16(b, tag)
		b = le.AppendUint16(b, typ)
		b = le.AppendUint32(b, n)
		b = le.AppendUint16(b, v)
		b = le.AppendUint16(b, 0)
		return "Exif\x00\x00" + string(b)
	}
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"none", base, 1},
		{"not jpeg", []byte("\x89PNG"), 1},
		{"empty", nil, 1},
		{"le 6 with gps", insertAfterSOI(base, exifAPP1(le, 6)), 6},
		{"be 8 with gps", insertAfterSOI(base, exifAPP1(be, 8)), 8},
		{"gps, no orientation", insertAfterSOI(base, exifAPP1(le, 0)), 1},
		{"each value 3", insertAfterSOI(base, app1(tiff(0x0112, 3, 1, 3, 8, 1))), 3},
		{"value 0", insertAfterSOI(base, app1(tiff(0x0112, 3, 1, 0, 8, 1))), 1},
		{"value 9", insertAfterSOI(base, app1(tiff(0x0112, 3, 1, 9, 8, 1))), 1},
		{"type LONG", insertAfterSOI(base, app1(tiff(0x0112, 4, 1, 6, 8, 1))), 1},
		{"count 2", insertAfterSOI(base, app1(tiff(0x0112, 3, 2, 6, 8, 1))), 1},
		{"ifd offset past end", insertAfterSOI(base, app1(tiff(0x0112, 3, 1, 6, 0xfffffff0, 1))), 1},
		{"ifd count past end", insertAfterSOI(base, app1(tiff(0x0112, 3, 1, 6, 8, 0xffff))), 6}, // the tag is found before the end
		{"ifd count past end, tag later", insertAfterSOI(base, app1(tiff(0x0001, 3, 1, 6, 8, 0xffff))), 1},
		{"bad tiff magic", insertAfterSOI(base, app1("Exif\x00\x00XX*\x00\x08\x00\x00\x00")), 1},
		{"short tiff", insertAfterSOI(base, app1("Exif\x00\x00II")), 1},
		{"xmp app1 first", insertAfterSOI(base, app1("http://ns.adobe.com/xap/1.0/\x00<x/>"), exifAPP1(le, 5)), 5},
		{"segment length past end", append([]byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff}, "Exif\x00\x00"...), 1},
		{"segment length 0", []byte{0xff, 0xd8, 0xff, 0xe1, 0, 0, 0, 0}, 1},
		{"fill bytes", insertAfterSOI(base, []byte{0xff, 0xff}, exifAPP1(le, 7)), 7},
		{"after SOS", append(append(append([]byte{}, base...), 0xff, 0xda, 0, 2), exifAPP1(le, 6)...), 1},
		{"garbage between", insertAfterSOI(base, []byte{0x00}, exifAPP1(le, 6)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.in); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	// Every prefix of a good EXIF JPEG parses without panicking.
	full := insertAfterSOI(base, exifAPP1(be, 6))
	for n := range len(full) {
		jpegOrientation(full[:n])
	}
}
