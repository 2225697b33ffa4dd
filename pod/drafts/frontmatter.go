package drafts

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits of a draft file. A file above MaxFileSize is not read at all (the
// draft shows the error); the front matter has its own, smaller cap, so the
// YAML parser never sees much.
const (
	MaxFileSize        = 1 << 20
	maxFrontMatter     = 64 << 10
	maxShortText       = 255 // aspect names, tags, content warning, address, poll texts (diaspora*'s string columns)
	maxTags            = 50
	maxPhotos          = 100 // as a draft holds (pod)
	maxPollAnswers     = 20
	maxAspectsInFile   = 100
	maxPhotoPathLength = 1024
)

// ErrFrontMatter is wrapped by every refusal of Parse: the file's front
// matter (or its size or encoding) is not what a draft file holds.
var ErrFrontMatter = errors.New("not a draft file")

// PhotoRefPrefix marks a photo that is already in the pod (added in the
// app, so it has no file in the folder): "photo:<guid>".
const PhotoRefPrefix = "photo:"

// File is a draft file: its front matter and its Markdown body.
type File struct {
	Audience Audience
	// Tags are hashtags without '#', unique (any case), as written.
	Tags []string
	NSFW bool
	// ContentWarning is one line shown before the text.
	ContentWarning string
	Location       *Location
	// Photos are paths relative to the file (with '/'), or PhotoRefPrefix
	// and a photo guid.
	Photos []string
	Poll   *Poll
	// Body is the Markdown after the front matter, without leading blank
	// lines and trailing white space.
	Body string
}

// Audience is who a draft is for. The zero value is "not chosen yet": the
// draft cannot be published until it is.
type Audience struct {
	Public bool
	// Aspects are aspect names (the pod matches them regardless of case).
	Aspects []string
}

// Location is a post's location.
type Location struct {
	Address  string
	Lat, Lng float64
}

// Poll is a post's poll.
type Poll struct {
	Question string
	Answers  []string
}

// Keys of the front matter, in the order Render writes them.
var frontMatterKeys = []string{"audience", "tags", "nsfw", "content_warning", "location", "photos", "poll"}

// Parse reads a draft file: optional YAML front matter between a first line
// "---" and a line "---" (or "..."), then the Markdown body. A file without
// front matter is all body. The file must be valid UTF-8 of at most
// MaxFileSize bytes; unknown keys, wrong types, anchors and aliases, and
// values out of range are refused with an error naming the line. Every
// refusal wraps ErrFrontMatter.
func Parse(data []byte) (File, error) {
	var f File
	if len(data) > MaxFileSize {
		return f, fmt.Errorf("%w: the file has %d bytes; a draft file has at most %d (1 MiB)", ErrFrontMatter, len(data), MaxFileSize)
	}
	if !utf8.Valid(data) {
		return f, fmt.Errorf("%w: the file is not valid UTF-8 text", ErrFrontMatter)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	fm, body, has, err := splitFrontMatter(data)
	if err != nil {
		return f, err
	}
	f.Body = trimBody(string(body))
	if !has {
		return f, nil
	}
	if len(fm) > maxFrontMatter {
		return f, fmt.Errorf("%w: the front matter has %d bytes; at most %d", ErrFrontMatter, len(fm), maxFrontMatter)
	}
	if err := decodeFrontMatter(fm, &f); err != nil {
		return File{}, err
	}
	return f, nil
}

// splitFrontMatter cuts data into the front matter's YAML and the body.
func splitFrontMatter(data []byte) (fm, body []byte, has bool, err error) {
	first, rest, ok := cutLine(data)
	if !isDelimiter(first, "---") {
		return nil, data, false, nil
	}
	if !ok {
		return nil, nil, false, fmt.Errorf("%w: line 1 opens the front matter with --- but no line --- closes it", ErrFrontMatter)
	}
	start := len(data) - len(rest)
	for pos := start; pos < len(data); {
		line, next, _ := cutLine(data[pos:])
		if isDelimiter(line, "---") || isDelimiter(line, "...") {
			return data[start:pos], next, true, nil
		}
		pos = len(data) - len(next)
		if pos-start > maxFrontMatter {
			break
		}
	}
	return nil, nil, false, fmt.Errorf("%w: line 1 opens the front matter with --- but no line --- closes it", ErrFrontMatter)
}

// cutLine splits off the first line (without its line end); ok is false
// when there is no line end.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
}

func isDelimiter(line []byte, d string) bool {
	return string(bytes.TrimRight(line, " \t")) == d
}

// trimBody drops the body's leading blank lines (not the indentation of
// its first line, which may be a code block) and its trailing white space.
func trimBody(s string) string {
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok || strings.TrimSpace(line) != "" {
			break
		}
		s = rest
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return strings.TrimRightFunc(s, unicode.IsSpace)
}

// fmError is a front matter error at a line of the file (the YAML's line
// plus the opening "---").
func fmError(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrFrontMatter, n.Line+1, fmt.Sprintf(format, args...))
}

