package pod

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"seedpod/pod/apiv1"
)

func TestHTMLCacheBoundedAndKeyed(t *testing.T) {
	var c htmlCache
	for i := range htmlCacheEntries + 500 {
		c.put(sha256.Sum256([]byte(fmt.Sprint(i))), "x")
	}
	if len(c.m) != htmlCacheEntries {
		t.Fatalf("%d entries, want the bound %d", len(c.m), htmlCacheEntries)
	}
	if _, ok := c.get(sha256.Sum256([]byte("0"))); ok {
		t.Fatal("the oldest entry survived eviction")
	}
	// A mention that resolves differently (a new name) is a different key.
	p := &Pod{}
	who := apiv1.Person{GUID: "g1", DiasporaID: "bob@pod.example", Name: "Bob"}
	known := func(string) (apiv1.Person, bool) { return who, true }
	text := "hi @{Bob; bob@pod.example}"
	a := p.renderPostHTML(text, "guid1", []apiv1.Person{who}, known)
	who.Name = "Robert"
	b := p.renderPostHTML(text, "guid1", []apiv1.Person{who}, known)
	if a == b || len(p.html.m) != 2 {
		t.Fatalf("renamed person served stale HTML: %q vs %q", a, b)
	}
}
