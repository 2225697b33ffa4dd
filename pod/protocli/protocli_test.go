package protocli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

type result struct {
	code   int
	stdout string
	stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func verdict(t *testing.T, r result) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not one JSON object: %q (stderr %q)", r.stdout, r.stderr)
	}
	return v
}

func vec(t *testing.T, rel string) string { return filepath.Join(vectors.Dir(t), rel) }

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyPublicVectors(t *testing.T) {
	alice := "alice@pod-a.example=" + vec(t, "keys/alice_integration_spec_rsa1024.public.pem")
	bob := "bob@pod-b.example=" + vec(t, "keys/bob_generated_rsa2048.public.pem")
	aliceNew := "alice@pod-c.example=" + vec(t, "keys/alice_new_generated_rsa2048.public.pem")
	bobsPost := []string{"--parent-author", "bob@pod-b.example", "--parent-local", "false", "--parent-public", "true"}
	cases := []struct {
		file  string
		extra []string
		code  int
		stage string
		typ   string
	}{
		{"generated/envelopes/public_status_message.xml", nil, 0, "", "status_message"},
		{"generated/negative/tampered_data.xml", nil, 1, "signature", ""},
		{"generated/negative/sender_not_author.xml", nil, 1, "receive", ""},
		{"generated/negative/key_id_mismatch.xml", nil, 1, "signature", ""},
		{"generated/negative/private_entity_on_public_route.xml", nil, 1, "receive", ""},
		{"generated/negative/wrong_data_type.xml", nil, 1, "envelope", ""},
		{"generated/negative/no_me_prefix.xml", nil, 1, "envelope", ""},
		{"generated/negative/unpadded_base64url_accepted.xml", nil, 0, "", "account_deletion"},
		{"generated/negative/relayable_relayed_by_non_root_author.xml", bobsPost, 1, "receive", ""},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", bobsPost, 0, "", "comment"},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", []string{"--no-parent"}, 1, "entity", ""},
		{"generated/envelopes/comment_from_author_to_root_author.xml", bobsPost, 1, "receive", ""},
		{"generated/envelopes/comment_from_author_to_root_author.xml",
			[]string{"--parent-author", "bob@pod-b.example", "--parent-local", "true", "--parent-public", "true"}, 0, "", "comment"},
		{"generated/envelopes/account_migration_author_old.xml", nil, 0, "", "account_migration"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			args := append([]string{"verify-public", "--envelope", vec(t, c.file),
				"--pubkey-for", alice, "--pubkey-for", bob, "--pubkey-for", aliceNew}, c.extra...)
			r := run(t, "", args...)
			v := verdict(t, r)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d: %s", r.code, c.code, r.stdout)
			}
			if c.code == 0 {
				if v["ok"] != true || v["type"] != c.typ || v["author"] == "" || v["entity"] == nil {
					t.Fatalf("verdict %v", v)
				}
				return
			}
			if v["ok"] != false || v["stage"] != c.stage || v["error"] == "" {
				t.Fatalf("verdict %v, want stage %s", v, c.stage)
			}
		})
	}
	// An ID without a key is unknown: the signature stage.
	r := run(t, "", "verify-public", "--envelope", vec(t, "generated/envelopes/public_status_message.xml"))
	if v := verdict(t, r); r.code != 1 || v["stage"] != "signature" {
		t.Fatalf("no keys: %d %v", r.code, v)
	}
	// The envelope from stdin.
	doc, _ := os.ReadFile(vec(t, "generated/envelopes/public_status_message.xml"))
	if r := run(t, string(doc), "verify-public", "--envelope", "-", "--pubkey-for", alice); r.code != 0 {
		t.Fatalf("stdin: %d %s", r.code, r.stdout)
	}
}

