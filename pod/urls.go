package pod

import (
	"context"
	"net"
)

// The API's JSON carries URLs (avatars, photo sizes). diaspora* API v1
// clients and its JSON schema expect absolute http(s) URLs; the desktop
// window loads the UI from its own scheme, where only relative URLs reach
// the in-process handler. pod/web puts the request's base URL in the
// context when the request came over HTTP to a loopback host:port (serve,
// tests); without one, URLs stay relative.

// The context key and WithBaseURL live in photos.go.

// BaseURLFor is the base URL for a request to host over plain HTTP: only a
// loopback host with a port qualifies ("" otherwise).
func BaseURLFor(host string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil || port == "" {
		return ""
	}
	if h == "localhost" {
		return "http://" + host
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return "http://" + host
	}
	return ""
}

// absURL is path on the request's base URL, or path itself without one.
func absURL(ctx context.Context, path string) string {
	if path == "" {
		return ""
	}
	if b, ok := ctx.Value(baseURLKey{}).(string); ok && b != "" {
		return b + path
	}
	return path
}
