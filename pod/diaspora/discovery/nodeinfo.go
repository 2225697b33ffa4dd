package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// NodeInfoSchema is the prefix of the NodeInfo link relations and profiles;
// the version ("2.1") follows it.
const NodeInfoSchema = "http://nodeinfo.diaspora.software/ns/schema/"

// NodeInfoRef is one entry of /.well-known/nodeinfo.
type NodeInfoRef struct {
	Version string // "1.0", "2.0", "2.1", …
	Href    string // validated http(s) URL
}

type nodeInfoLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

var nodeInfoVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// WellKnownNodeInfo returns /.well-known/nodeinfo for a pod (base URL, no
// path) advertising the given versions at /nodeinfo/<v>, compact JSON as
// diaspora's lib/node_info.rb renders it (diaspora lists 1.0, 2.0, 2.1).
func WellKnownNodeInfo(pod string, versions ...string) ([]byte, error) {
	base, err := podBase(pod)
	if err != nil {
		return nil, err
	}
	d := struct {
		Links []nodeInfoLink `json:"links"`
	}{Links: []nodeInfoLink{}}
	for _, v := range versions {
		if !nodeInfoVersionRE.MatchString(v) {
			return nil, invalid("nodeinfo version", v, "not N.N")
		}
		d.Links = append(d.Links, nodeInfoLink{Rel: NodeInfoSchema + v, Href: base + "/nodeinfo/" + v})
	}
	return marshalJSON(d, false)
}

