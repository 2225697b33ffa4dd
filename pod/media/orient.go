package media

import (
	"encoding/binary"
	"image"
)

// jpegOrientation returns the EXIF orientation (1–8) of a JPEG, or 1 when
// there is none or anything about it is malformed. It walks the marker
// segments before the first scan, looks only at the first APP1 segment that
// starts "Exif\0\0", and reads tag 0x0112 from IFD0. Every offset is checked
// against the segment it came from; nothing is allocated.
func jpegOrientation(b []byte) int {
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return 1
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return 1 // not at a marker: damaged; let the decoder say so
		}
		marker := b[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8: // TEM, RSTn, SOI: no length
			i += 2
			continue
		case marker == 0xd9 || marker == 0xda: // EOI, SOS: metadata comes before the scans
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:])) // counts itself, not the marker
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return exifOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// exifOrientation reads the orientation tag from a TIFF structure (the body
// of an EXIF APP1 segment).
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 1
	}
	count := uint64(bo.Uint16(t[ifd:]))
	entries := ifd + 2
	for k := uint64(0); k < count; k++ {
		e := entries + 12*k
		if e+12 > uint64(len(t)) {
			return 1
		}
		tag, typ, n := bo.Uint16(t[e:]), bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if tag != 0x0112 {
			continue
		}
		// SHORT, count 1: the value sits left-justified in the
		// 4-byte value field.
		if typ != 3 || n != 1 {
			return 1
		}
		if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 1
	}
	return 1
}

// orient returns m turned upright for EXIF orientation o. 1 (and any value
// out of range) returns m itself. Orientations 5–8 swap width and height.
//
// YCbCr (nearly every JPEG) and Gray are transformed plane by plane, so
// the result costs what the decoded image cost (1.5 bytes a pixel for
// 4:2:0) rather than 4 bytes a pixel as RGBA. That is exact only when the
// chroma blocks tile the picture; a picture with an odd side (or an exotic
// subsampling) goes through RGBA instead.
func orient(m image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return m
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	swap := o >= 5
	dw, dh := w, h
	if swap {
		dw, dh = h, w
	}
	switch m := m.(type) {
	case *image.Gray:
		d := image.NewGray(image.Rect(0, 0, dw, dh))
		orientPlane(d.Pix, d.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return d
	case *image.YCbCr:
		if to, ok := turnedRatio(m.SubsampleRatio, w, h, swap); ok && b.Min == (image.Point{}) {
			d := image.NewYCbCr(image.Rect(0, 0, dw, dh), to)
			orientPlane(d.Y, d.YStride, m.Y, m.YStride, w, h, 1, o)
			cw, ch := (w+1)/2, (h+1)/2 // exact: turnedRatio wants even sides when subsampled
			switch m.SubsampleRatio {
			case image.YCbCrSubsampleRatio444:
				cw, ch = w, h
			case image.YCbCrSubsampleRatio422:
				ch = h
			case image.YCbCrSubsampleRatio440:
				cw = w
			}
			orientPlane(d.Cb, d.CStride, m.Cb, m.CStride, cw, ch, 1, o)
			orientPlane(d.Cr, d.CStride, m.Cr, m.CStride, cw, ch, 1, o)
			return d
		}
	}
	src := toRGBA(m)
	d := image.NewRGBA(image.Rect(0, 0, dw, dh))
	orientPlane(d.Pix, d.Stride, src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride, w, h, 4, o)
	return d
}

// turnedRatio is the chroma subsampling after the transform (a quarter
// turn turns the chroma grid too), and whether the planes can be
// transformed exactly: the subsampled sides must be even, or a flip would
// move the partial chroma block at the edge to the other edge.
func turnedRatio(r image.YCbCrSubsampleRatio, w, h int, swap bool) (image.YCbCrSubsampleRatio, bool) {
	evenW, evenH := w%2 == 0, h%2 == 0
	var to image.YCbCrSubsampleRatio
	var ok bool
	switch r {
	case image.YCbCrSubsampleRatio444:
		to, ok = r, true
	case image.YCbCrSubsampleRatio420:
		to, ok = r, evenW && evenH
	case image.YCbCrSubsampleRatio422:
		to, ok = r, evenW
		if swap {
			to = image.YCbCrSubsampleRatio440
		}
	case image.YCbCrSubsampleRatio440:
		to, ok = r, evenH
		if swap {
			to = image.YCbCrSubsampleRatio422
		}
	}
	return to, ok
}

// orientPlane copies a w×h plane of bpp-byte pixels (bpp 1 or 4) from src to dst,
// transformed for EXIF orientation o (2–8). dst must hold the result, which
// is h×w for o ≥ 5.
func orientPlane(dst []byte, dstride int, src []byte, sstride, w, h, bpp, o int) {
	// Each source pixel (x, y) lands at dst (X, Y) = (ax*x + bx*y + cx,
	// ay*x + by*y + cy).
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2: // mirrored horizontally
		ax, cx, by = -1, w-1, 1
	case 3: // turned 180°
		ax, cx, by, cy = -1, w-1, -1, h-1
	case 4: // mirrored vertically
		ax, by, cy = 1, -1, h-1
	case 5: // transposed
		bx, ay = 1, 1
	case 6: // needs a quarter turn clockwise
		bx, cx, ay = -1, h-1, 1
	case 7: // transversed
		bx, cx, ay, cy = -1, h-1, -1, w-1
	case 8: // needs a quarter turn anticlockwise
		bx, ay, cy = 1, -1, w-1
	default:
		return
	}
	// Step in dst for one pixel right in src. A quarter turn makes that
	// a whole dst row, so the copy goes in tiles small enough for the
	// dst rows they touch to stay in cache: 55 ms instead of 110–130 ms
	// row by row for a 12 MP 4:2:0 picture (BenchmarkOrient, 2026-11;
	// 32 and 128 measured no better).
	step := ax*bpp + ay*dstride
	const tile = 64
	for ty := 0; ty < h; ty += tile {
		for tx := 0; tx < w; tx += tile {
			tw := min(tile, w-tx)
			for y := ty; y < min(ty+tile, h); y++ {
				s := src[y*sstride+tx*bpp : y*sstride+(tx+tw)*bpp]
				di := (ax*tx+bx*y+cx)*bpp + (ay*tx+by*y+cy)*dstride
				if bpp == 1 {
					for _, v := range s {
						dst[di] = v
						di += step
					}
					continue
				}
				for x := 0; x+3 < len(s); x += 4 { // bpp == 4
					d := dst[di : di+4 : di+4]
					d[0], d[1], d[2], d[3] = s[x], s[x+1], s[x+2], s[x+3]
					di += step
				}
			}
		}
	}
}
