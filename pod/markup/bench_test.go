package markup

import (
	"strings"
	"testing"
)

// typicalPost is about 1 KB: what a diaspora* post usually holds.
const typicalPost = `## Weekend in the hills

Took the train up to the lakes on Saturday with @{Alice Example; alice@example.org} and
@{bob@pod.example}. The weather was *much* better than forecast — **sunny** all day.

Things we saw:

- a heron on the north shore
- the old mill (closed, sadly)
- far too many sheep

Photos are on my blog: https://blog.example.net/2026/05/hills and the route is
[here](https://maps.example.com/route?id=1234&zoom=12 "Route").

> The mountains are calling and I must go.

If you go, take the ` + "`08:12`" + ` train, not the later one. The café by the
station does great cake. ~~Parking is easy.~~ Parking is not easy.

#hiking #photography #lakes #weekend #Outdoors
`

// bigPost is about 64 KiB of typical posts, within MaxLength.
func bigPost() string {
	var b strings.Builder
	for b.Len()+len(typicalPost)+2 < MaxLength-200 {
		b.WriteString(typicalPost)
		b.WriteString("\n\n")
	}
	return b.String()
}

func benchmarkRender(b *testing.B, src string) {
	opts := Options{PersonURL: people}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(src, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender is the cost of showing a post: parse, walk, render,
// sanitise. As of 2026-11 on the 2-core dev VM, best of 5 while the VM was
// busy (load average 9–12): 1 KB ≈ 0.22 ms, 60 KB and 770 allocations;
// 64 KiB ≈ 18 ms, 4.9 MB and 68,000 allocations. About half is goldmark's
// parse, a third bluemonday.
func BenchmarkRender(b *testing.B) {
	b.Run("1KB", func(b *testing.B) { benchmarkRender(b, typicalPost) })
	b.Run("64KB", func(b *testing.B) { benchmarkRender(b, bigPost()) })
}

// BenchmarkTags is the cost of indexing a post's tags: parse and walk, no
// HTML. As of 2026-11, same conditions: 1 KB ≈ 85 µs, 21 KB and 157
// allocations.
func BenchmarkTags(b *testing.B) {
	b.SetBytes(int64(len(typicalPost)))
	b.ReportAllocs()
	for b.Loop() {
		if len(Tags(typicalPost)) != 5 {
			b.Fatal("tags")
		}
	}
}

// BenchmarkRenderHostile renders each hostile input (hostile_test.go),
// 64 KiB each. Budget: under a second each on the 2-core VM. As of 2026-11,
// same conditions, the slowest is table_pipes, ≈ 0.5 s wall (≈ 0.17 s of
// CPU: 64,000 empty cells, 1 MB of HTML for bluemonday), then tags
// (≈ 0.2 s); most take 10–100 ms. Before the guards in engine.go, 65,535
// '>' took 2.9 s and "[a](" repeated 2 s.
func BenchmarkRenderHostile(b *testing.B) {
	for _, h := range hostileInputs() {
		b.Run(h.name, func(b *testing.B) { benchmarkRender(b, h.src) })
	}
}
