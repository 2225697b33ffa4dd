package keylock

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The paper text. The payload (a key payload or a sealed blob) is written in
// Crockford's base32 — digits and capitals without I, L, O and U, so what a
// person or an OCR reads as O, I or L can only mean 0 or 1 — in numbered
// lines of eight five-character groups (25 bytes), each line ending with a
// four-character check code over its number and its characters, then an END
// line with the payload length and a 50-bit hash of the whole payload:
//
//	01  8A2QT 0K3MB ... 4ZH7C  QF3D
//	...
//	26  M9X2F 7  K0PA
//	END  645  W1R9N D4KQ2  7TJ3
//
// A typo fails the check of its own line, so Restore names the line (and,
// when a single typo explains it, the character); a line typed twice or left
// out is named too. Lines that start with neither a number nor END
// (headings, instructions) are ignored, so the whole printed text can be
// pasted back.
const (
	crockford     = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	groupLen      = 5
	groupsPerLine = 8
	lineChars     = groupLen * groupsPerLine // 40 characters, 25 bytes
	lineBytes     = lineChars * 5 / 8
	checkChars    = 4 // 20 bits of CRC-32
	hashChars     = 10

	// Caps on what Restore reads.
	maxTextBytes  = 256 << 10
	maxInputLines = 4096
	maxLineBytes  = 1024
	maxProblems   = 64
)

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// Kind says what a paper backup holds.
type Kind string

const (
	// KindKey: the private key itself, not locked. Whoever holds it is you.
	KindKey Kind = "key"
	// KindSealed: the sealed key; it needs the passphrase to open.
	KindSealed Kind = "sealed"
)

// ErrBadText: Restore could not read the text back; the error is a
// *TextError naming each bad line.
var ErrBadText = errors.New("keylock: paper backup text does not restore")

// Problem is one thing wrong with a restored text.
type Problem struct {
	// Line is the printed line number; 0 for the END line or the whole text.
	Line int `json:"line"`
	// Input is the 1-based line of the text given to Restore; 0 when the
	// line is missing from it.
	Input int `json:"input"`
	// Msg says what is wrong, in words for the user.
	Msg string `json:"msg"`
	// Fix is the line as it probably should read, when exactly one typo
	// (one character wrong, missing, extra, or two swapped) explains the
	// failed check; empty otherwise.
	Fix string `json:"fix,omitempty"`
}

func (p Problem) String() string {
	s := p.Msg
	if p.Line > 0 {
		s = fmt.Sprintf("line %02d: %s", p.Line, s)
	}
	if p.Input > 0 {
		s += fmt.Sprintf(" (input line %d)", p.Input)
	}
	return s
}

// TextError lists everything wrong with a text given to Restore (at most
// 64 problems).
type TextError struct {
	Problems []Problem
}

func (e *TextError) Error() string {
	var b strings.Builder
	b.WriteString(ErrBadText.Error())
	for i, p := range e.Problems {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *TextError) Unwrap() error { return ErrBadText }

// Backup is what Restore and RestoreQR give back.
type Backup struct {
	Kind Kind
	// Data is the key PEM (KindKey) or the binary sealed key (KindSealed:
	// Open it with the passphrase, or Armor it to store it).
	Data []byte
	// Fingerprint of the key's public half (Fingerprint). For a sealed key it
	// is read from its header and checked by Open.
	Fingerprint string
}

// Sheet is a paper backup ready to print: Text, QRCodes, HTML.
type Sheet struct {
	Kind        Kind
	Fingerprint string
	// Label names the identity on the page (e.g. alice@pod.example); it is
	// printed, not encoded.
	Label string
	// Created is printed as the sheet's date (UTC).
	Created time.Time

	payload []byte
}

// NewSheet prepares the paper backup of key: a sealed key (binary or
// armored; it needs its passphrase to be restored — the safer sheet) or a
// key PEM (restores on its own — keep it in a safe). label and created are
// printed on the page. A sealed sheet is worth only as much as the user's
// memory of the passphrase: have them type it once (Open) before printing.
func NewSheet(key []byte, label string, created time.Time) (*Sheet, error) {
	s := &Sheet{Label: cleanLabel(label), Created: created}
	if IsSealed(key) {
		blob, err := unarmor(key)
		if err != nil {
			return nil, fmt.Errorf("paper backup: %w", err)
		}
		info, err := parseHeader(blob, defaultLimits())
		if err != nil {
			return nil, fmt.Errorf("paper backup: %w", err)
		}
		s.Kind, s.Fingerprint, s.payload = KindSealed, info.Fingerprint, append([]byte(nil), blob...)
		return s, nil
	}
	k, err := parseKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("paper backup: %w", err)
	}
	s.Kind, s.Fingerprint, s.payload = KindKey, k.fingerprintHex(), encodeKey(k)
	return s, nil
}

func cleanLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return s
}

// Lines returns the numbered lines and the END line: what a user types back.
func (s *Sheet) Lines() []string {
	enc := b32.EncodeToString(s.payload)
	n := (len(enc) + lineChars - 1) / lineChars
	out := make([]string, 0, n+1)
	for i := range n {
		data := enc[i*lineChars : min(len(enc), (i+1)*lineChars)]
		out = append(out, formatLine(i+1, n, data, lineCheck(i+1, data)))
	}
	h := payloadHash(s.payload)
	out = append(out, fmt.Sprintf("END  %d  %s %s  %s", len(s.payload), h[:5], h[5:], endCheck(len(s.payload), h)))
	return out
}

func numberWidth(lines int) int {
	if lines > 99 {
		return 3
	}
	return 2
}

// lineCheck is a data line's check code: 20 bits of CRC-32 over its number
// and characters, so a typo, a wrong number or a line from elsewhere fails.
func lineCheck(n int, data string) string {
	return check20(strconv.Itoa(n) + ":" + data)
}

func endCheck(length int, hash string) string {
	return check20("END:" + strconv.Itoa(length) + ":" + hash)
}

func check20(s string) string {
	c := code20(crc32.ChecksumIEEE([]byte(s)))
	return string(c[:])
}

// code20 writes the low 20 bits of a CRC as four Crockford characters.
func code20(v uint32) [checkChars]byte {
	var out [checkChars]byte
	for i := checkChars - 1; i >= 0; i-- {
		out[i] = crockford[v&31]
		v >>= 5
	}
	return out
}

// payloadHash is the END line's hash: the first 50 bits of SHA-256.
func payloadHash(p []byte) string {
	h := sha256.Sum256(p)
	return b32.EncodeToString(h[:])[:hashChars]
}

// ocr maps a typed or scanned character to its Crockford character: case
// folded, O→0, I and L→1; ok is false for anything else.
func ocr(r rune) (byte, bool) {
	switch r {
	case 'O', 'o':
		return '0', true
	case 'I', 'i', 'L', 'l', '|':
		return '1', true
	}
	if r < 128 {
		c := byte(unicode.ToUpper(r))
		if strings.IndexByte(crockford, c) >= 0 {
			return c, true
		}
	}
	return 0, false
}

// inputLine is a numbered line as typed.
type inputLine struct {
	n     int    // printed number
	input int    // line of the input, 1-based
	body  string // data and check code in Crockford characters, '?' for others
	odd   []rune // what was typed where body has '?'
}

type endLine struct {
	input  int
	length int
	hash   string
}

