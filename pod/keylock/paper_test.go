package keylock

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var day = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)

func sheetT(t testing.TB, key []byte) *Sheet {
	t.Helper()
	s, err := NewSheet(key, "alice@pod.example", day)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPaperRoundTrip(t *testing.T) {
	// Lines for each key as a plain and as a sealed sheet.
	wantLines := map[string][2]int{
		"rsa4096-pkcs8":       {21, 26},
		"rsa2048-pkcs1-bob":   {11, 16},
		"rsa2048-pkcs1-alice": {11, 16},
		"rsa2048-pkcs8-bob":   {11, 16},
		"rsa1024-pkcs1-spec":  {6, 11},
	}
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			fp, _ := Fingerprint(k.pem)
			sealed := sealT(t, k.pem, "p")
			for i, in := range [][]byte{k.pem, sealed, Armor(sealed)} {
				s := sheetT(t, in)
				kind := KindKey
				if i > 0 {
					kind = KindSealed
				}
				if s.Kind != kind || s.Fingerprint != fp {
					t.Fatalf("sheet %d: kind %s, fingerprint %s", i, s.Kind, s.Fingerprint)
				}
				if n := len(s.Lines()) - 1; n != wantLines[k.name][min(i, 1)] {
					t.Fatalf("sheet %d: %d lines, want %d", i, n, wantLines[k.name][min(i, 1)])
				}
				for _, text := range []string{s.Text(), strings.Join(s.Lines(), "\n")} {
					b, err := Restore(text)
					if err != nil {
						t.Fatal(err)
					}
					if b.Kind != kind || b.Fingerprint != fp {
						t.Fatalf("restored kind %s fingerprint %s", b.Kind, b.Fingerprint)
					}
					want := k.pem
					if kind == KindSealed {
						want = sealed
					}
					if !bytes.Equal(b.Data, want) {
						t.Fatal("restored data differs")
					}
				}
			}
			got, err := Open(mustRestore(t, sheetT(t, sealed).Text()).Data, []byte("p"))
			if err != nil || !bytes.Equal(got, k.pem) {
				t.Fatalf("open the restored sealed key: %v", err)
			}
		})
	}
}

