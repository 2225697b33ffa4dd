package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"seedpod/pod/internal/vectors"
)

func i64(v int64) *int64 { return &v }

func TestWellKnownNodeInfoVector(t *testing.T) {
	doc := vectors.Read(t, "constructed/nodeinfo/well-known-nodeinfo.json")
	refs, err := ParseWellKnownNodeInfo(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeInfoRef{
		{"1.0", podA + "/nodeinfo/1.0"}, {"2.0", podA + "/nodeinfo/2.0"}, {"2.1", podA + "/nodeinfo/2.1"},
	}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("refs %+v", refs)
	}
	if best, ok := BestNodeInfo(refs); !ok || best.Version != "2.1" {
		t.Fatalf("best %+v", best)
	}
	out, err := WellKnownNodeInfo(podA+"/", "1.0", "2.0", "2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, doc) {
		t.Fatalf("regenerated:\n%s\nwant\n%s", out, doc)
	}
	if ct := NodeInfoContentType("2.1"); ct != "application/json; profile=http://nodeinfo.diaspora.software/ns/schema/2.1#" {
		t.Fatal(ct)
	}
}

func TestNodeInfoVectors(t *testing.T) {
	full := Usage{
		Users:         UserCounts{Total: i64(42), ActiveHalfyear: i64(20), ActiveMonth: i64(10)},
		LocalPosts:    i64(1000),
		LocalComments: i64(3000),
	}
	meta := NodeMetadata{NodeName: "Example pod", Camo: &Camo{}, AdminAccount: "podmin"}
	base := NodeInfo{
		Version:           "2.0",
		Software:          Software{Name: "diaspora", Version: "0.7.18.2"},
		Protocols:         []string{"diaspora"},
		Services:          Services{Inbound: []string{}, Outbound: []string{}},
		OpenRegistrations: true,
		Usage:             full,
		Metadata:          meta,
	}
	v21 := base
	v21.Version = "2.1"
	v21.Software.Repository, v21.Software.Homepage = "https://github.com/diaspora/diaspora", "https://diasporafoundation.org/"
	hidden := base
	hidden.OpenRegistrations = false
	hidden.Usage = Usage{}
	hidden.Metadata = NodeMetadata{NodeName: "Example pod", Camo: &Camo{}}

	files := vectors.Glob(t, "constructed/nodeinfo/nodeinfo-*.json")
	if len(files) != 3 {
		t.Fatalf("expected 3 nodeinfo vectors, got %v", files)
	}
	wants := map[string]NodeInfo{
		"constructed/nodeinfo/nodeinfo-2.0.json":               base,
		"constructed/nodeinfo/nodeinfo-2.1.json":               v21,
		"constructed/nodeinfo/nodeinfo-2.0.counts-hidden.json": hidden,
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			doc := vectors.Read(t, f)
			n, err := ParseNodeInfo(doc)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := wants[f]
			if !ok {
				t.Fatalf("no expectation for %s", f)
			}
			if !reflect.DeepEqual(*n, want) {
				t.Fatalf("parsed %+v\nwant %+v", *n, want)
			}
			out, err := n.JSON()
			if err != nil {
				t.Fatal(err)
			}
			// The vectors are pretty-printed; diaspora (and JSON) emit
			// compact JSON: compare after json.Compact.
			var c bytes.Buffer
			if err := json.Compact(&c, doc); err != nil {
				t.Fatal(err)
			}
			c.WriteByte('\n')
			if !bytes.Equal(out, c.Bytes()) {
				t.Fatalf("regenerated:\n%s\nwant\n%s", out, c.Bytes())
			}
		})
	}
}

func TestParseNodeInfoRejects(t *testing.T) {
	good := string(vectors.Read(t, "constructed/nodeinfo/nodeinfo-2.1.json"))
	rep := func(old, new string) []byte {
		if !strings.Contains(good, old) {
			t.Fatalf("vector lacks %q", old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		want error
	}{
		{"version 1.0", rep(`"version": "2.1"`, `"version": "1.0"`), ErrUnsupported},
		{"version missing", rep(`"version": "2.1",`, ""), ErrInvalid},
		{"2.0 with homepage", rep(`"version": "2.1"`, `"version": "2.0"`), ErrInvalid},
		{"software name pattern", rep(`"name": "diaspora"`, `"name": "Diaspora*"`), ErrInvalid},
		{"software unknown field", rep(`"name": "diaspora",`, `"name": "diaspora", "x": 1,`), ErrMalformed},
		{"top unknown field", rep(`"version": "2.1",`, `"version": "2.1", "extra": true,`), ErrMalformed},
		{"protocols empty", rep(`[
    "diaspora"
  ]`, "[]"), ErrInvalid},
		{"protocol unknown", rep(`"diaspora"
  ]`, `"smtp"]`), ErrInvalid},
		{"protocols missing", rep(`"protocols": [
    "diaspora"
  ],`, ""), ErrInvalid},
		{"service unknown", rep(`"inbound": []`, `"inbound": ["carrier-pigeon"]`), ErrInvalid},
		{"services incomplete", rep(`"inbound": [],`, ""), ErrInvalid},
		{"openRegistrations missing", rep(`"openRegistrations": true,`, ""), ErrInvalid},
		{"openRegistrations string", rep(`"openRegistrations": true`, `"openRegistrations": "yes"`), ErrMalformed},
		{"usage negative", rep(`"total": 42`, `"total": -1`), ErrInvalid},
		{"usage fraction", rep(`"total": 42`, `"total": 4.2`), ErrMalformed},
		{"usage unknown", rep(`"localPosts": 1000`, `"localPosts": 1000, "localLikes": 1`), ErrMalformed},
		{"metadata array", rep(`"metadata": {`, `"metadata": [], "m": {`), ErrMalformed},
		{"metadata not object", []byte(strings.Replace(good[:strings.Index(good, `"metadata"`)], `"usage"`, `"usage"`, 1) + `"metadata": 3}`), ErrInvalid},
		{"metadata missing", []byte(strings.TrimRight(good[:strings.Index(good, `"metadata"`)], " \n,") + "}"), ErrInvalid},
		{"malformed", []byte(good[:20]), ErrMalformed},
		{"trailing", []byte(good + "{}"), ErrMalformed},
		{"oversize", []byte(good + strings.Repeat(" ", MaxDocSize)), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNodeInfo(tc.doc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseNodeInfo = %+v, %v; want %v", n, err, tc.want)
			}
		})
	}
}

func TestWellKnownNodeInfoRejects(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      error
	}{
		{"no links", `{"links":[]}`, ErrInvalid},
		{"only unknown rel", `{"links":[{"rel":"http://example.org/x","href":"https://a.example/x"}]}`, ErrInvalid},
		{"bad href", `{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"file:///x"}]}`, ErrInvalid},
		{"malformed", `{"links":`, ErrMalformed},
		{"oversize", `{"links":[]}` + strings.Repeat(" ", MaxDocSize), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseWellKnownNodeInfo([]byte(tc.doc)); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := WellKnownNodeInfo("https://a.example", "two"); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}