func TestSignEncryptRoundTrip(t *testing.T) {
	r := run(t, "", "keygen", "--bits", "2048")
	if r.code != 0 {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	if _, err := keys.ParsePrivate([]byte(r.stdout)); err != nil {
		t.Fatalf("keygen output: %v", err)
	}
	keyFile := write(t, "k.pem", []byte(r.stdout))
	r = run(t, "", "pubkey", "--key", keyFile)
	if !strings.HasPrefix(r.stdout, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("pubkey: %q", r.stdout)
	}
	pubFile := write(t, "k.pub", []byte(r.stdout))

	// sign-public reproduces the reference's envelope byte for byte.
	r = run(t, "", "sign-public", "--key", vec(t, "keys/alice_integration_spec_rsa1024.private.pem"),
		"--author", "alice@pod-a.example", "--entity-xml", vec(t, "generated/envelopes/public_status_message.payload.xml"))
	want, _ := os.ReadFile(vec(t, "generated/envelopes/public_status_message.xml"))
	if r.code != 0 || r.stdout != string(want) {
		t.Fatalf("sign-public differs from the reference:\n%s\nwant\n%s", r.stdout, want)
	}

	// Our own key: sign, encrypt to ourselves, decrypt and verify.
	r = run(t, "", "sign-public", "--key", keyFile, "--author", "carol@pod-d.example",
		"--entity-xml", vec(t, "generated/entities/account_deletion.xml"))
	if r.code != 0 {
		t.Fatalf("sign-public: %s", r.stderr)
	}
	// account_deletion.xml is alice's; carol signing it is refused at receive.
	env := write(t, "env.xml", []byte(r.stdout))
	r = run(t, "", "encrypt-private", "--recipient-pubkey", pubFile, "--envelope", env)
	if r.code != 0 || !strings.HasPrefix(r.stdout, `{"aes_key":`) {
		t.Fatalf("encrypt-private: %d %q %s", r.code, r.stdout, r.stderr)
	}
	enc := write(t, "enc.json", []byte(r.stdout))
	r = run(t, "", "decrypt-private", "--key", keyFile, "--envelope", enc, "--pubkey-for", "carol@pod-d.example="+pubFile)
	if v := verdict(t, r); r.code != 1 || v["stage"] != "receive" {
		t.Fatalf("decrypt-private of a forged sender: %d %v", r.code, v)
	}
	r = run(t, "", "decrypt-private", "--key", vec(t, "keys/bob_generated_rsa2048.private.pem"), "--envelope", enc)
	if v := verdict(t, r); r.code != 1 || v["stage"] != "decrypt" {
		t.Fatalf("decrypt-private with the wrong key: %d %v", r.code, v)
	}

	// sign-relayable then verify-relayable.
	r = run(t, "", "sign-relayable", "--key", keyFile, "--entity-xml", vec(t, "generated/entities/comment.xml"))
	if r.code != 0 || !strings.Contains(r.stdout, "<author_signature>") {
		t.Fatalf("sign-relayable: %d %s", r.code, r.stderr)
	}
	signed := write(t, "c.xml", []byte(r.stdout))
	parent := []string{"--parent-author", "bob@pod-b.example", "--parent-local", "false", "--parent-public", "true"}
	r = run(t, "", append([]string{"verify-relayable", "--entity-xml", signed, "--pubkey-for", "alice@pod-a.example=" + pubFile}, parent...)...)
	if v := verdict(t, r); r.code != 0 || v["type"] != "comment" || v["guid"] == "" {
		t.Fatalf("verify-relayable: %d %v", r.code, v)
	}
	// The same comment checked against alice's real key fails: it was signed by ours.
	r = run(t, "", append([]string{"verify-relayable", "--entity-xml", signed,
		"--pubkey-for", "alice@pod-a.example=" + vec(t, "keys/alice_integration_spec_rsa1024.public.pem")}, parent...)...)
	if v := verdict(t, r); r.code != 1 || v["stage"] != "entity" {
		t.Fatalf("verify-relayable with another key: %d %v", r.code, v)
	}
}

func TestDiscoveryParse(t *testing.T) {
	r := run(t, "", "webfinger-parse", "--file", vec(t, "generated/discovery/webfinger.json"))
	v := verdict(t, r)
	if r.code != 0 || v["hcard_url"] == "" || v["seed_url"] == "" || v["format"] != "jrd" {
		t.Fatalf("webfinger-parse: %d %v", r.code, v)
	}
	r = run(t, "", "webfinger-parse", "--file", vec(t, "generated/discovery/webfinger.json"), "--id", "mallory@evil.example")
	if v := verdict(t, r); r.code != 1 || v["ok"] != false {
		t.Fatalf("webfinger-parse with a foreign --id: %d %v", r.code, v)
	}
	r = run(t, "", "webfinger-parse", "--file", vec(t, "generated/discovery/legacy_webfinger.xrd.xml"))
	if v := verdict(t, r); r.code != 0 || v["format"] != "xrd" {
		t.Fatalf("webfinger-parse XRD: %d %v", r.code, v)
	}
	r = run(t, "", "hcard-parse", "--file", vec(t, "generated/discovery/hcard.html"))
	v = verdict(t, r)
	if r.code != 0 || v["guid"] == "" || !strings.Contains(v["public_key"].(string), "PUBLIC KEY") {
		t.Fatalf("hcard-parse: %d %v", r.code, v)
	}
	r = run(t, "<html>nothing</html>", "hcard-parse", "--file", "-")
	if v := verdict(t, r); r.code != 1 || v["ok"] != false {
		t.Fatalf("hcard-parse of nothing: %d %v", r.code, v)
	}
}

func TestUsageErrors(t *testing.T) {
	env := vec(t, "generated/envelopes/public_status_message.xml")
	for _, c := range []struct {
		args []string
		has  string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"verify-public"}, "--envelope is required"},
		{[]string{"verify-public", "--envelope", "/nonexistent/file"}, "no such file"},
		{[]string{"verify-public", "--envelope", env, "--parent-local", "maybe", "--parent-author", "bob@pod-b.example", "--parent-public", "true"}, "want true or false"},
		{[]string{"verify-public", "--envelope", env, "--no-parent", "--parent-author", "bob@pod-b.example"}, "--no-parent excludes"},
		{[]string{"verify-public", "--envelope", env, "--parent-author", "bob@pod-b.example"}, "go together"},
		{[]string{"verify-public", "--envelope", env, "--pubkey-for", "nobody"}, "want ID=FILE"},
		{[]string{"verify-public", "--envelope", env, "--pubkey-for", "alice@pod-a.example=" + env}, "bad RSA key"},
		{[]string{"sign-public", "--key", env, "--author", "a@b.example", "--entity-xml", env}, "bad RSA key"},
		{[]string{"sign-public", "--key", vec(t, "keys/bob_generated_rsa2048.private.pem"), "--author", "not an id", "--entity-xml", env}, "--author"},
		{[]string{"keygen", "--bits", "512"}, "refusing"},
		{[]string{"keygen", "extra"}, "unexpected argument"},
		{[]string{"keygen", "--frob"}, "flag provided but not defined"},
	} {
		r := run(t, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.has) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.has)
		}
		if r.stdout != "" {
			t.Errorf("%v: usage errors print nothing on stdout, got %q", c.args, r.stdout)
		}
	}
	if r := run(t, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "verify-public") {
		t.Errorf("help: %d", r.code)
	}
}
