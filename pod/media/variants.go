package media

import (
	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// Nominal variant sizes: those of diaspora*'s image versions
// (app/uploaders/processed_image.rb: thumb_small 50, thumb_medium 100,
// thumb_large 300, scaled_full 700 wide), which remote pods and clients
// lay out for. Here the squares are centre-cropped fills, always exactly
// their size (a smaller picture is scaled up, as CarrierWave's
// resize_to_fill does); the photo's large, like scaled_full, is never
// scaled up (resize_to_limit).
const (
	smallSide       = 50
	mediumSide      = 100
	avatarLargeSide = 300
	photoLargeWidth = 700
)

// resampler is CatmullRom for every variant. x/image/draw widens a
// kernel's support by the scale factor when shrinking, so CatmullRom
// averages every source pixel under a destination pixel; ApproxBiLinear
// samples only the 2×2 nearest, and at the 5:1 to 80:1 steps variants
// need it aliases: a 1-pixel checkerboard shrunk 7:1 comes out as black
// and white blotches (a spread of 255 grey levels) where CatmullRom gives
// flat grey (TestThumbnailsDoNotAlias). ApproxBiLinear is 20–80× faster,
// but after the two measures below the thumbnails cost 2–5 ms each, so
// speed does not pay for the aliasing.
//
// CatmullRom's cost grows with the ratio (about 4×ratio taps per pixel per
// axis): 4000×3000 → 700 wide took 0.55 s of CPU, more than decoding.
// So scale first box-averages whole k×k blocks (plain integer sums, on the
// YCbCr planes for a JPEG) down to 2–4× the target, as libvips does before
// its final reduce, and CatmullRom makes the last step: 0.21 s. And the
// variants are made in a chain (full size → large → medium, small), so only
// one step reads the full-size picture.
//
// Measured 2026-11, BenchmarkResample, CPU time on a shared 2-vCPU Xeon:
//
//	              scale    CatmullRom  BiLinear  ApproxBiLinear
//	12 MP → 700   210 ms   550 ms      307 ms    16 ms
//	525² → 100    5.0 ms   9.0 ms      5.0 ms    0.33 ms
//	525² → 50     1.6 ms   7.7 ms      4.0 ms    0.09 ms
var resampler = draw.CatmullRom

// makeVariants builds the variants of kind from the upright image m, whose
// encoded form is orig.
func makeVariants(kind Kind, m image.Image, orig Variant, asPNG bool) ([]Variant, error) {
	var large image.Image
	var largeV Variant
	var err error
	switch kind {
	case Photo:
		b := m.Bounds()
		if b.Dx() <= photoLargeWidth {
			large, largeV = m, orig
			largeV.Name = "large"
		} else {
			large = scale(m, b, photoLargeWidth, scaledHeight(b.Dx(), b.Dy(), photoLargeWidth))
			if largeV, err = encode("large", large, asPNG); err != nil {
				return nil, err
			}
		}
	case Avatar:
		large = scale(m, centreSquare(m.Bounds()), avatarLargeSide, avatarLargeSide)
		if largeV, err = encode("large", large, asPNG); err != nil {
			return nil, err
		}
	}
	sq := centreSquare(large.Bounds())
	medium := scale(large, sq, mediumSide, mediumSide)
	small := scale(large, sq, smallSide, smallSide)
	mediumV, err := encode("medium", medium, asPNG)
	if err != nil {
		return nil, err
	}
	smallV, err := encode("small", small, asPNG)
	if err != nil {
		return nil, err
	}
	return []Variant{smallV, mediumV, largeV}, nil
}

// scaledHeight is h scaled by w2/w, rounded, and at least 1.
func scaledHeight(w, h, w2 int) int {
	n := (int64(h)*int64(w2) + int64(w)/2) / int64(w)
	return int(max(n, 1))
}

// centreSquare is the largest square centred in r.
func centreSquare(r image.Rectangle) image.Rectangle {
	s := min(r.Dx(), r.Dy())
	x := r.Min.X + (r.Dx()-s)/2
	y := r.Min.Y + (r.Dy()-s)/2
	return image.Rect(x, y, x+s, y+s)
}

// scale resamples the sr part of src to a new w×h RGBA image.
func scale(src image.Image, sr image.Rectangle, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if sr.Dx() == w && sr.Dy() == h {
		draw.Draw(dst, dst.Bounds(), src, sr.Min, draw.Src)
		return dst
	}
	if k := min(sr.Dx()/(2*w), sr.Dy()/(2*h)); k >= 2 {
		if y, ok := src.(*image.YCbCr); ok && shrinkable(y, &k) {
			src = shrinkYCbCr(y, sr, k)
		} else {
			src = shrink(src, sr, k)
		}
		sr = src.Bounds()
	}
	resampler.Scale(dst, dst.Bounds(), src, sr, draw.Src, nil)
	return dst
}

// shrink averages k×k blocks of the sr part of src into a new RGBA image
// of (sr.Dx()/k)×(sr.Dy()/k). The fewer than k leftover columns and rows
// are split between both edges so the picture stays centred; they are
// under half a pixel of the final variant, which is at least 2k source
// pixels wide.
//
// Rows are converted to premultiplied RGBA a strip of k at a time (the
// standard library has fast paths from YCbCr, NRGBA and Gray), so the
// full-size picture is never held as RGBA, and averaging premultiplied
// values weighs colour by coverage as it should.
func shrink(src image.Image, sr image.Rectangle, k int) *image.RGBA {
	ow, oh := sr.Dx()/k, sr.Dy()/k
	x0 := sr.Min.X + (sr.Dx()-ow*k)/2
	y0 := sr.Min.Y + (sr.Dy()-oh*k)/2
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	strip := image.NewRGBA(image.Rect(0, 0, ow*k, k))
	sums := make([]uint32, ow*4)
	area := uint32(k * k)
	for oy := 0; oy < oh; oy++ {
		draw.Draw(strip, strip.Rect, src, image.Pt(x0, y0+oy*k), draw.Src)
		clear(sums)
		for y := 0; y < k; y++ {
			row := strip.Pix[y*strip.Stride : y*strip.Stride+ow*k*4]
			for ox := range ow {
				var r, g, b, a uint32
				for p := row[ox*k*4 : (ox+1)*k*4]; len(p) >= 4; p = p[4:] {
					r += uint32(p[0])
					g += uint32(p[1])
					b += uint32(p[2])
					a += uint32(p[3])
				}
				s := sums[ox*4 : ox*4+4 : ox*4+4]
				s[0] += r
				s[1] += g
				s[2] += b
				s[3] += a
			}
		}
		out := dst.Pix[oy*dst.Stride : oy*dst.Stride+ow*4]
		for i, v := range sums {
			out[i] = uint8((v + area/2) / area)
		}
	}
	return dst
}

// shrinkable reports whether shrinkYCbCr handles m, making k even when the
// chroma is subsampled so each k×k block owns whole chroma samples.
func shrinkable(m *image.YCbCr, k *int) bool {
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		return true
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440:
		*k &^= 1
		return *k >= 2
	}
	return false
}

