package protocli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/entity"
)

// entityGUID is the entity's GUID, or "" for entities without one.
func entityGUID(e entity.Entity) string { return entity.GUIDOf(e) }

// entityJSON renders the entity in the archive JSON form (PROTOCOL.md §7.5),
// the one JSON shape the protocol defines.
func entityJSON(e entity.Entity) json.RawMessage {
	b, err := entity.MarshalJSON(e)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// subjectOf reads the subject of a JRD or XRD without validating anything,
// for webfinger-parse without --id.
func subjectOf(doc []byte) string {
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		var d struct {
			Subject string `json:"subject"`
		}
		_ = json.Unmarshal(t, &d)
		return d.Subject
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Subject" {
			var s string
			if dec.DecodeElement(&s, &se) == nil {
				return strings.TrimSpace(s)
			}
			return ""
		}
	}
}

func (c *cmd) webfingerParse(args []string) int {
	fs := c.flags()
	file := fs.String("file", "", "JRD (JSON) or XRD document, or - for stdin")
	asked := fs.String("id", "", "the diaspora ID it was fetched for (checked against the subject)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	doc, err := c.read("file", *file)
	if err != nil {
		return c.usageErr("%v", err)
	}
	checked := *asked != ""
	who := *asked
	if !checked {
		who = subjectOf(doc)
	}
	var wf *discovery.WebFinger
	format := "jrd"
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		wf, err = discovery.ParseJRD(doc, who)
	} else {
		format = "xrd"
		wf, err = discovery.ParseXRD(doc, who)
	}
	if err != nil {
		c.writeJSON(map[string]any{"ok": false, "stage": "discovery", "error": err.Error()})
		return 1
	}
	c.writeJSON(map[string]any{
		"ok": true, "format": format, "subject_checked": checked,
		"diaspora_id": wf.ID, "aliases": nonNil(wf.Aliases),
		"hcard_url": wf.HCardURL, "seed_url": wf.SeedURL, "profile_url": wf.ProfileURL,
		"atom_url": wf.AtomURL, "salmon_url": wf.SalmonURL, "subscribe_template": wf.SubscribeTemplate,
	})
	return 0
}

func (c *cmd) hcardParse(args []string) int {
	fs := c.flags()
	file := fs.String("file", "", "hCard HTML document, or - for stdin")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	doc, err := c.read("file", *file)
	if err != nil {
		return c.usageErr("%v", err)
	}
	h, err := discovery.ParseHCard(doc)
	if err != nil {
		c.writeJSON(map[string]any{"ok": false, "stage": "discovery", "error": err.Error()})
		return 1
	}
	c.writeJSON(map[string]any{
		"ok": true, "guid": h.GUID, "nickname": h.Nickname, "full_name": h.FullName,
		"first_name": h.FirstName, "last_name": h.LastName, "public_key": h.PublicKeyPEM,
		"photo_large": h.PhotoLarge, "photo_medium": h.PhotoMedium, "photo_small": h.PhotoSmall,
		"searchable": h.Searchable,
	})
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
