package pod

import (
	"crypto/sha256"
	"sync"

	"seedpod/pod/apiv1"
)

// htmlCache keeps rendered post HTML, so a stream page that is read again
// (the UI re-fetches, scrolls back, polls after an event) does not render
// its fifteen posts again: rendering is ~0.2 ms a post, the rest of a page
// ~2.5 ms (BenchmarkScaleStreamMain, 2026-11). The key is everything the
// HTML depends on: the text, the footnote prefix and how each mention
// resolved (guid and name), so an edit or a person's new name is a miss,
// never a stale hit. Bounded: at most htmlCacheEntries, evicted in
// insertion order.
type htmlCache struct {
	mu    sync.Mutex
	m     map[[32]byte]string
	order [][32]byte
	next  int
}

const htmlCacheEntries = 4096

func (c *htmlCache) get(k [32]byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[k]
	return h, ok
}

func (c *htmlCache) put(k [32]byte, h string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]string, htmlCacheEntries)
		c.order = make([][32]byte, htmlCacheEntries)
	}
	if _, ok := c.m[k]; ok {
		return
	}
	if old := c.order[c.next]; old != ([32]byte{}) {
		delete(c.m, old)
	}
	c.order[c.next] = k
	c.next = (c.next + 1) % htmlCacheEntries
	c.m[k] = h
}

// renderPostHTML is renderHTML through the pod's cache. people are the
// post's mentioned people as the page resolved them (from post_mentions,
// the same handles markup finds in the text): with the text they decide
// the HTML, so they make the key without parsing the text again.
func (p *Pod) renderPostHTML(text, idPrefix string, people []apiv1.Person, person func(handle string) (apiv1.Person, bool)) string {
	if text == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(idPrefix))
	h.Write([]byte{0})
	h.Write([]byte(text))
	for _, pe := range people {
		for _, s := range []string{pe.DiasporaID, pe.GUID, pe.Name} {
			h.Write([]byte{0})
			h.Write([]byte(s))
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	if out, ok := p.html.get(k); ok {
		return out
	}
	out := renderHTML(text, idPrefix, person)
	p.html.put(k, out)
	return out
}