func decodeFrontMatter(fm []byte, f *File) (err error) {
	if len(bytes.TrimSpace(fm)) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yamlUnmarshal(fm, &doc); err != nil {
		return fmt.Errorf("%w: the front matter is not valid YAML: %s", ErrFrontMatter, yamlMessage(err))
	}
	if doc.Kind == 0 {
		return nil
	}
	if err := noAliases(&doc, 0); err != nil {
		return err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmError(root, "the front matter is a list of keys (audience:, tags:, …), not %s", kindName(root))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmError(k, "a key is a plain word")
		}
		key := k.Value
		if seen[key] {
			return fmError(k, "%q is given twice", clip(key))
		}
		seen[key] = true
		if isNull(v) {
			continue
		}
		var err error
		switch key {
		case "audience":
			f.Audience, err = decodeAudience(v)
		case "tags":
			f.Tags, err = decodeTags(v)
		case "nsfw":
			f.NSFW, err = decodeBool(v, "nsfw")
		case "content_warning":
			f.ContentWarning, err = decodeShort(v, "content_warning", true)
		case "location":
			f.Location, err = decodeLocation(v)
		case "photos":
			f.Photos, err = decodePhotos(v)
		case "poll":
			f.Poll, err = decodePoll(v)
		default:
			return fmError(k, "unknown key %q (a draft file knows %s)", clip(key), strings.Join(frontMatterKeys, ", "))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// yamlUnmarshal is yaml.Unmarshal that turns a panic of the parser into
// an error: the input is a user's file, and no file may stop the watcher.
func yamlUnmarshal(b []byte, out *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	return yaml.Unmarshal(b, out)
}

// yamlLine finds the line numbers in the YAML parser's messages.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// yamlMessage is a yaml error without the package's prefix, its line
// numbers counted in the file (the YAML starts on line 2).
func yamlMessage(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = yamlLine.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if err != nil {
			return m
		}
		return "line " + strconv.Itoa(n+1)
	})
	return clipN(s, 300)
}

// noAliases refuses anchors and aliases (a draft never needs them, and
// they are how YAML bombs work) and overly deep nesting.
func noAliases(n *yaml.Node, depth int) error {
	if depth > 20 {
		return fmError(n, "the front matter nests too deeply")
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return fmError(n, "anchors and aliases (& and *) are not allowed in a draft's front matter")
	}
	for _, c := range n.Content {
		if err := noAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", clip(n.Value))
	}
	return "that"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// scalarString is a scalar's text; numbers and booleans are accepted as
// text (an aspect named 2024, a tag yes).
func scalarString(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmError(n, "%s is text, not %s", what, kindName(n))
	}
	return n.Value, nil
}

// decodeShort reads one line of text of at most maxShortText characters.
func decodeShort(n *yaml.Node, what string, allowEmpty bool) (string, error) {
	s, err := scalarString(n, what)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if err := checkShort(s, what); err != nil {
		return "", fmError(n, "%v", err)
	}
	if s == "" && !allowEmpty {
		return "", fmError(n, "%s is empty", what)
	}
	return s, nil
}

// checkShort: one line of at most maxShortText characters, no control
// characters.
func checkShort(s, what string) error {
	if utf8.RuneCountInString(s) > maxShortText {
		return fmt.Errorf("%s is longer than %d characters", what, maxShortText)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s is one line of text without control characters", what)
		}
	}
	return nil
}

// list reads a sequence, or a single scalar as a list of one.
func list(n *yaml.Node, what string, max int) ([]*yaml.Node, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{n}, nil
	case yaml.SequenceNode:
		if len(n.Content) > max {
			return nil, fmError(n, "%s has %d entries; at most %d", what, len(n.Content), max)
		}
		return n.Content, nil
	}
	return nil, fmError(n, "%s is a list, not %s", what, kindName(n))
}

