// Package apiv1test checks JSON documents against the schema diaspora*'s own
// API specs validate against (lib/schemas/api_v1.json, kept among the shared
// vectors as upstream_other/diaspora_schemas/api_v1.json). It is imported by
// _test files only.
package apiv1test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"seedpod/pod/internal/vectors"
)

// SchemaFile is the schema's path below the vectors directory.
const SchemaFile = "upstream_other/diaspora_schemas/api_v1.json"

// schemaID is the schema's own id; its $refs are absolute URLs under it.
// The document is registered under that id, so every reference resolves to
// it and nothing is fetched: the compiler's loader only reads file:// URLs
// it is given, and the draft-04 meta-schema is built in.
const schemaID = "https://diaspora.software/api/v1/schema.json"

// The schema is compiled once per test binary, for every definition.
var (
	once    sync.Once
	defs    map[string]*jsonschema.Schema
	loadErr error
)

// Validate fails t (without stopping it) unless body is valid against
// #/definitions/<def> of the schema, e.g. "post", "comments", "own_user".
// A missing schema file or an unknown definition stops the test.
func Validate(t testing.TB, def string, body []byte) {
	t.Helper()
	if err := Check(t, def, body); err != nil {
		t.Errorf("not a valid %s: %v\n%s", def, err, body)
	}
}

// Check returns the validation error of body against #/definitions/<def>,
// nil when it is valid, for tests that expect a document to be refused.
func Check(t testing.TB, def string, body []byte) error {
	t.Helper()
	s := schema(t, def)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(doc)
}

// Definitions lists the schema's definition names, sorted.
func Definitions(t testing.TB) []string {
	t.Helper()
	load(t)
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func schema(t testing.TB, def string) *jsonschema.Schema {
	t.Helper()
	load(t)
	s, ok := defs[def]
	if !ok {
		t.Fatalf("apiv1test: the schema has no definition %q (have %v)", def, Definitions(t))
	}
	return s
}

func load(t testing.TB) {
	t.Helper()
	// vectors.Dir stops the test with a clear message when the vectors are
	// missing; it runs outside once so a failure cannot poison it.
	path := filepath.Join(vectors.Dir(t), SchemaFile)
	once.Do(func() { defs, loadErr = compile(path) })
	if loadErr != nil {
		t.Fatalf("apiv1test: %v", loadErr)
	}
}

func compile(path string) (map[string]*jsonschema.Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the API v1 schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", path)
	}
	names, ok := top["definitions"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no definitions", path)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // timestamps are checked as date-time
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, err
	}
	out := make(map[string]*jsonschema.Schema, len(names))
	for n := range names {
		s, err := c.Compile(schemaID + "#/definitions/" + n)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", n, err)
		}
		out[n] = s
	}
	return out, nil
}
