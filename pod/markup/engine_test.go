package markup

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// TestIndexedReader checks segmentValue against goldmark's own
// blockReader.Value for every segment of every multi-line block of some
// documents with container prefixes and tabs (which give lines padding).
func TestIndexedReader(t *testing.T) {
	docs := []string{
		"one\ntwo\nthree [a\nb] four\n",
		"> quoted\n> lines\n>\tTabbed\n> end",
		"-\tfoo\n\tbar\n\t\tbaz\n  qux",
		"  > a\n  > b\tc\n  >  \t d",
		"1. x\n   y\n\n   > z\n   > w\n",
		"a|b\n-|-\nc|d\n\n*x*\n_y_ `z\nw`",
		"[a]: /u\n[b]: /v \"t\"\nrest\nof it",
	}
	e := engine()
	for _, doc := range docs {
		src := []byte(doc)
		root := e.parse(src)
		_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering || n.Type() != ast.TypeBlock || n.Lines() == nil || n.Lines().Len() < 2 {
				return ast.WalkContinue, nil
			}
			lines := n.Lines()
			goldmark := text.NewBlockReader(src, lines)
			from, to := lines.At(0).Start, lines.At(lines.Len()-1).Stop
			for start := from; start <= to; start++ {
				for stop := start; stop <= to; stop++ {
					seg := text.NewSegment(start, stop)
					want := goldmark.Value(seg)
					if got := segmentValue(src, lines, seg); !bytes.Equal(got, want) {
						t.Fatalf("%q: Value(%d, %d) = %q; goldmark's %q", doc, start, stop, got, want)
					}
				}
			}
			return ast.WalkContinue, nil
		})
	}
}

func TestReferenceGuard(t *testing.T) {
	defs := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString("[r]: https://e.example/\n")
		}
		return b.String() + "\n[r]"
	}
	// Read, the definitions vanish and "[r]" is a link; unread, they are
	// text (with autolinks) and "[r]" is text.
	if r := render(t, defs(maxReferenceLines), Options{}); strings.Contains(r.HTML, "[r]") {
		t.Errorf("%d definitions were not read", maxReferenceLines)
	}
	if r := render(t, defs(maxReferenceLines+1), Options{}); !strings.Contains(r.HTML, "<p>[r]</p>") {
		t.Errorf("%d definitions were read", maxReferenceLines+1)
	}
}