// shrinkYCbCr is shrink for a decoded JPEG: it averages the Y, Cb and Cr
// planes where they are (1.5 bytes a pixel for 4:2:0) instead of
// converting every pixel to RGBA first, which made shrink a sixth of
// processing a photo. YCbCr → RGB is affine, so averaging before or after
// converting agrees but for rounding. A block whose first column or row is
// odd takes its chroma from the pair it starts in, up to one source pixel
// off, at a scale where a source pixel is under a quarter of a variant's.
// Rows are summed a block-row at a time, as in shrink.
func shrinkYCbCr(m *image.YCbCr, sr image.Rectangle, k int) *image.RGBA {
	xs, ys := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		xs = 2
	case image.YCbCrSubsampleRatio420:
		xs, ys = 2, 2
	case image.YCbCrSubsampleRatio440:
		ys = 2
	}
	ow, oh := sr.Dx()/k, sr.Dy()/k
	x0 := sr.Min.X + (sr.Dx()-ow*k)/2
	y0 := sr.Min.Y + (sr.Dy()-oh*k)/2
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ck, cl := k/xs, k/ys // chroma samples a block spans across and down
	yArea, cArea := uint32(k*k), uint32(ck*cl)
	sy := make([]uint32, ow)
	sb := make([]uint32, ow)
	sc := make([]uint32, ow)
	for oy := range oh {
		clear(sy)
		clear(sb)
		clear(sc)
		y := y0 + oy*k
		for r := range k {
			i := m.YOffset(x0, y+r)
			row := m.Y[i : i+ow*k]
			for ox := range sy {
				var t uint32
				for _, v := range row[ox*k : ox*k+k] {
					t += uint32(v)
				}
				sy[ox] += t
			}
		}
		for r := range cl {
			// x0/xs + ox*ck is the chroma column of block ox, k being
			// even when xs is 2.
			i := m.COffset(x0, y+r*ys)
			cb, cr := m.Cb[i:i+ow*ck], m.Cr[i:i+ow*ck]
			for ox := range sb {
				var tb, tr uint32
				for j := ox * ck; j < ox*ck+ck; j++ {
					tb += uint32(cb[j])
					tr += uint32(cr[j])
				}
				sb[ox] += tb
				sc[ox] += tr
			}
		}
		out := dst.Pix[oy*dst.Stride : oy*dst.Stride+ow*4]
		for ox := range sy {
			r, g, b := color.YCbCrToRGB(
				uint8((sy[ox]+yArea/2)/yArea),
				uint8((sb[ox]+cArea/2)/cArea),
				uint8((sc[ox]+cArea/2)/cArea))
			p := out[ox*4 : ox*4+4 : ox*4+4]
			p[0], p[1], p[2], p[3] = r, g, b, 0xff
		}
	}
	return dst
}
