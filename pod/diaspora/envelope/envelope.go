// Package envelope owns the diaspora* Magic Envelope (PROTOCOL.md §3), the
// signed XML wrapper every federated entity travels in, and the Encrypted
// Magic Envelope (§4), the JSON body private deliveries carry it in.
//
// It parses and checks envelope structure, builds and verifies the signature
// base string, signs new envelopes byte-identically to the reference
// implementation, and encrypts/decrypts private bodies. It knows nothing about
// the entities inside (the payload is opaque bytes), key lookup, senders'
// authority, or HTTP.
//
// It is pure: no files, no network, no database, no package-level state. It
// imports only the standard library and seedpod/pod/diaspora/keys.
package envelope

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"seedpod/pod/diaspora/keys"
)

// Values every diaspora* envelope carries. The reference only accepts these.
const (
	Namespace = "http://salmon-protocol.org/ns/magic-env"
	DataType  = "application/xml"
	Encoding  = "base64url"
	Algorithm = "RSA-SHA256"
)

// MaxEnvelopeBytes caps the size of an envelope document, checked before any
// parsing. Payloads are text entities (photos travel as URLs): the largest
// real one is a status message at diaspora's 65 535-character text limit,
// at most ~256 KiB of UTF-8, ~350 KiB once base64url-encoded. 1 MiB leaves
// about 3x headroom while bounding parser work and memory per delivery.
const MaxEnvelopeBytes = 1 << 20

// MaxEncryptedBytes caps an encrypted-envelope JSON body: the base64 of an
// AES-CBC ciphertext of a MaxEnvelopeBytes document is ~1.34 MiB, plus the
// RSA-encrypted key (≤ 1.4 KiB for 8192-bit keys) and JSON framing. 2 MiB
// accepts every body that can hold an acceptable envelope and no more than
// ~1.5x that.
const MaxEncryptedBytes = 2 << 20

// maxSenderBytes bounds the decoded key_id. A diaspora ID is user@host; 255
// bytes of host plus a username fit with room to spare.
const maxSenderBytes = 512

// maxDepth bounds element nesting; a real envelope is two levels deep.
const maxDepth = 16

var (
	// ErrEnvelope is wrapped by every structural parse failure, and
	// errors.Is(err, ErrEnvelope) also holds for ErrDataType, ErrEncoding
	// and ErrAlgorithm.
	ErrEnvelope = errors.New("invalid magic envelope")
	// ErrDataType: the me:data type attribute is not "application/xml".
	ErrDataType = fmt.Errorf("%w: data type is not %s", ErrEnvelope, DataType)
	// ErrEncoding: me:encoding is not "base64url".
	ErrEncoding = fmt.Errorf("%w: encoding is not %s", ErrEnvelope, Encoding)
	// ErrAlgorithm: me:alg is not "RSA-SHA256".
	ErrAlgorithm = fmt.Errorf("%w: algorithm is not %s", ErrEnvelope, Algorithm)
	// ErrSignature: the signature does not verify with the given key. It
	// also wraps keys.ErrBadSignature.
	ErrSignature = errors.New("magic envelope signature does not verify")
)

// Envelope is a parsed Magic Envelope. Parse fills it; a zero Envelope with
// Payload and Signature set can also be verified.
type Envelope struct {
	// Payload is the decoded me:data: the entity XML bytes exactly as signed.
	Payload []byte
	// Sender is the diaspora ID decoded from key_id, as given (the caller
	// lowercases/normalises before looking up keys).
	Sender string
	// Signature is the decoded me:sig.
	Signature []byte
	// KeyID is the key_id attribute as transmitted.
	KeyID string
	// DataType, Encoding and Alg are the values read from the document;
	// after a successful Parse they equal the package constants.
	DataType, Encoding, Alg string
}

