package keylock

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// The QR codes of a sheet carry the same payload as its text, split into
// numbered parts:
//
//	SDK1:2/3:W1R9ND4KQ2:<Crockford base32 of the part>
//
// "SDK1" names the format, 2/3 the part, the third field is the END line's
// hash of the whole payload (it ties the parts of one sheet together and
// checks the joined result). Every character is in QR's alphanumeric set
// (digits, capitals, ':' and '/'), which packs 5.5 bits a character, and
// the parts can be scanned in any order.
//
// Size: at most qrMaxChars of data a code, with QR's level Q (25% of the
// code may be lost to a fold or a stain) — version 21 at most, 109 modules
// with the quiet zone, ≥ 0.46 mm a module on the printed page (50 mm),
// which phones read easily. A 4096-bit key (521 bytes) or its sealed form
// (645 bytes) takes two codes of version 17 (0.54 mm a module), a 2048-bit
// key one. zbarimg reads them with a fifth of their width blotted out
// (TestQRDecodesWithZbar, when zbar-tools is installed).
const (
	qrPrefix   = "SDK1"
	qrMaxChars = 700
	qrLevel    = qrcode.High // level Q, 25% recovery
	// QRScale is the PNG's pixels a module.
	QRScale    = 4
	maxQRParts = MaxSealed*8/5/qrMaxChars + 2
	maxQRText  = qrMaxChars + 64
)

// ErrBadQR: RestoreQR could not join the scanned codes.
var ErrBadQR = errors.New("keylock: QR codes do not restore")

// QR is one of a sheet's QR codes.
type QR struct {
	Part, Of int
	// Payload is the text the code holds.
	Payload string
	// PNG is the code as a two-colour PNG, QRScale pixels a module, with the
	// quiet zone.
	PNG []byte
	// Modules is the code's width in modules, quiet zone included.
	Modules int
}

// QRPayloads splits the sheet's payload into the texts of its QR codes.
func (s *Sheet) QRPayloads() []string {
	enc := b32.EncodeToString(s.payload)
	parts := (len(enc) + qrMaxChars - 1) / qrMaxChars
	size := (len(enc) + parts - 1) / parts // even parts: no tiny last code
	h := payloadHash(s.payload)
	out := make([]string, 0, parts)
	for i := range parts {
		chunk := enc[i*size : min(len(enc), (i+1)*size)]
		out = append(out, fmt.Sprintf("%s:%d/%d:%s:%s", qrPrefix, i+1, parts, h, chunk))
	}
	return out
}

// QRCodes renders the sheet's QR codes.
func (s *Sheet) QRCodes() ([]QR, error) {
	payloads := s.QRPayloads()
	out := make([]QR, 0, len(payloads))
	for i, p := range payloads {
		q, err := qrcode.New(p, qrLevel)
		if err != nil {
			return nil, fmt.Errorf("paper backup: QR code %d of %d (%d characters): %w", i+1, len(payloads), len(p), err)
		}
		png, err := q.PNG(-QRScale)
		if err != nil {
			return nil, fmt.Errorf("paper backup: QR code %d of %d as PNG: %w", i+1, len(payloads), err)
		}
		out = append(out, QR{Part: i + 1, Of: len(payloads), Payload: p, PNG: png, Modules: len(q.Bitmap())})
	}
	return out, nil
}

// RestoreQR joins the texts scanned from a sheet's QR codes, in any order
// (a code scanned twice is fine), and reads the backup back.
func RestoreQR(scanned []string) (Backup, error) {
	if len(scanned) > maxQRParts*2 {
		return Backup{}, fmt.Errorf("%w: %d codes, at most %d", ErrBadQR, len(scanned), maxQRParts*2)
	}
	var (
		of    int
		hash  string
		parts map[int]string
	)
	for i, raw := range scanned {
		t := strings.TrimSpace(raw)
		if len(t) > maxQRText {
			return Backup{}, fmt.Errorf("%w: code %d holds %d characters, at most %d", ErrBadQR, i+1, len(t), maxQRText)
		}
		f := strings.Split(t, ":")
		if len(f) != 4 || !strings.EqualFold(f[0], qrPrefix) {
			return Backup{}, fmt.Errorf("%w: code %d is not a Seedpod key backup code (%q…)", ErrBadQR, i+1, head(t))
		}
		part, n, ok := partOf(f[1])
		if !ok {
			return Backup{}, fmt.Errorf("%w: code %d: part %q is not i/n with 1 ≤ i ≤ n ≤ %d", ErrBadQR, i+1, f[1], maxQRParts)
		}
		h, bad := crockfordBody(f[2])
		if bad != "" || len(h) != hashChars {
			return Backup{}, fmt.Errorf("%w: code %d: hash %q", ErrBadQR, i+1, head(f[2]))
		}
		data, bad := crockfordBody(f[3])
		if bad != "" || data == "" {
			return Backup{}, fmt.Errorf("%w: code %d (part %d/%d): data: %s", ErrBadQR, i+1, part, n, bad)
		}
		if parts == nil {
			of, hash, parts = n, h, make(map[int]string, n)
		}
		if n != of || h != hash {
			return Backup{}, fmt.Errorf("%w: code %d belongs to another sheet (part %d/%d of %s; the first code was of %d, %s)", ErrBadQR, i+1, part, n, h, of, hash)
		}
		if prev, dup := parts[part]; dup && prev != data {
			return Backup{}, fmt.Errorf("%w: part %d/%d scanned twice with different contents", ErrBadQR, part, n)
		}
		parts[part] = data
	}
	if len(scanned) == 0 {
		return Backup{}, fmt.Errorf("%w: no codes", ErrBadQR)
	}
	var missing []string
	var joined strings.Builder
	for i := 1; i <= of; i++ {
		d, ok := parts[i]
		if !ok {
			missing = append(missing, strconv.Itoa(i))
		}
		joined.WriteString(d)
	}
	if len(missing) > 0 {
		return Backup{}, fmt.Errorf("%w: part %s of %d not scanned", ErrBadQR, strings.Join(missing, ", "), of)
	}
	if joined.Len() > payloadChars(MaxSealed) {
		return Backup{}, fmt.Errorf("%w: %d characters of data, at most %d", ErrBadQR, joined.Len(), payloadChars(MaxSealed))
	}
	payload, err := b32.DecodeString(joined.String())
	if err != nil {
		return Backup{}, fmt.Errorf("%w: the joined data (%d characters): %w", ErrBadQR, joined.Len(), err)
	}
	if payloadHash(payload) != hash {
		return Backup{}, fmt.Errorf("%w: the joined data does not match the codes' hash %s", ErrBadQR, hash)
	}
	return fromPayload(payload)
}

func partOf(s string) (part, of int, ok bool) {
	a, b, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	part, err1 := strconv.Atoi(a)
	of, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || part < 1 || part > of || of > maxQRParts {
		return 0, 0, false
	}
	return part, of, true
}

func head(s string) string {
	if r := []rune(s); len(r) > 16 {
		return string(r[:16])
	}
	return s
}