func decodeAudience(n *yaml.Node) (Audience, error) {
	var a Audience
	items, err := list(n, "audience", maxAspectsInFile)
	if err != nil {
		return a, err
	}
	for _, it := range items {
		if isNull(it) {
			continue
		}
		name, err := decodeShort(it, "an aspect name", false)
		if err != nil {
			return a, err
		}
		// "audience: public" is public; in a list, every name is an
		// aspect's, so an aspect named Public stays limited.
		if n.Kind == yaml.ScalarNode && strings.EqualFold(name, "public") {
			a.Public = true
			continue
		}
		if slices.ContainsFunc(a.Aspects, func(x string) bool { return strings.EqualFold(x, name) }) {
			return a, fmError(it, "aspect %q is named twice", clip(name))
		}
		a.Aspects = append(a.Aspects, name)
	}
	return a, nil
}

func decodeTags(n *yaml.Node) ([]string, error) {
	var items []*yaml.Node
	var words []string
	if n.Kind == yaml.ScalarNode {
		// "tags: cats, dogs" or "tags: '#cats #dogs'".
		for w := range strings.FieldsFuncSeq(n.Value, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			words = append(words, w)
			items = append(items, n)
		}
		if len(words) > maxTags {
			return nil, fmError(n, "tags has %d entries; at most %d", len(words), maxTags)
		}
	} else {
		var err error
		if items, err = list(n, "tags", maxTags); err != nil {
			return nil, err
		}
		for _, it := range items {
			s, err := scalarString(it, "a tag")
			if err != nil {
				return nil, err
			}
			words = append(words, s)
		}
	}
	var tags []string
	for i, w := range words {
		t := strings.TrimPrefix(strings.TrimSpace(w), "#")
		if t == "" {
			if n.Kind == yaml.ScalarNode {
				continue
			}
			return nil, fmError(items[i], "a tag is empty")
		}
		if err := checkShort(t, "a tag"); err != nil {
			return nil, fmError(items[i], "%v", err)
		}
		if strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || r == '#' || r == ',' }) {
			return nil, fmError(items[i], "tag %q is one word (letters, digits, - and _)", clip(t))
		}
		if slices.ContainsFunc(tags, func(x string) bool { return strings.EqualFold(x, t) }) {
			continue
		}
		tags = append(tags, t)
	}
	return tags, nil
}

func decodeBool(n *yaml.Node, what string) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, fmError(n, "%s is true or false, not %s", what, kindName(n))
}

func decodeNumber(n *yaml.Node, what string, limit float64) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmError(n, "%s is a number, not %s", what, kindName(n))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmError(n, "%s is a number, not %q", what, clip(n.Value))
	}
	if v < -limit || v > limit {
		return 0, fmError(n, "%s %v is not between %v and %v", what, v, -limit, limit)
	}
	return v, nil
}