// Parse reads an envelope document and checks its structure (§3.3 steps
// 1–3): well-formed XML without DOCTYPE, root local name "env", direct
// children me:data and me:sig present and non-empty, key_id present, type,
// encoding and alg exactly the diaspora values, and base64url fields
// decodable. It does not verify the signature; see Verify.
//
// Namespace prefix: the reference finds the children with the XPath
// "me:data" resolved against the root's own namespace declarations, so the
// children must literally use the prefix "me" and the root must declare it
// (any URI: the reference does not check it). A default-namespace envelope
// (vectors negative/no_me_prefix.xml) is rejected with ErrEnvelope, as by
// every diaspora pod, so we never accept what the network would not.
// Stricter than the reference: duplicate fields, elements inside fields,
// undeclared prefixes and malformed XML (Nokogiri's recover mode would
// repair it) are rejected.
func Parse(doc []byte) (*Envelope, error) {
	if len(doc) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: document is %d bytes (max %d)", ErrEnvelope, len(doc), MaxEnvelopeBytes)
	}
	f, err := scan(doc)
	if err != nil {
		return nil, err
	}
	if !f.data.seen {
		return nil, fmt.Errorf("%w: missing me:data", ErrEnvelope)
	}
	if f.data.text == "" {
		return nil, fmt.Errorf("%w: empty me:data", ErrEnvelope)
	}
	if !f.sig.seen {
		return nil, fmt.Errorf("%w: missing me:sig", ErrEnvelope)
	}
	if f.sig.text == "" {
		return nil, fmt.Errorf("%w: empty me:sig", ErrEnvelope)
	}
	if !f.hasKeyID {
		return nil, fmt.Errorf("%w: me:sig has no key_id", ErrEnvelope)
	}
	e := &Envelope{
		KeyID:    f.keyID,
		DataType: f.dataType,
		Encoding: f.encoding.text,
		Alg:      f.alg.text,
	}
	if e.DataType != DataType {
		return nil, fmt.Errorf("%w: got %q", ErrDataType, clip(e.DataType))
	}
	if e.Encoding != Encoding {
		return nil, fmt.Errorf("%w: got %q", ErrEncoding, clip(e.Encoding))
	}
	if e.Alg != Algorithm {
		return nil, fmt.Errorf("%w: got %q", ErrAlgorithm, clip(e.Alg))
	}
	sender, err := decodeURL(f.keyID)
	if err != nil {
		return nil, fmt.Errorf("%w: key_id: %v", ErrEnvelope, err)
	}
	if err := checkSender(string(sender)); err != nil {
		return nil, err
	}
	e.Sender = string(sender)
	if e.Payload, err = decodeURL(f.data.text); err != nil {
		return nil, fmt.Errorf("%w: me:data: %v", ErrEnvelope, err)
	}
	if len(e.Payload) == 0 {
		return nil, fmt.Errorf("%w: me:data decodes to nothing", ErrEnvelope)
	}
	if e.Signature, err = decodeURL(f.sig.text); err != nil {
		return nil, fmt.Errorf("%w: me:sig: %v", ErrEnvelope, err)
	}
	if len(e.Signature) == 0 {
		return nil, fmt.Errorf("%w: me:sig decodes to nothing", ErrEnvelope)
	}
	return e, nil
}

func checkSender(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: key_id is empty", ErrEnvelope)
	case len(s) > maxSenderBytes:
		return fmt.Errorf("%w: key_id is %d bytes (max %d)", ErrEnvelope, len(s), maxSenderBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: key_id is not UTF-8", ErrEnvelope)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: key_id contains control characters", ErrEnvelope)
		}
	}
	return nil
}

// SignatureBase returns the exact bytes the signature covers (§3.2): the
// payload re-encoded as padded base64url, then the padded base64url of the
// constant type, encoding and algorithm, joined with ".". Like the reference
// it re-encodes rather than using the transmitted text, so unpadded input is
// accepted iff the signature was made over the padded form.
func (e *Envelope) SignatureBase() []byte {
	return signatureBase(e.Payload)
}

