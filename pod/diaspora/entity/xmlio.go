package entity

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits on untrusted input. A real entity is a few KiB; the largest the
// reference emits (a status message with 65535 characters of text and a
// handful of photos) stays well below MaxPayload.
const (
	MaxPayload  = 1 << 20 // bytes of XML or JSON accepted by Parse/ParseJSON
	MaxDepth    = 8       // element nesting (account_migration/profile is 3 deep; status_message/event/location is 3)
	MaxElements = 4096    // elements in one payload
)

// kind tells the JSON writer how to render a leaf.
type kind uint8

const (
	kString kind = iota
	kBool
	kInt
)

// node is the intermediate tree both wire forms go through: XML and JSON
// are parsed into it, entities are decoded from it and encoded into it.
type node struct {
	name string
	text string // for parsed XML: concatenated character data of all descendants
	kids []*node
	kind kind
	list bool // encoded array member (JSON key is name+"s")
	// offsets of the element in the source (XML parse only)
	start, end int64
}

// child returns the first child element with that name.
func (n *node) child(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// parseXML walks the tokens of payload into a tree, refusing DOCTYPE and
// other directives and enforcing the limits above.
func parseXML(payload []byte) (*node, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrParse, len(payload), MaxPayload)
	}
	d := xml.NewDecoder(bytes.NewReader(payload))
	d.Strict = true
	d.Entity = nil
	d.CharsetReader = nil // only UTF-8 (and an ASCII-compatible declaration) is accepted
	var (
		root  *node
		stack []*node
		texts []*strings.Builder
		count int
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrParse, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrParse, MaxElements)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d", ErrParse, MaxDepth)
			}
			n := &node{name: t.Name.Local, start: off}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%w: more than one root element", ErrParse)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
			texts = append(texts, &strings.Builder{})
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.text = texts[len(texts)-1].String()
			n.end = d.InputOffset()
			stack = stack[:len(stack)-1]
			texts = texts[:len(texts)-1]
			if len(texts) > 0 {
				texts[len(texts)-1].WriteString(n.text)
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrParse)
				}
				continue
			}
			texts[len(texts)-1].Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("%w: DOCTYPE and other directives are refused", ErrParse)
		case xml.ProcInst:
			if t.Target != "xml" || root != nil || count > 0 {
				return nil, fmt.Errorf("%w: processing instruction <?%s?> refused", ErrParse, t.Target)
			}
		case xml.Comment:
			// Ignored, as by the reference.
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrParse)
	}
	return root, nil
}

// writeXML renders a tree the way the reference (Nokogiri) does: no
// declaration, two-space indentation, <x/> for empty leaves.
func writeXML(b *bytes.Buffer, n *node, depth int) {
	indent := strings.Repeat("  ", depth)
	b.WriteString(indent)
	b.WriteByte('<')
	b.WriteString(n.name)
	switch {
	case len(n.kids) > 0:
		b.WriteString(">\n")
		for _, k := range n.kids {
			writeXML(b, k, depth+1)
			b.WriteByte('\n')
		}
		b.WriteString(indent)
		b.WriteString("</")
		b.WriteString(n.name)
		b.WriteByte('>')
	case n.text == "":
		b.WriteString("/>")
	default:
		b.WriteByte('>')
		escapeText(b, n.text)
		b.WriteString("</")
		b.WriteString(n.name)
		b.WriteByte('>')
	}
}

// escapeText escapes like libxml2's text serialisation: &, <, > and CR;
// quotes, tabs and newlines stay literal. Characters outside the XML Char
// production (and invalid UTF-8) become U+FFFD.
func escapeText(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		default:
			if !isXMLChar(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		}
	}
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

// sanitize replaces what escapeText would replace, so values compared or
// signed match the bytes that are emitted.
func sanitize(s string) string {
	ok := true
	for _, r := range s {
		if !isXMLChar(r) {
			ok = false
			break
		}
	}
	if ok && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !isXMLChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}
