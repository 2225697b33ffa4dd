package archive

import (
	"bytes"
	"embed"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas, verbatim (data, not code):
//   - schemas/archive-format.json: diaspora/diaspora @ ea6c79a,
//     lib/schemas/archive-format.json (the same bytes as
//     ../shared/vectors/upstream_other/diaspora_schemas/archive-format.json;
//     a test compares them);
//   - schemas/federation_entities.json: diaspora/diaspora_federation @
//     b4450d3, lib/diaspora_federation/schemas/federation_entities.json,
//     which the archive schema refers to for every entity.
//
// Both are added to the validator under their "id" URLs, so the $refs
// between them resolve without any network access (the validator's
// loader reads nothing else).
//
//go:embed schemas/archive-format.json schemas/federation_entities.json
var schemaFiles embed.FS

const (
	archiveSchemaURL  = "https://diaspora.github.io/diaspora/schemas/archive_format.json"
	entitiesSchemaURL = "https://diaspora.github.io/diaspora_federation/schemas/federation_entities.json"
)

// SchemaJSON returns the embedded archive schema (archive-format.json).
func SchemaJSON() []byte {
	b, _ := schemaFiles.ReadFile("schemas/archive-format.json")
	return b
}

// EntitiesSchemaJSON returns the embedded federation_entities.json.
func EntitiesSchemaJSON() []byte {
	b, _ := schemaFiles.ReadFile("schemas/federation_entities.json")
	return b
}

// streamed are the arrays read item by item: their path in the document
// and the JSON pointer of their items' schema.
var streamed = map[string]string{
	"user.contact_groups":             "/properties/user/properties/contact_groups/items",
	"user.contacts":                   "/properties/user/properties/contacts/items",
	"user.posts":                      "/properties/user/properties/posts/items",
	"user.relayables":                 "/properties/user/properties/relayables/items",
	"user.followed_tags":              "/properties/user/properties/followed_tags/items",
	"user.post_subscriptions":         "/properties/user/properties/post_subscriptions/items",
	"user.blocks":                     "/properties/user/properties/blocks/items",
	"others_data.relayables":          "/properties/others_data/properties/relayables/items",
	"others_data.posts":               "/properties/others_data/properties/posts/items",
	"others_data.non_contact_authors": "/properties/others_data/properties/non_contact_authors/items",
}

// schemas are the compiled archive schema and its item schemas.
type schemas struct {
	root  *jsonschema.Schema
	items map[string]*jsonschema.Schema
}

// compileSchemas compiles the embedded schemas (a few milliseconds).
func compileSchemas() (*schemas, error) {
	c := jsonschema.NewCompiler()
	for url, b := range map[string][]byte{archiveSchemaURL: SchemaJSON(), entitiesSchemaURL: EntitiesSchemaJSON()} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("archive schema %s: %w", url, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("archive schema %s: %w", url, err)
		}
	}
	s := &schemas{items: map[string]*jsonschema.Schema{}}
	var err error
	if s.root, err = c.Compile(archiveSchemaURL); err != nil {
		return nil, fmt.Errorf("compile the archive schema: %w", err)
	}
	for path, ptr := range streamed {
		if s.items[path], err = c.Compile(archiveSchemaURL + "#" + ptr); err != nil {
			return nil, fmt.Errorf("compile the archive schema for %s: %w", path, err)
		}
	}
	return s, nil
}

// schemaError words a validation error for people: its first lines,
// clipped.
func schemaError(err error) string {
	s := err.Error()
	lines := strings.Split(s, "\n")
	if len(lines) > 4 {
		lines = lines[:4]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return clip(strings.Join(lines, "; "), 400)
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
