package discovery

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// NamespaceXRD is the XRD 1.0 namespace of host-meta and legacy WebFinger.
const NamespaceXRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0"

// XML reader bounds: an XRD is three levels deep (XRD/Link/Property) and
// holds a dozen elements.
const (
	maxXMLDepth    = 16
	maxXMLElements = 2048
)

const xmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"" + NamespaceXRD + "\">\n"

// XRD returns the legacy XRD form of the document (served at
// /.well-known/webfinger.xml), byte for byte what gem 0.2.8 emits.
func (w *WebFinger) XRD() ([]byte, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("  <Subject>" + xmlText("acct:"+w.ID) + "</Subject>\n")
	for _, a := range w.Aliases {
		if !xmlSafe(a) {
			return nil, invalid("alias", a, "not representable in XML")
		}
		b.WriteString("  <Alias>" + xmlText(a) + "</Alias>\n")
	}
	for _, l := range w.links() {
		if !xmlSafe(l.Rel) || !xmlSafe(l.Type) || !xmlSafe(l.Href) || !xmlSafe(l.Template) {
			return nil, invalid("link "+l.Rel, l.Type, "not representable in XML")
		}
		writeXMLLink(&b, l)
	}
	b.WriteString("</XRD>\n")
	return []byte(b.String()), nil
}

func writeXMLLink(b *strings.Builder, l Link) {
	b.WriteString(`  <Link rel="` + xmlAttr(l.Rel) + `"`)
	if l.Type != "" {
		b.WriteString(` type="` + xmlAttr(l.Type) + `"`)
	}
	if l.Href != "" {
		b.WriteString(` href="` + xmlAttr(l.Href) + `"`)
	}
	if l.Template != "" {
		b.WriteString(` template="` + xmlAttr(l.Template) + `"`)
	}
	b.WriteString("/>\n")
}

// HostMeta returns the legacy host-meta document for a pod (base URL, no
// path), byte for byte what gem 0.2.8 emits.
func HostMeta(pod string) ([]byte, error) {
	base, err := podBase(pod)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	writeXMLLink(&b, Link{Rel: "lrdd", Type: "application/xrd+xml", Template: base + "/.well-known/webfinger.xml?resource={uri}"})
	b.WriteString("</XRD>\n")
	return []byte(b.String()), nil
}

// lrddRE is the reference consumer's check on the lrdd template, with the
// host made mandatory.
var lrddRE = regexp.MustCompile(`^https?://[^/]+/.*\{uri\}`)

// ParseHostMeta reads a host-meta document and returns its lrdd template,
// which must match ^https?://host/.*\{uri\} and be a valid URL once
// expanded. diaspora ≥0.9 serves an empty <XRD/>: that is ErrInvalid.
func ParseHostMeta(doc []byte) (string, error) {
	r, err := readXRD(doc)
	if err != nil {
		return "", err
	}
	for _, l := range r.links {
		if strings.TrimSpace(l.Rel) != "lrdd" {
			continue
		}
		t := strings.TrimSpace(l.Template)
		if !lrddRE.MatchString(t) {
			return "", invalid("lrdd template", t, "does not match ^https?://host/.*{uri}")
		}
		if err := checkTemplate("lrdd template", t); err != nil {
			return "", err
		}
		return t, nil
	}
	return "", invalid("lrdd link", "", "missing")
}

// ExpandLRDD substitutes acct:<id> for {uri} in an lrdd template, as the
// reference does (not percent-encoded).
func ExpandLRDD(template, diasporaID string) string {
	return strings.ReplaceAll(template, "{uri}", "acct:"+diasporaID)
}

// ParseXRD reads a legacy XRD WebFinger document fetched for askedID, with
// the same rules and result as ParseJRD.
func ParseXRD(doc []byte, askedID string) (*WebFinger, error) {
	r, err := readXRD(doc)
	if err != nil {
		return nil, err
	}
	return r.webFinger(askedID)
}

// readXRD walks an XRD document with a strict decoder: no DOCTYPE or other
// directive, only the predefined entities, one root element named XRD (in
// the XRD namespace or none), bounded depth and element count. It collects
// Subject, Alias and Link (rel/type/href/template); everything else is
// skipped.
func readXRD(doc []byte) (*rawWebFinger, error) {
	if err := checkSize(doc); err != nil {
		return nil, err
	}
	if !utf8.Valid(doc) {
		return nil, fmt.Errorf("%w: XRD is not UTF-8", ErrMalformed)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = nil
	r := &rawWebFinger{}
	depth, elements := 0, 0
	rootDone := false
	var text *strings.Builder // collecting a Subject or Alias
	var isSubject bool
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: XRD: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: XRD: DOCTYPE or other directive not allowed", ErrMalformed)
		case xml.StartElement:
			elements++
			depth++
			if elements > maxXMLElements || depth > maxXMLDepth {
				return nil, fmt.Errorf("%w: XRD: too many or too deeply nested elements", ErrMalformed)
			}
			if depth == 1 {
				if rootDone {
					return nil, fmt.Errorf("%w: XRD: more than one root element", ErrMalformed)
				}
				if t.Name.Local != "XRD" || (t.Name.Space != NamespaceXRD && t.Name.Space != "") {
					return nil, fmt.Errorf("%w: root element is {%s}%s, want XRD", ErrMalformed, short(t.Name.Space), short(t.Name.Local))
				}
			}
			if depth != 2 || (t.Name.Space != NamespaceXRD && t.Name.Space != "") {
				continue
			}
			switch t.Name.Local {
			case "Subject", "Alias":
				text, isSubject = &strings.Builder{}, t.Name.Local == "Subject"
			case "Link":
				if len(r.links) >= maxLinks {
					return nil, fmt.Errorf("%w: more than %d links", ErrInvalid, maxLinks)
				}
				var l Link
				for _, a := range t.Attr {
					if a.Name.Space != "" {
						continue
					}
					switch a.Name.Local {
					case "rel":
						l.Rel = a.Value
					case "type":
						l.Type = a.Value
					case "href":
						l.Href = a.Value
					case "template":
						l.Template = a.Value
					}
				}
				r.links = append(r.links, l)
			}
		case xml.EndElement:
			if depth == 2 && text != nil {
				s := text.String()
				if isSubject {
					if !r.hasSubject { // first Subject wins
						r.subject, r.hasSubject = s, true
					}
				} else {
					if len(r.aliases) >= maxAliases {
						return nil, fmt.Errorf("%w: more than %d aliases", ErrInvalid, maxAliases)
					}
					r.aliases = append(r.aliases, s)
				}
				text = nil
			}
			depth--
			if depth == 0 {
				rootDone = true
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: XRD: text outside the root element", ErrMalformed)
			}
			if text != nil {
				text.Write(t)
			}
		}
	}
	if !rootDone {
		return nil, fmt.Errorf("%w: XRD: no root element", ErrMalformed)
	}
	return r, nil
}

// xmlSafe reports whether s holds only characters XML 1.0 can carry.
func xmlSafe(s string) bool {
	for _, r := range s {
		if !(r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)) {
			return false
		}
	}
	return utf8.ValidString(s)
}

var (
	xmlTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#13;")
	xmlAttrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\r", "&#13;", "\n", "&#10;", "\t", "&#9;")
)

// xmlText and xmlAttr escape like libxml2's serialiser (what Nokogiri
// emits): & < > in text, plus " and whitespace controls in attributes.
func xmlText(s string) string { return xmlTextEscaper.Replace(s) }
func xmlAttr(s string) string { return xmlAttrEscaper.Replace(s) }