// The padded base64url of DataType, Encoding and Algorithm.
const sigBaseSuffix = ".YXBwbGljYXRpb24veG1s.YmFzZTY0dXJs.UlNBLVNIQTI1Ng=="

func signatureBase(payload []byte) []byte {
	n := base64.URLEncoding.EncodedLen(len(payload))
	b := make([]byte, n, n+len(sigBaseSuffix))
	base64.URLEncoding.Encode(b, payload)
	return append(b, sigBaseSuffix...)
}

// Verify checks the envelope's signature with the sender's public key. The
// caller finds the key for e.Sender. Failure wraps ErrSignature (and
// keys.ErrBadSignature).
func (e *Envelope) Verify(pub *rsa.PublicKey) error {
	if pub == nil {
		return fmt.Errorf("%w: no public key", ErrSignature)
	}
	if err := keys.Verify(pub, e.SignatureBase(), e.Signature); err != nil {
		return fmt.Errorf("%w (sender %q): %w", ErrSignature, clip(e.Sender), err)
	}
	return nil
}

// Sign signs payload (entity XML, no declaration) for sender and returns the
// complete envelope document byte-for-byte as the reference emits it: XML
// declaration, 2-space indentation, padded base64url, trailing newline.
func Sign(payload []byte, sender string, priv *rsa.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("envelope: sign: no private key")
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: sign: empty payload", ErrEnvelope)
	}
	if err := checkSender(sender); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	base := signatureBase(payload)
	sig, err := keys.Sign(priv, base)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	doc := render(base[:len(base)-len(sigBaseSuffix)], []byte(base64.URLEncoding.EncodeToString([]byte(sender))), sig)
	if len(doc) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: signed document would be %d bytes (max %d)", ErrEnvelope, len(doc), MaxEnvelopeBytes)
	}
	return doc, nil
}

// The document template (§3.1). encoding/xml cannot emit a chosen prefix, and
// none of the inserted values (base64url) needs escaping.
const (
	docHead = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
		"<me:env xmlns:me=\"" + Namespace + "\">\n" +
		"  <me:data type=\"" + DataType + "\">"
	docMid = "</me:data>\n" +
		"  <me:encoding>" + Encoding + "</me:encoding>\n" +
		"  <me:alg>" + Algorithm + "</me:alg>\n" +
		"  <me:sig key_id=\""
	docSig  = "\">"
	docTail = "</me:sig>\n</me:env>\n"
)

// render writes the document; data and keyID are already base64url text.
func render(data, keyID, sig []byte) []byte {
	sigLen := base64.URLEncoding.EncodedLen(len(sig))
	out := make([]byte, 0, len(docHead)+len(data)+len(docMid)+len(keyID)+len(docSig)+sigLen+len(docTail))
	out = append(out, docHead...)
	out = append(out, data...)
	out = append(out, docMid...)
	out = append(out, keyID...)
	out = append(out, docSig...)
	out = base64.URLEncoding.AppendEncode(out, sig)
	return append(out, docTail...)
}

// decodeURL decodes base64url the way the reference's Base64.urlsafe_decode64
// does: padding is added when the text has none, embedded whitespace is an
// error (Go's decoder would silently skip \r and \n, so check first), and
// the standard alphabet's "+" and "/" are accepted too since Ruby translates
// "-_" to "+/" before its strict decode. The signature covers the
// re-encoded bytes, so this leniency cannot change what is verified.
func decodeURL(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\n\r\f\v") {
		return nil, errors.New("whitespace in base64url")
	}
	if strings.ContainsAny(s, "+/") {
		s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		s += "==="[:3-(len(s)+3)%4]
	}
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("bad base64url")
	}
	return b, nil
}

// clip shortens attacker-supplied values quoted in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

type field struct {
	seen bool
	text string
}

type fields struct {
	data, encoding, alg, sig field
	dataType                 string
	keyID                    string
	hasKeyID                 bool
}