// Restore reads a paper backup back from text (typed, pasted, or OCR'd):
// whitespace, letter case, hyphens and the O/0, I/1, L/1 confusions do not
// matter, lines may come in any order and twice. On failure the error is a
// *TextError (errors.Is ErrBadText) naming every bad line.
func Restore(text string) (Backup, error) {
	if len(text) > maxTextBytes {
		return Backup{}, &TextError{Problems: []Problem{{Msg: fmt.Sprintf("%d bytes of text, at most %d", len(text), maxTextBytes)}}}
	}
	raw := strings.Split(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n")
	if len(raw) > maxInputLines {
		return Backup{}, &TextError{Problems: []Problem{{Msg: fmt.Sprintf("%d lines of text, at most %d", len(raw), maxInputLines)}}}
	}
	var (
		probs   problems
		lines   = map[int][]inputLine{}
		all     []inputLine
		ends    []endLine
		badEnds int
	)
	for i, s := range raw {
		in := i + 1
		if len(s) > maxLineBytes {
			probs.add(Problem{Input: in, Msg: fmt.Sprintf("%d characters on one line, at most %d", len(s), maxLineBytes)})
			continue
		}
		tok := strings.Fields(s)
		if len(tok) == 0 {
			continue
		}
		if h, rest, ok := strings.Cut(tok[0], ":"); ok && rest != "" && len(h) <= 4 { // "07:ABCDE"
			tok = slices.Concat([]string{h, rest}, tok[1:])
		}
		head := strings.TrimRight(tok[0], ":.")
		if strings.EqualFold(head, "END") {
			e, err := parseEnd(tok[1:])
			if err != "" {
				probs.add(Problem{Input: in, Msg: "END line: " + err})
				badEnds++
				continue
			}
			e.input = in
			ends = append(ends, e)
			continue
		}
		n, ok := lineNumber(head)
		if !ok {
			continue // a heading or an instruction
		}
		l := typedLine(strings.Join(tok[1:], ""))
		l.n, l.input = n, in
		lines[n] = append(lines[n], l)
		all = append(all, l)
	}
	end, ok := pickEnd(ends, badEnds, &probs)
	if !ok {
		checkWithoutEnd(lines, all, &probs)
		return Backup{}, probs.err()
	}
	total := (payloadChars(end.length) + lineChars - 1) / lineChars
	var data strings.Builder
	for n := 1; n <= total; n++ {
		want := lineChars
		if n == total {
			want = payloadChars(end.length) - lineChars*(total-1)
		}
		if got, ok := pickLine(n, want, total, lines[n], all, &probs); ok {
			data.WriteString(got)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(lines)) {
		if n < 1 || n > total {
			probs.add(Problem{Line: n, Input: lines[n][0].input, Msg: fmt.Sprintf("there is no line %d: the END line says the sheet has %d", n, total)})
		}
	}
	if len(probs.list) > 0 {
		return Backup{}, probs.err()
	}
	payload, err := b32.DecodeString(data.String())
	if err != nil || len(payload) != end.length {
		return Backup{}, (&problems{list: []Problem{{Input: end.input, Msg: fmt.Sprintf("END: the lines decode to %d bytes, the END line says %d", len(payload), end.length)}}}).err()
	}
	if h := payloadHash(payload); h != end.hash {
		return Backup{}, (&problems{list: []Problem{{Input: end.input, Msg: "END: every line passes its check, but together they do not match the END line's hash: " +
			"is a line from another sheet, or did a typo slip past its line's check?"}}}).err()
	}
	return fromPayload(payload)
}

// fromPayload interprets a restored payload: a sealed blob or a key payload.
func fromPayload(payload []byte) (Backup, error) {
	if IsSealed(payload) {
		info, err := parseHeader(payload, defaultLimits())
		if err != nil {
			return Backup{}, fmt.Errorf("restore paper backup: the sealed key it holds: %w", err)
		}
		return Backup{Kind: KindSealed, Data: payload, Fingerprint: info.Fingerprint}, nil
	}
	k, err := decodeKey(payload)
	if err != nil {
		return Backup{}, fmt.Errorf("restore paper backup: the key it holds: %w", err)
	}
	return Backup{Kind: KindKey, Data: k.pem(), Fingerprint: k.fingerprintHex()}, nil
}

// payloadChars is the number of base32 characters for n bytes.
func payloadChars(n int) int { return (n*8 + 4) / 5 }

func lineNumber(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		c, ok := ocr(r)
		if !ok || c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// crockfordBody maps typed characters to Crockford ones, dropping hyphens;
// bad says which character is not one.
func crockfordBody(s string) (body, bad string) {
	var b strings.Builder
	for _, r := range s {
		if r == '-' {
			continue
		}
		c, ok := ocr(r)
		if !ok {
			return "", fmt.Sprintf("%q (character %d of the line's data) is not used on the sheet", r, b.Len()+1)
		}
		b.WriteByte(c)
	}
	return b.String(), ""
}

// parseEnd reads the fields after END: the length, the hash (in any number
// of groups) and the check code (the last four characters).
func parseEnd(tok []string) (endLine, string) {
	if len(tok) < 2 {
		return endLine{}, "want the length, the hash and the check code"
	}
	length, err := strconv.Atoi(strings.Map(func(r rune) rune {
		if c, ok := ocr(r); ok {
			return rune(c)
		}
		return r
	}, tok[0]))
	if err != nil || length < 1 || length > MaxSealed {
		return endLine{}, fmt.Sprintf("length %q is not a number from 1 to %d", tok[0], MaxSealed)
	}
	body, bad := crockfordBody(strings.Join(tok[1:], ""))
	if bad != "" {
		return endLine{}, bad
	}
	if len(body) != hashChars+checkChars {
		return endLine{}, fmt.Sprintf("the hash and check code are %d characters, want %d", len(body), hashChars+checkChars)
	}
	h, c := body[:hashChars], body[hashChars:]
	if endCheck(length, h) != c {
		return endLine{}, "check code does not match: a typo in the END line"
	}
	return endLine{length: length, hash: h}, ""
}

func pickEnd(ends []endLine, badEnds int, probs *problems) (endLine, bool) {
	switch {
	case len(ends) == 0 && badEnds == 0:
		probs.add(Problem{Msg: "END line missing: the last line of the sheet (END, the length, the hash, the check code) is needed"})
		return endLine{}, false
	case len(ends) == 0:
		return endLine{}, false
	}
	for _, e := range ends[1:] {
		if e.length != ends[0].length || e.hash != ends[0].hash {
			probs.add(Problem{Input: e.input, Msg: fmt.Sprintf("END lines disagree (input lines %d and %d): two different sheets?", ends[0].input, e.input)})
			return endLine{}, false
		}
	}
	return ends[0], true
}

// checkWithoutEnd still checks the lines when the END line is missing or
// bad: every line but the last is full, the last is as long as it was typed.
func checkWithoutEnd(lines map[int][]inputLine, all []inputLine, probs *problems) {
	total := 0
	for n := range lines {
		if n > total && n <= MaxSealed/lineBytes+1 {
			total = n
		}
	}
	for n := 1; n <= total; n++ {
		want := lineChars
		if n == total && len(lines[n]) > 0 {
			want = min(lineChars, max(1, len(lines[n][0].body)-checkChars))
		}
		pickLine(n, want, total, lines[n], all, probs)
	}
}

// typedLine maps a numbered line's characters (after the number) to
// Crockford ones, dropping hyphens, '?' standing for anything else.
func typedLine(s string) inputLine {
	var l inputLine
	var b strings.Builder
	for _, r := range s {
		if r == '-' {
			continue
		}
		c, ok := ocr(r)
		if !ok {
			c = '?'
			l.odd = append(l.odd, r)
		}
		b.WriteByte(c)
	}
	l.body = b.String()
	return l
}

// pickLine returns the data of line n, checked, or records why not. all
// is every numbered line given, to point at the one that may be line n
// under a mistyped number.
func pickLine(n, want, total int, got, all []inputLine, probs *problems) (string, bool) {
	if len(got) == 0 {
		p := Problem{Line: n, Msg: "missing"}
		if !probs.full() {
			for _, l := range all {
				if l.n != n && len(l.body) == want+checkChars && lineCheck(n, l.body[:want]) == l.body[want:] {
					p.Input = l.input
					p.Msg = fmt.Sprintf("missing; the line numbered %02d has its characters: is its number right?", l.n)
					break
				}
			}
		}
		probs.add(p)
		return "", false
	}
	var good string
	var goodInput int
	for _, l := range got {
		if len(l.body) == want+checkChars && lineCheck(n, l.body[:want]) == l.body[want:] {
			switch {
			case good == "":
				good, goodInput = l.body[:want], l.input
			case good != l.body[:want]:
				probs.add(Problem{Line: n, Input: l.input, Msg: fmt.Sprintf("given twice, differently (input lines %d and %d)", goodInput, l.input)})
				return "", false
			}
		}
	}
	if good != "" {
		return good, true // copies with typos beside a good one do not matter
	}
	for _, l := range got {
		if probs.full() {
			probs.dropped++
			continue
		}
		probs.add(diagnose(n, want, total, l))
	}
	return "", false
}

// diagnose explains a line that fails its check: a wrong length, a number
// that belongs to another line, or one typo that can be pointed at.
func diagnose(n, want, total int, l inputLine) Problem {
	p := Problem{Line: n, Input: l.input}
	if l.body == "" {
		p.Msg = "nothing after the line number"
		return p
	}
	if i := strings.IndexByte(l.body, '?'); i >= 0 {
		p.Msg = fmt.Sprintf("%q at %s is not a character of the sheet", l.odd[0], position(i, want))
		if len(l.odd) == 1 && len(l.body) == want+checkChars {
			if fix, where := oneTypo(n, want, l.body, i); fix != "" {
				p.Msg += "; probably " + where
				p.Fix = formatLine(n, total, fix[:want], fix[want:])
			}
		}
		return p
	}
	switch d := len(l.body) - (want + checkChars); {
	case d < 0:
		p.Msg = fmt.Sprintf("%d characters with the check code, want %d: %d missing", len(l.body), want+checkChars, -d)
	case d > 0:
		p.Msg = fmt.Sprintf("%d characters with the check code, want %d: %d too many", len(l.body), want+checkChars, d)
	default:
		p.Msg = "check code does not match: a typo on this line"
	}
	if m := renumbered(n, total, l.body); m > 0 {
		p.Msg += fmt.Sprintf("; its characters are those of line %02d: is the line number right?", m)
		return p
	}
	if fix, where := oneTypo(n, want, l.body, -1); fix != "" {
		p.Msg += "; probably " + where
		p.Fix = formatLine(n, total, fix[:want], fix[want:])
	}
	return p
}

// renumbered returns the other line number whose check body passes, if
// exactly one does.
func renumbered(n, total int, body string) int {
	found := 0
	for m := 1; m <= total; m++ {
		if m == n || len(body) < checkChars {
			continue
		}
		w := len(body) - checkChars
		if lineCheck(m, body[:w]) == body[w:] {
			if found != 0 {
				return 0
			}
			found = m
		}
	}
	return found
}

// oneTypo looks for the single edit (substitution, deletion, insertion,
// swap of neighbours) that makes body pass line n's check. It returns the
// fixed body and where the typo is, or "" when none or several fit (a
// 20-bit check leaves ~1,300 candidates a 0.1% chance of a false fit; the
// END hash catches that). only ≥ 0 limits the search to substitutions of
// that character.
func oneTypo(n, want int, body string, only int) (fix, where string) {
	target := want + checkChars
	prefix := crc32.ChecksumIEEE([]byte(strconv.Itoa(n) + ":"))
	var found []string
	var whereFound string
	// try reports whether to go on; where is only built for a fit.
	try := func(c []byte, where func() string) bool {
		if len(c) != target {
			return true
		}
		code := code20(crc32.Update(prefix, crc32.IEEETable, c[:want]))
		if !bytes.Equal(code[:], c[want:]) || slices.Contains(found, string(c)) {
			return true
		}
		found, whereFound = append(found, string(c)), where()
		return len(found) < 2
	}
	b := []byte(body)
	buf := make([]byte, 0, len(body)+1)
	switch d := len(body) - target; {
	case only >= 0:
		for j := 0; j < len(crockford); j++ {
			b[only] = crockford[j]
			if !try(b, func() string { return fmt.Sprintf("%s should be %c", position(only, want), crockford[j]) }) {
				return "", ""
			}
		}
	case d == 0:
		for i := range b {
			orig := b[i]
			for j := 0; j < len(crockford); j++ {
				if crockford[j] == orig {
					continue
				}
				b[i] = crockford[j]
				if !try(b, func() string { return fmt.Sprintf("%s reads %c, should be %c", position(i, want), orig, crockford[j]) }) {
					return "", ""
				}
			}
			b[i] = orig
		}
		for i := 0; i+1 < len(b); i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			ok := try(b, func() string { return fmt.Sprintf("%s and the next are swapped", position(i, want)) })
			b[i], b[i+1] = b[i+1], b[i]
			if !ok {
				return "", ""
			}
		}
	case d == 1:
		for i := range b {
			buf = append(append(buf[:0], body[:i]...), body[i+1:]...)
			if !try(buf, func() string { return fmt.Sprintf("%s (%c) is one too many", position(i, want), body[i]) }) {
				return "", ""
			}
		}
	case d == -1:
		for i := 0; i <= len(b); i++ {
			for j := 0; j < len(crockford); j++ {
				buf = append(append(append(buf[:0], body[:i]...), crockford[j]), body[i:]...)
				if !try(buf, func() string { return fmt.Sprintf("a %c is missing at %s", crockford[j], position(i, want)) }) {
					return "", ""
				}
			}
		}
	}
	if len(found) != 1 {
		return "", ""
	}
	return found[0], whereFound
}

// position names character i of a line body for a person: a group and a
// character in it, or the check code.
func position(i, want int) string {
	if i >= want {
		return fmt.Sprintf("character %d of the check code", i-want+1)
	}
	return fmt.Sprintf("group %d, character %d", i/groupLen+1, i%groupLen+1)
}

func formatLine(n, total int, data, check string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%0*d ", numberWidth(total), n)
	for g := 0; g < len(data); g += groupLen {
		b.WriteByte(' ')
		b.WriteString(data[g:min(len(data), g+groupLen)])
	}
	b.WriteString("  ")
	b.WriteString(check)
	return b.String()
}

// problems collects Problems up to maxProblems.
type problems struct {
	list    []Problem
	dropped int
}

func (p *problems) full() bool { return len(p.list) >= maxProblems }

func (p *problems) add(x Problem) {
	if p.full() {
		p.dropped++
		return
	}
	p.list = append(p.list, x)
}

// err returns the problems as a *TextError, in line order (problems without
// a line number last, in the order found).
func (p *problems) err() error {
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b Problem) int {
		key := func(x Problem) int {
			if x.Line > 0 {
				return x.Line
			}
			return math.MaxInt
		}
		return cmp.Compare(key(a), key(b))
	})
	if p.dropped > 0 {
		list = append(list, Problem{Msg: fmt.Sprintf("and %d more problems", p.dropped)})
	}
	return &TextError{Problems: list}
}