// ParseWellKnownNodeInfo reads /.well-known/nodeinfo. It keeps the links
// whose rel is NodeInfoSchema+version (https accepted too) and whose href
// is a valid http(s) URL, in document order; others are ignored. No usable
// link is ErrInvalid.
func ParseWellKnownNodeInfo(doc []byte) ([]NodeInfoRef, error) {
	if err := checkSize(doc); err != nil {
		return nil, err
	}
	var d struct {
		Links []nodeInfoLink `json:"links"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("%w: nodeinfo links: %v", ErrMalformed, err)
	}
	if len(d.Links) > maxLinks {
		return nil, fmt.Errorf("%w: %d nodeinfo links (limit %d)", ErrInvalid, len(d.Links), maxLinks)
	}
	var out []NodeInfoRef
	for _, l := range d.Links {
		rel := strings.TrimSpace(l.Rel)
		v, ok := strings.CutPrefix(rel, NodeInfoSchema)
		if !ok {
			v, ok = strings.CutPrefix(rel, "https"+strings.TrimPrefix(NodeInfoSchema, "http"))
		}
		href := strings.TrimSpace(l.Href)
		if !ok || !nodeInfoVersionRE.MatchString(v) || checkHTTPURL("nodeinfo href", href, false) != nil {
			continue
		}
		out = append(out, NodeInfoRef{Version: v, Href: href})
	}
	if len(out) == 0 {
		return nil, invalid("nodeinfo links", "", "no usable NodeInfo link")
	}
	return out, nil
}

// BestNodeInfo picks the highest version this package can parse (2.1, then
// 2.0) from a links document.
func BestNodeInfo(refs []NodeInfoRef) (NodeInfoRef, bool) {
	for _, v := range []string{"2.1", "2.0"} {
		for _, r := range refs {
			if r.Version == v {
				return r, true
			}
		}
	}
	return NodeInfoRef{}, false
}

// NodeInfoContentType is the Content-Type diaspora serves /nodeinfo/<v> with.
func NodeInfoContentType(version string) string {
	return "application/json; profile=" + NodeInfoSchema + version + "#"
}

// NodeInfo is a NodeInfo 2.0 or 2.1 document shaped as diaspora's
// NodeInfoPresenter builds it. Field order is diaspora's.
type NodeInfo struct {
	Version           string       `json:"version"` // "2.0" or "2.1"
	Software          Software     `json:"software"`
	Protocols         []string     `json:"protocols"`
	Services          Services     `json:"services"`
	OpenRegistrations bool         `json:"openRegistrations"`
	Usage             Usage        `json:"usage"`
	Metadata          NodeMetadata `json:"metadata"`
}

// Software names the server software; Repository and Homepage exist in 2.1
// only.
type Software struct {
	Name       string `json:"name"` // ^[a-z0-9-]+$
	Version    string `json:"version"`
	Repository string `json:"repository,omitempty"`
	Homepage   string `json:"homepage,omitempty"`
}

// Services lists third-party sites (schema enums); diaspora sends both
// empty.
type Services struct {
	Inbound  []string `json:"inbound"`
	Outbound []string `json:"outbound"`
}

// Usage holds statistics; nil means the podmin does not expose the number
// (it is then omitted, as diaspora does).
type Usage struct {
	Users         UserCounts `json:"users"`
	LocalPosts    *int64     `json:"localPosts,omitempty"`
	LocalComments *int64     `json:"localComments,omitempty"`
}

// UserCounts are the user statistics; all optional.
type UserCounts struct {
	Total          *int64 `json:"total,omitempty"`
	ActiveHalfyear *int64 `json:"activeHalfyear,omitempty"`
	ActiveMonth    *int64 `json:"activeMonth,omitempty"`
}

// NodeMetadata is the free-form metadata object; only the keys diaspora
// emits are modelled, others are ignored on parse.
type NodeMetadata struct {
	NodeName     string `json:"nodeName,omitempty"`
	Camo         *Camo  `json:"camo,omitempty"`
	AdminAccount string `json:"adminAccount,omitempty"`
}

// Camo tells which remote media diaspora proxies.
type Camo struct {
	Markdown   bool `json:"markdown"`
	OpenGraph  bool `json:"opengraph"`
	RemotePods bool `json:"remotePods"`
}

// Enumerations of the 2.0/2.1 schemas (identical in both).
var (
	nodeInfoProtocols = set("activitypub", "buddycloud", "dfrn", "diaspora", "libertree", "ostatus", "pumpio", "tent", "xmpp", "zot")
	nodeInfoInbound   = set("atom1.0", "gnusocial", "imap", "pnut", "pop3", "pumpio", "rss2.0", "twitter")
	nodeInfoOutbound  = set("atom1.0", "blogger", "buddycloud", "diaspora", "dreamwidth", "drupal", "facebook",
		"friendica", "gnusocial", "google", "insanejournal", "libertree", "linkedin", "livejournal", "mediagoblin",
		"myspace", "pinterest", "pnut", "posterous", "pumpio", "redmatrix", "rss2.0", "smtp", "tent", "tumblr",
		"twitter", "wordpress", "xmpp")
	softwareNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)
)

func set(ss ...string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// JSON returns the document as compact JSON (what diaspora's `render json:`
// sends) with a final newline, after checking it against the schema.
func (n *NodeInfo) JSON() ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	c := *n
	if c.Services.Inbound == nil {
		c.Services.Inbound = []string{}
	}
	if c.Services.Outbound == nil {
		c.Services.Outbound = []string{}
	}
	return marshalJSON(c, false)
}

// validate applies the rules of the vendored 2.0/2.1 JSON schemas that a
// typed value can break.
func (n *NodeInfo) validate() error {
	switch n.Version {
	case "2.0":
		if n.Software.Repository != "" || n.Software.Homepage != "" {
			return invalid("nodeinfo software", n.Software.Repository+n.Software.Homepage, "repository/homepage exist only in 2.1")
		}
	case "2.1":
	default:
		return fmt.Errorf("%w: %q", ErrUnsupported, short(n.Version))
	}
	if !softwareNameRE.MatchString(n.Software.Name) {
		return invalid("nodeinfo software.name", n.Software.Name, "must match ^[a-z0-9-]+$")
	}
	if len(n.Protocols) == 0 {
		return invalid("nodeinfo protocols", "", "empty")
	}
	for _, p := range n.Protocols {
		if !nodeInfoProtocols[p] {
			return invalid("nodeinfo protocols", p, "unknown protocol")
		}
	}
	for _, s := range n.Services.Inbound {
		if !nodeInfoInbound[s] {
			return invalid("nodeinfo services.inbound", s, "unknown service")
		}
	}
	for _, s := range n.Services.Outbound {
		if !nodeInfoOutbound[s] {
			return invalid("nodeinfo services.outbound", s, "unknown service")
		}
	}
	u := n.Usage
	for _, c := range []struct {
		f string
		v *int64
	}{
		{"users.total", u.Users.Total}, {"users.activeHalfyear", u.Users.ActiveHalfyear},
		{"users.activeMonth", u.Users.ActiveMonth}, {"localPosts", u.LocalPosts}, {"localComments", u.LocalComments},
	} {
		if c.v != nil && *c.v < 0 {
			return invalid("nodeinfo usage."+c.f, fmt.Sprint(*c.v), "negative")
		}
	}
	return nil
}

// wire shapes for strict decoding: pointers and RawMessage tell "absent"
// from "zero".
type nodeInfoWire struct {
	Version           *string          `json:"version"`
	Software          *Software        `json:"software"`
	Protocols         []string         `json:"protocols"`
	Services          *Services        `json:"services"`
	OpenRegistrations *bool            `json:"openRegistrations"`
	Usage             *Usage           `json:"usage"`
	Metadata          *json.RawMessage `json:"metadata"`
}

// ParseNodeInfo reads a NodeInfo 2.0 or 2.1 document and validates it like
// the schema: required members present, no unknown members outside
// metadata, software.name pattern, protocol and service enums,
// non-negative integer counts. Other versions are ErrUnsupported.
// Metadata must be an object; nodeName, camo and adminAccount are read
// when they have the expected types, everything else in it is ignored.
func ParseNodeInfo(doc []byte) (*NodeInfo, error) {
	if err := checkSize(doc); err != nil {
		return nil, err
	}
	var w nodeInfoWire
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: nodeinfo: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: nodeinfo: data after the document", ErrMalformed)
	}
	if w.Version == nil {
		return nil, invalid("nodeinfo version", "", "missing")
	}
	if *w.Version != "2.0" && *w.Version != "2.1" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, short(*w.Version))
	}
	for f, missing := range map[string]bool{
		"software": w.Software == nil, "protocols": w.Protocols == nil, "services": w.Services == nil,
		"openRegistrations": w.OpenRegistrations == nil, "usage": w.Usage == nil, "metadata": w.Metadata == nil,
	} {
		if missing {
			return nil, invalid("nodeinfo "+f, "", "missing")
		}
	}
	if w.Services.Inbound == nil || w.Services.Outbound == nil {
		return nil, invalid("nodeinfo services", "", "inbound and outbound are required")
	}
	n := &NodeInfo{
		Version:           *w.Version,
		Software:          *w.Software,
		Protocols:         w.Protocols,
		Services:          *w.Services,
		OpenRegistrations: *w.OpenRegistrations,
		Usage:             *w.Usage,
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(*w.Metadata, &meta); err != nil || meta == nil {
		return nil, invalid("nodeinfo metadata", short(string(*w.Metadata)), "not an object")
	}
	_ = json.Unmarshal(meta["nodeName"], &n.Metadata.NodeName)
	_ = json.Unmarshal(meta["adminAccount"], &n.Metadata.AdminAccount)
	var camo Camo
	if raw, ok := meta["camo"]; ok && json.Unmarshal(raw, &camo) == nil && string(raw) != "null" {
		n.Metadata.Camo = &camo
	}
	if err := n.validate(); err != nil {
		return nil, err
	}
	return n, nil
}
