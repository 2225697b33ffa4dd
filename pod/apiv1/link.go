package apiv1

import (
	"net/url"
	"strings"
)

// LinkURL is the URL of another page of the list u (a request URL) shows:
// u's path and query string, less the paging and credential parameters
// (page, before, after, cursor, access_token, and their key[…] forms), with
// kv (alternating names and values) appended.
//
// access_token is never copied, so a query-string token cannot leak into a
// Link header (diaspora echoes it, API.md §1.2). Copied parameters are
// re-encoded by url.Values (sorted by name, every value escaped), so
// nothing a client sends can break out of the <…> of a Link header.
// Parameters Go refuses to parse (a raw ";" in the pair, bad %-escapes) are
// dropped, as the server never saw them either.
//
// A server-side request URL has no host, so the result is an absolute path,
// /api/v1/streams/main?…, which clients resolve against the request; pass a
// URL with Scheme and Host set to get absolute URLs.
func LinkURL(u *url.URL, kv ...string) string {
	q, _ := url.ParseQuery(u.RawQuery) // keeps the pairs that parse
	for k := range q {
		name, _, _ := strings.Cut(k, "[")
		switch name {
		case "page", "before", "after", "cursor", "access_token":
			delete(q, k)
		}
	}
	var b strings.Builder
	if u.Host != "" {
		if u.Scheme != "" {
			b.WriteString(u.Scheme)
			b.WriteByte(':')
		}
		b.WriteString("//")
		b.WriteString(u.Host)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if enc := encodeQuery(q, kv); enc != "" {
		b.WriteByte('?')
		b.WriteString(enc)
	}
	return b.String()
}

// encodeQuery writes the copied parameters sorted, then the paging ones (kv)
// last and in their given order, as diaspora does.
func encodeQuery(q url.Values, kv []string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		delete(q, kv[i])
	}
	var b strings.Builder
	b.WriteString(q.Encode())
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(escapeValue(kv[i+1]))
	}
	return b.String()
}

// escapeValue is url.QueryEscape, except that it leaves ":" alone, so the
// timestamps in links read as in diaspora's (":" is allowed in a query,
// RFC 3986 §3.4).
func escapeValue(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%3A", ":")
}

// link is one Link header entry.
func link(u *url.URL, rel string, kv ...string) string {
	return "<" + LinkURL(u, kv...) + `>; rel="` + rel + `"`
}
