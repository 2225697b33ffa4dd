package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"testing"
)

// fuzzLimits keep every input the fuzzer tries cheap: 64 KiB in, at most
// 256×256 pixels decoded.
var fuzzLimits = Limits{MaxBytes: 64 << 10, MaxPixels: 256 * 256, MaxSide: 1024}

// FuzzProcess feeds arbitrary bytes to Process as both kinds.
//
// Invariants: Process never panics; every error wraps one of the sentinels
// (the reader cannot fail); on success every variant decodes, as the
// content type it claims, to the size it claims, no variant is larger than
// its nominal size (small 50×50, medium 100×100, avatar large 300×300,
// photo large 700 wide), and SHA256 names Original.Data.
func FuzzProcess(f *testing.F) {
	f.Add(encJPEG(f, photoLike(40, 30)), false)
	f.Add(insertAfterSOI(encJPEG(f, photoLike(24, 16)), exifAPP1(binary.LittleEndian, 6)), true)
	f.Add(insertAfterSOI(encJPEG(f, photoLike(17, 9)), exifAPP1(binary.BigEndian, 7)), false)
	f.Add(encJPEG(f, image.NewGray(image.Rect(0, 0, 9, 13))), false)
	f.Add(encPNG(f, withAlpha(20, 10)), true)
	f.Add(encPNG(f, photoLike(1, 1)), false)
	f.Add(encPNG(f, photoLike(800, 1)), false)
	f.Add(encPNG(f, image.NewNRGBA64(image.Rect(0, 0, 3, 5))), false)
	f.Add(encPNG(f, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Transparent, color.White})), false)
	f.Add(encGIF(f, 20, 20, solidPaletted(image.Rect(5, 5, 15, 15), color.Palette{color.RGBA{0, 0xff, 0, 0xff}})), false)
	f.Add(webpSolid(3, 2, color.NRGBA{1, 2, 3, 0xff}), false)
	f.Add(webpSolid(2, 3, color.NRGBA{1, 2, 3, 4}), true)
	f.Add(pngHeader(100000, 100000), false)
	f.Add(jpegSOF(300, 300), false)
	f.Add(jpegScans(16, 16, 3), false)
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), false)

	f.Fuzz(func(t *testing.T, data []byte, avatar bool) {
		kind := Photo
		if avatar {
			kind = Avatar
		}
		res, err := Process(bytes.NewReader(data), kind, fuzzLimits)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		checkResult(t, res, kind)
		o := res.Original
		if o.Width > fuzzLimits.MaxSide || o.Height > fuzzLimits.MaxSide || int64(o.Width)*int64(o.Height) > fuzzLimits.MaxPixels {
			t.Fatalf("original %dx%d is over the limits", o.Width, o.Height)
		}
	})
}

// FuzzJPEGOrientation: the EXIF walk never panics and answers 1–8.
func FuzzJPEGOrientation(f *testing.F) {
	f.Add(insertAfterSOI(jpegSOF(8, 8), exifAPP1(binary.LittleEndian, 6)))
	f.Add(insertAfterSOI(jpegSOF(8, 8), exifAPP1(binary.BigEndian, 8)))
	f.Add(jpegSOF(8, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
