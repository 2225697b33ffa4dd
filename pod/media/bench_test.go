package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"testing"
	"time"

	"golang.org/x/image/draw"
)

func benchProcess(b *testing.B, in []byte, kind Kind) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := Process(bytes.NewReader(in), kind, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// reportCPU adds CPU time per op (all threads, GC included) since start.
func reportCPU(b *testing.B, start time.Duration) {
	if cpu := processCPU() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkProcessPhotoJPEG is a 12 MP camera photo posted to a stream.
func BenchmarkProcessPhotoJPEG(b *testing.B) {
	benchProcess(b, encJPEG(b, photoLike(4000, 3000)), Photo)
}

// BenchmarkProcessPhotoJPEGRotated is the same photo taken in portrait:
// EXIF orientation 6, so the 12 MP image is turned before anything else.
func BenchmarkProcessPhotoJPEGRotated(b *testing.B) {
	benchProcess(b, insertAfterSOI(encJPEG(b, photoLike(4000, 3000)), exifAPP1(binary.LittleEndian, 6)), Photo)
}

// BenchmarkProcessAvatarPNG is an opaque 1000×1000 PNG set as a profile
// picture.
func BenchmarkProcessAvatarPNG(b *testing.B) {
	benchProcess(b, encPNG(b, photoLike(1000, 1000)), Avatar)
}

// BenchmarkProcessAvatarPNGAlpha is the same with transparency, so every
// output is PNG.
func BenchmarkProcessAvatarPNGAlpha(b *testing.B) {
	benchProcess(b, encPNG(b, withAlpha(1000, 1000)), Avatar)
}

// BenchmarkResample compares kernels on the three steps Process makes: the
// full-size photo to 700 wide, and the 700-wide picture's centre square to
// 100 and 50. The source is YCbCr 4:2:0, as a decoded JPEG is. "scale" is
// what Process does: box shrink to 2–4× the target, then CatmullRom.
func BenchmarkResample(b *testing.B) {
	full := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	copy(full.Y, photoLike(4000, 3000).Pix)
	large := scale(full, full.Bounds(), 700, 525)
	sq := centreSquare(large.Bounds())
	kernels := []struct {
		name string
		q    draw.Interpolator
	}{
		{"CatmullRom", draw.CatmullRom},
		{"BiLinear", draw.BiLinear},
		{"ApproxBiLinear", draw.ApproxBiLinear},
	}
	steps := []struct {
		name string
		src  image.Image
		sr   image.Rectangle
		w, h int
	}{
		{"4000x3000to700", full, full.Bounds(), 700, 525},
		{"525to100", large, sq, 100, 100},
		{"525to50", large, sq, 50, 50},
	}
	for _, s := range steps {
		b.Run(s.name+"/scale", func(b *testing.B) {
			b.ReportAllocs()
			start := processCPU()
			for b.Loop() {
				scale(s.src, s.sr, s.w, s.h)
			}
			reportCPU(b, start)
		})
		for _, k := range kernels {
			b.Run(s.name+"/"+k.name, func(b *testing.B) {
				b.ReportAllocs()
				start := processCPU()
				for b.Loop() {
					dst := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
					k.q.Scale(dst, dst.Bounds(), s.src, s.sr, draw.Src, nil)
				}
				reportCPU(b, start)
			})
		}
	}
}

// BenchmarkOrient is the cost of turning a decoded 12 MP JPEG upright.
func BenchmarkOrient(b *testing.B) {
	m := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		orient(m, 6)
	}
	reportCPU(b, start)
}