// scan token-walks the document with RawToken, which keeps prefixes as
// written (Token would replace them by URIs, losing whether "me" was used).
// RawToken does not match end tags or check prefixes, so scan does both.
func scan(doc []byte) (*fields, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	// No CharsetReader: a declaration naming anything but UTF-8 is an error.
	type elem struct {
		name     xml.Name
		prefixes []string // prefixes declared on this element
	}
	var (
		stack   []elem
		f       fields
		cur     *field // field whose text is being collected
		text    strings.Builder
		rootEnd bool
		ntok    int
	)
	declared := func(p string) bool {
		if p == "" || p == "xml" {
			return true
		}
		for i := len(stack) - 1; i >= 0; i-- {
			for _, q := range stack[i].prefixes {
				if q == p {
					return true
				}
			}
		}
		return false
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		ntok++
		if err != nil {
			return nil, fmt.Errorf("%w: not well-formed XML: %v", ErrEnvelope, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: DOCTYPE and other declarations are not allowed", ErrEnvelope)
		case xml.ProcInst:
			if t.Target != "xml" || ntok != 1 {
				return nil, fmt.Errorf("%w: unexpected processing instruction %q", ErrEnvelope, clip(t.Target))
			}
		case xml.Comment:
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrEnvelope)
				}
			} else if cur != nil {
				text.Write(t)
			}
		case xml.StartElement:
			if rootEnd {
				return nil, fmt.Errorf("%w: more than one root element", ErrEnvelope)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d", ErrEnvelope, maxDepth)
			}
			var e elem
			e.name = t.Name
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					if a.Value == "" {
						return nil, fmt.Errorf("%w: empty namespace for prefix %q", ErrEnvelope, clip(a.Name.Local))
					}
					e.prefixes = append(e.prefixes, a.Name.Local)
				}
			}
			stack = append(stack, e)
			if !declared(t.Name.Space) {
				return nil, fmt.Errorf("%w: undeclared prefix %q", ErrEnvelope, clip(t.Name.Space))
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && !declared(a.Name.Space) {
					return nil, fmt.Errorf("%w: undeclared prefix %q", ErrEnvelope, clip(a.Name.Space))
				}
			}
			switch len(stack) {
			case 1:
				if t.Name.Local != "env" {
					return nil, fmt.Errorf("%w: root element is %q, not env", ErrEnvelope, clip(t.Name.Local))
				}
				me := false
				for _, p := range e.prefixes {
					me = me || p == "me"
				}
				if !me {
					return nil, fmt.Errorf("%w: root does not declare the \"me\" namespace prefix", ErrEnvelope)
				}
			case 2:
				if t.Name.Space != "me" {
					continue // not addressed by the reference's me:… XPaths
				}
				switch t.Name.Local {
				case "data":
					cur = &f.data
					for _, a := range t.Attr {
						if a.Name.Space == "" && a.Name.Local == "type" {
							f.dataType = a.Value
						}
					}
				case "encoding":
					cur = &f.encoding
				case "alg":
					cur = &f.alg
				case "sig":
					cur = &f.sig
					for _, a := range t.Attr {
						if a.Name.Space == "" && a.Name.Local == "key_id" {
							f.keyID, f.hasKeyID = a.Value, true
						}
					}
				}
				if cur != nil {
					if cur.seen {
						return nil, fmt.Errorf("%w: duplicate me:%s", ErrEnvelope, t.Name.Local)
					}
					cur.seen = true
					text.Reset()
				}
			default:
				if cur != nil {
					return nil, fmt.Errorf("%w: element inside me:%s", ErrEnvelope, stack[1].name.Local)
				}
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != t.Name {
				return nil, fmt.Errorf("%w: mismatched end tag </%s>", ErrEnvelope, clip(t.Name.Local))
			}
			if len(stack) == 2 && cur != nil {
				cur.text = text.String()
				cur = nil
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				rootEnd = true
			}
		}
	}
	if !rootEnd {
		return nil, fmt.Errorf("%w: no complete root element", ErrEnvelope)
	}
	return &f, nil
}
