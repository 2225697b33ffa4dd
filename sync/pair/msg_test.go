package pair

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestReadMsg(t *testing.T) {
	frame := func(typ msgType, body []byte) []byte {
		var b bytes.Buffer
		if err := writeMsg(&b, typ, body); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	header := func(typ msgType, n uint32) []byte {
		return []byte{byte(typ), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	tests := []struct {
		name string
		in   []byte
		want msgType
		err  error // nil: success
	}{
		{"accept", frame(msgAccept, make([]byte, macLen)), msgAccept, nil},
		{"empty input", nil, msgAccept, io.EOF},
		{"short header", []byte{byte(msgAccept), 0, 0}, msgAccept, io.ErrUnexpectedEOF},
		{"short body", header(msgAccept, 32), msgAccept, io.ErrUnexpectedEOF},
		{"wrong type", frame(msgInfo, nil), msgAccept, ErrMalformed},
		{"unknown type", frame(0, nil), msgAccept, ErrMalformed},
		{"over the message cap", header(msgAccept, MaxMessage+1), msgAccept, ErrTooLarge},
		{"huge", header(msgHello, 1<<32-1), msgHello, ErrTooLarge},
		{"bundle over its cap", header(msgBundle, maxBox+1), msgBundle, ErrTooLarge},
		{"huge refusal", header(msgRefuse, 1<<20), msgAccept, ErrTooLarge},
		{"refusal", frame(msgRefuse, refusalBody(ErrExpired)), msgAccept, ErrExpired},
		{"refusal trailing", frame(msgRefuse, append(refusalBody(ErrExpired), 0)), msgAccept, ErrMalformed},
		{"refusal short", frame(msgRefuse, []byte{1, 0}), msgAccept, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := readMsg(bytes.NewReader(tt.in), tt.want)
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.err) || body != nil {
				t.Fatalf("readMsg: %v, want %v", err, tt.err)
			}
		})
	}
}

// A refusal's text is sanitized and its unknown reasons stay readable.
func TestRefusal(t *testing.T) {
	body := appendBytes([]byte{200}, []byte("bad\x1b[31m\nnews\xff"))
	re, err := parseRefusal(body)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(re, ErrRefused) || !errors.Is(re.Reason, errUnknownWhy) || strings.ContainsAny(re.Text, "\x1b\n\xff") {
		t.Fatalf("%#v", re)
	}
	long := refusalBody(errors.New(strings.Repeat("é", 500)))
	if re, err := parseRefusal(long); err != nil || len(re.Text) > maxRefusalText {
		t.Fatalf("long refusal: %v, %d bytes", err, len(re.Text))
	}
}

// A peer that announces a big bundle and sends little costs about what it sent, not what
// it announced.
func TestReadMsgAllocatesWhatArrives(t *testing.T) {
	in := append([]byte{byte(msgBundle), 0, 0x10, 0, 0}, make([]byte, 100)...) // announces 1 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := readMsg(bytes.NewReader(in), msgBundle); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 2*MaxMessage {
		t.Fatalf("%d bytes allocated per read of a 105-byte input", per)
	}
}

func TestWriteMsgCaps(t *testing.T) {
	if err := writeMsg(io.Discard, msgInfo, make([]byte, MaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if err := writeMsg(io.Discard, msgBundle, make([]byte, maxBox)); err != nil {
		t.Fatal(err)
	}
}

func TestParseInfo(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      info
		wantErr bool
	}{
		{"ok", info{"Laptop ☕", "seedpod 1.0 (abc)"}, false},
		{"empty name", info{"", "1"}, true},
		{"name too long", info{strings.Repeat("a", MaxNameLen+1), "1"}, true},
		{"name newline", info{"a\nb", "1"}, true},
		{"name bidi", info{"a\u202eb", "1"}, true},
		{"name bad utf8", info{"a\xffb", "1"}, true},
		{"empty version", info{"a", ""}, true},
		{"version non-ascii", info{"a", "1.0é"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInfo(tt.in.marshal())
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseInfo: %+v, %v", got, err)
			}
			if err == nil && got != tt.in {
				t.Fatalf("round trip %+v", got)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
		})
	}
}