func mustRestore(t testing.TB, text string) Backup {
	t.Helper()
	b, err := Restore(text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every line of the page that is not a numbered line or END is one Restore
// skips, whatever the label says.
func TestPaperTextSkipsProse(t *testing.T) {
	k := testKeys(t)[0]
	for _, key := range [][]byte{k.pem, sealT(t, k.pem, "p")} {
		s, err := NewSheet(key, "12 \n01 ABCDE\u2028END 5 AAAAA", day)
		if err != nil {
			t.Fatal(err)
		}
		lines := s.Lines()
		for _, l := range strings.Split(s.Text(), "\n") {
			if slices.Contains(lines, l) {
				continue
			}
			tok := strings.Fields(l)
			if len(tok) == 0 {
				continue
			}
			head := strings.TrimRight(tok[0], ":.")
			if _, num := lineNumber(head); num || strings.EqualFold(head, "END") {
				t.Fatalf("prose line %q reads as a numbered or END line", l)
			}
		}
		if strings.Contains(s.Text(), "\n01 ABCDE") {
			t.Fatal("the label put a line of its own on the page")
		}
	}
}

// A typo anywhere on any line is reported on that line alone, with the
// line as it should read.
func TestPaperTypoLocated(t *testing.T) {
	k := testKeys(t)[0]
	for _, s := range []*Sheet{sheetT(t, k.pem), sheetT(t, sealT(t, k.pem, "p"))} {
		lines := s.Lines()
		fixed := 0
		for i, l := range lines[:len(lines)-1] {
			body := strings.Fields(l)[1:]
			data := strings.Join(body[:len(body)-1], "")
			for _, pos := range []int{0, 4, 5, 17, len(data) - 1, len(data), len(data) + 3} {
				typo := retype(l, pos)
				text := strings.Join(slices.Concat(lines[:i], []string{typo}, lines[i+1:]), "\n")
				_, err := Restore(text)
				var te *TextError
				if !errors.As(err, &te) || !errors.Is(err, ErrBadText) {
					t.Fatalf("line %d char %d: %v", i+1, pos, err)
				}
				if len(te.Problems) != 1 || te.Problems[0].Line != i+1 || te.Problems[0].Input != i+1 {
					t.Fatalf("line %d char %d: problems %+v", i+1, pos, te.Problems)
				}
				switch te.Problems[0].Fix {
				case l:
					fixed++
				case "":
				default:
					t.Fatalf("line %d char %d: fix %q, want %q", i+1, pos, te.Problems[0].Fix, l)
				}
			}
		}
		// A 20-bit check leaves about one in a thousand typos without a
		// single fix; nearly all must have one.
		if total := 7 * (len(lines) - 1); fixed < total*95/100 {
			t.Fatalf("%d of %d typos came with a fix", fixed, total)
		}
	}
}

// retype changes the pos-th character of a line's data-and-check body to
// another character of the alphabet.
func retype(line string, pos int) string {
	var b strings.Builder
	seen := -1
	fields := 0
	inField := false
	for _, r := range line {
		if r == ' ' {
			inField = false
			b.WriteRune(r)
			continue
		}
		if !inField {
			fields++
			inField = true
		}
		if fields > 1 {
			seen++
			if seen == pos {
				i := strings.IndexRune(crockford, r)
				r = rune(crockford[(i+7)%len(crockford)])
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestPaperOtherTypos(t *testing.T) {
	s := sheetT(t, testKeys(t)[1].pem)
	lines := s.Lines()
	const i = 4 // line 05
	l := lines[i]
	for _, tc := range []struct {
		name, typed, where string
	}{
		{"character left out", strings.Replace(l, l[6:7], "", 1), "is missing"},
		{"character doubled", l[:7] + l[6:], "one too many"},
		{"neighbours swapped", swapFirstDifferent(l), "swapped"},
		{"check code typo", retype(l, 43), "check code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := slices.Clone(lines)
			lines[i] = tc.typed
			_, err := Restore(strings.Join(lines, "\n"))
			var te *TextError
			if !errors.As(err, &te) || len(te.Problems) != 1 {
				t.Fatalf("%v", err)
			}
			p := te.Problems[0]
			if p.Line != i+1 || p.Fix != l || !strings.Contains(p.Msg, tc.where) {
				t.Fatalf("problem %+v, want line %d, fix %q, %q in the message", p, i+1, l, tc.where)
			}
		})
	}
}

func swapFirstDifferent(l string) string {
	b := []byte(l)
	for j := 4; j+1 < len(b); j++ {
		if b[j] != ' ' && b[j+1] != ' ' && b[j] != b[j+1] {
			b[j], b[j+1] = b[j+1], b[j]
			return string(b)
		}
	}
	panic("no pair to swap")
}

// Case, whitespace, hyphens, O/0 and I/L/1, line order, CRLF and repeated
// lines do not matter.
func TestPaperTolerance(t *testing.T) {
	k := testKeys(t)[0]
	s := sheetT(t, k.pem)
	lines := s.Lines()
	rng := rand.New(rand.NewPCG(1, 2))
	var mangled []string
	for _, l := range lines {
		var b strings.Builder
		for _, r := range l {
			switch {
			case r == '0' && rng.IntN(2) == 0:
				r = rune("Oo"[rng.IntN(2)])
			case r == '1':
				r = rune("IiLl|"[rng.IntN(5)])
			case r == ' ':
				b.WriteString([]string{" ", "\t", "  ", "-"}[rng.IntN(4)])
				continue
			case rng.IntN(3) == 0:
				r = []rune(strings.ToLower(string(r)))[0]
			}
			b.WriteRune(r)
		}
		mangled = append(mangled, "  "+strings.Replace(b.String(), "-", " ", 1)+" ")
	}
	rng.Shuffle(len(mangled), func(i, j int) { mangled[i], mangled[j] = mangled[j], mangled[i] })
	mangled = append(mangled, mangled[3], mangled[0], "", "some note the user added")
	got := mustRestore(t, strings.Join(mangled, "\r\n"))
	if !bytes.Equal(got.Data, k.pem) {
		t.Fatal("restored key differs")
	}
	// "07:ABCDE …", the number glued on.
	var glued []string
	for _, l := range lines {
		glued = append(glued, strings.Replace(l, "  ", ":", 1))
	}
	if got := mustRestore(t, strings.Join(glued, "\n")); !bytes.Equal(got.Data, k.pem) {
		t.Fatal("restored key differs")
	}
	// A good copy of a line beside a mistyped one: the good one wins.
	withBad := append(slices.Clone(lines), retype(lines[2], 3))
	if _, err := Restore(strings.Join(withBad, "\n")); err != nil {
		t.Fatal(err)
	}
}

func TestPaperProblems(t *testing.T) {
	k := testKeys(t)[1]
	s := sheetT(t, k.pem)
	lines := s.Lines() // 11 lines and END
	other := sheetT(t, testKeys(t)[2].pem).Lines()
	n := len(lines) - 1
	end := lines[n]
	without := func(i int) []string { return slices.Concat(lines[:i], lines[i+1:]) }
	renum := func(l, num string) string { return num + l[2:] }
	for _, tc := range []struct {
		name  string
		text  []string
		want  []int  // the line numbers reported (0: END or whole text)
		inMsg string // in the first problem's message
	}{
		{"missing line", without(6), []int{7}, "missing"},
		{"typo, CRLF", slices.Concat(lines[:2], []string{retype(lines[2], 9) + "\r"}, lines[3:]), []int{3}, "check code"},
		{"two missing", slices.Concat(lines[:2], lines[4:]), []int{3, 4}, "missing"},
		{"wrong number", slices.Concat(lines[:3], []string{renum(lines[3], "05")}, lines[4:]), []int{4}, "numbered 05 has its characters"},
		{"numbers swapped", slices.Concat(lines[:3], []string{renum(lines[3], "05"), renum(lines[4], "04")}, lines[5:]), []int{4, 5}, "those of line 05"},
		{"a line too many", append(slices.Clone(lines), renum(lines[3], "12")), []int{12}, "no line 12"},
		{"twice, differently", append(slices.Clone(lines), other[4]), []int{5}, "twice"},
		{"line from another sheet", slices.Concat(lines[:4], []string{other[4]}, lines[5:]), []int{0}, "another sheet"},
		{"END missing", lines[:n], []int{0}, "END line missing"},
		{"END missing and a typo", slices.Concat(lines[:2], []string{retype(lines[2], 9)}, lines[3:n]), []int{3, 0}, "check code"},
		{"END typo", append(slices.Clone(lines[:n]), retype(end, 6)), []int{0}, "END line: check code"},
		{"END length typo", append(slices.Clone(lines[:n]), strings.Replace(end, "265", "256", 1)), []int{0}, "END line"},
		{"END from another sheet", append(slices.Clone(lines), other[len(other)-1]), []int{0}, "disagree"},
		{"END cut short", append(slices.Clone(lines[:n]), "END 265"), []int{0}, "END line"},
		{"nothing after the number", slices.Concat(lines[:2], []string{"03"}, lines[3:]), []int{3}, "nothing after"},
		{"a letter not on the sheet", slices.Concat(lines[:1], []string{lines[1][:8] + "U" + lines[1][9:]}, lines[2:]), []int{2}, "'U' at group 1, character 5"},
		{"empty", nil, []int{0}, "END line missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Restore(strings.Join(tc.text, "\n"))
			var te *TextError
			if !errors.As(err, &te) {
				t.Fatalf("Restore: %v", err)
			}
			var got []int
			for _, p := range te.Problems {
				got = append(got, p.Line)
			}
			if !slices.Equal(got, tc.want) || !strings.Contains(te.Problems[0].Msg, tc.inMsg) {
				t.Fatalf("problems %+v; want lines %v, %q in the first", te.Problems, tc.want, tc.inMsg)
			}
			if !strings.Contains(err.Error(), te.Problems[0].Msg) {
				t.Fatalf("error text %q lacks the first problem", err)
			}
			if tc.name == "typo, CRLF" && te.Problems[0].Input != 3 {
				t.Fatalf("input line %d, want 3", te.Problems[0].Input)
			}
			if tc.name == "a letter not on the sheet" && te.Problems[0].Fix != lines[1] {
				t.Fatalf("fix %q, want %q", te.Problems[0].Fix, lines[1])
			}
		})
	}
}

func TestPaperCaps(t *testing.T) {
	for name, text := range map[string]string{
		"too big":        strings.Repeat("a", maxTextBytes+1),
		"too many lines": strings.Repeat("\n", maxInputLines),
		"long line":      "01 " + strings.Repeat("A", maxLineBytes),
		"many problems":  strings.Repeat("01 AAAAA\n02 BBBBB\n", 200),
	} {
		_, err := Restore(text)
		var te *TextError
		if !errors.As(err, &te) || len(te.Problems) > maxProblems+1 {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// A sheet whose payload is a hostile sealed blob (lines that check, a
// blob over the caps) is refused as such.
func TestPaperHostileSealed(t *testing.T) {
	sealed := withParams(sealT(t, testKeys(t)[1].pem, "p"), Params{Time: 1, MemoryKiB: 4 << 20, Threads: 1})
	s := &Sheet{Kind: KindSealed, payload: sealed}
	if _, err := Restore(strings.Join(s.Lines(), "\n")); !errors.Is(err, ErrBadParams) {
		t.Fatalf("Restore: %v, want ErrBadParams", err)
	}
	if _, err := NewSheet(sealed, "", day); !errors.Is(err, ErrBadParams) {
		t.Fatalf("NewSheet: %v, want ErrBadParams", err)
	}
	s = &Sheet{Kind: KindKey, payload: []byte{1, 1, 1, 0, 1, 0, 1, 0, 1, 7, 7}}
	if _, err := Restore(strings.Join(s.Lines(), "\n")); !errors.Is(err, ErrBadKey) {
		t.Fatalf("Restore of a bad key payload: %v, want ErrBadKey", err)
	}
}