// mapping walks a mapping's keys, refusing unknown and repeated ones.
func mapping(n *yaml.Node, what string, keys []string, fn func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return fmError(n, "%s has keys (%s), not %s", what, strings.Join(keys, ", "), kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || !slices.Contains(keys, k.Value) {
			return fmError(k, "%s has the keys %s; %q is not one", what, strings.Join(keys, ", "), clip(k.Value))
		}
		if seen[k.Value] {
			return fmError(k, "%s.%s is given twice", what, k.Value)
		}
		seen[k.Value] = true
		if isNull(v) {
			continue
		}
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func decodeLocation(n *yaml.Node) (*Location, error) {
	var l Location
	var hasLat, hasLng bool
	err := mapping(n, "location", []string{"address", "lat", "lng"}, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "address":
			l.Address, err = decodeShort(v, "location.address", true)
		case "lat":
			l.Lat, err = decodeNumber(v, "location.lat", 90)
			hasLat = true
		case "lng":
			l.Lng, err = decodeNumber(v, "location.lng", 180)
			hasLng = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasLat || !hasLng {
		return nil, fmError(n, "location needs lat and lng (and may have an address)")
	}
	return &l, nil
}

func decodePhotos(n *yaml.Node) ([]string, error) {
	items, err := list(n, "photos", maxPhotos)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		p, err := scalarString(it, "a photo")
		if err != nil {
			return nil, err
		}
		p = strings.TrimSpace(p)
		if err := checkPhotoRef(p); err != nil {
			return nil, fmError(it, "%v", err)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkPhotoRef accepts "photo:<guid>" or a relative path that stays in
// the folder: no "..", not absolute, no backslashes or control characters.
func checkPhotoRef(p string) error {
	if g, ok := strings.CutPrefix(p, PhotoRefPrefix); ok {
		if !validGUID(g) {
			return fmt.Errorf("photo %q: after %q comes a photo guid", clip(p), PhotoRefPrefix)
		}
		return nil
	}
	if p == "" || len(p) > maxPhotoPathLength {
		return fmt.Errorf("a photo is a path of 1 to %d bytes relative to the file", maxPhotoPathLength)
	}
	if strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }) {
		return fmt.Errorf("photo %q: a path has no control characters or backslashes (use /)", clip(p))
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, ":") {
		return fmt.Errorf("photo %q: a photo is a plain path inside the drafts folder, relative to the file (like photos/cat.jpg)", clip(p))
	}
	return nil
}

// validGUID accepts diaspora guids: 1–255 of [0-9A-Za-z_-@.:].
func validGUID(g string) bool {
	if g == "" || len(g) > 255 {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("_-@.:", c) >= 0) {
			return false
		}
	}
	return true
}

func decodePoll(n *yaml.Node) (*Poll, error) {
	var p Poll
	err := mapping(n, "poll", []string{"question", "answers"}, func(key string, v *yaml.Node) error {
		switch key {
		case "question":
			q, err := decodeShort(v, "poll.question", true)
			p.Question = q
			return err
		case "answers":
			if v.Kind != yaml.SequenceNode {
				return fmError(v, "poll.answers is a list, not %s", kindName(v))
			}
			if len(v.Content) > maxPollAnswers {
				return fmError(v, "a poll has at most %d answers", maxPollAnswers)
			}
			for _, it := range v.Content {
				a, err := decodeShort(it, "a poll answer", false)
				if err != nil {
					return err
				}
				p.Answers = append(p.Answers, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A draft's poll may be unfinished (no question yet, one answer):
	// publishing checks it, as for a draft made in the app.
	return &p, nil
}

func clip(s string) string { return clipN(s, 60) }

func clipN(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "?")
	}
	return strings.ToValidUTF8(s[:n], "?") + "…"
}

// frontMatterOut is the front matter as Render writes it, in this order.
type frontMatterOut struct {
	Audience       any          `yaml:"audience,omitempty"`
	Tags           []string     `yaml:"tags,omitempty,flow"`
	NSFW           bool         `yaml:"nsfw,omitempty"`
	ContentWarning string       `yaml:"content_warning,omitempty"`
	Location       *locationOut `yaml:"location,omitempty"`
	Photos         []string     `yaml:"photos,omitempty"`
	Poll           *pollOut     `yaml:"poll,omitempty"`
}

type locationOut struct {
	Address string  `yaml:"address,omitempty"`
	Lat     float64 `yaml:"lat"`
	Lng     float64 `yaml:"lng"`
}

type pollOut struct {
	Question string   `yaml:"question"`
	Answers  []string `yaml:"answers"`
}

// Render writes a draft file: front matter with the keys that are set
// (none at all when nothing is set and the body cannot be mistaken for
// front matter), then the body and a final line end. Parse(Render(f))
// gives f back for any f that Parse returned.
func Render(f File) ([]byte, error) {
	out := frontMatterOut{Tags: f.Tags, NSFW: f.NSFW, ContentWarning: f.ContentWarning, Photos: f.Photos}
	switch {
	case f.Audience.Public:
		out.Audience = "public"
	case len(f.Audience.Aspects) > 0:
		out.Audience = f.Audience.Aspects
	}
	if l := f.Location; l != nil {
		out.Location = &locationOut{Address: l.Address, Lat: l.Lat, Lng: l.Lng}
	}
	if p := f.Poll; p != nil {
		out.Poll = &pollOut{Question: p.Question, Answers: p.Answers}
	}
	var buf bytes.Buffer
	empty := out.Audience == nil && len(out.Tags) == 0 && !out.NSFW && out.ContentWarning == "" &&
		out.Location == nil && len(out.Photos) == 0 && out.Poll == nil
	first, _, _ := cutLine([]byte(f.Body))
	if !empty || isDelimiter(first, "---") || strings.HasPrefix(f.Body, "\ufeff") {
		buf.WriteString("---\n")
		if !empty {
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(out); err != nil {
				return nil, fmt.Errorf("render front matter: %w", err)
			}
			if err := enc.Close(); err != nil {
				return nil, fmt.Errorf("render front matter: %w", err)
			}
		}
		buf.WriteString("---\n")
		if f.Body != "" {
			buf.WriteString("\n")
		}
	}
	if f.Body != "" {
		buf.WriteString(f.Body)
		buf.WriteString("\n")
	}
	return buf.Bytes(), nil
}
