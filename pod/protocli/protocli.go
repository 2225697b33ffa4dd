// Package protocli is `seedpod proto`: the diaspora* protocol core on the
// command line, for anyone debugging federation and for testing the protocol
// from outside. It reads files, calls pod/diaspora and prints JSON; the
// protocol logic stays in pod/diaspora.
//
// The interface is stable: JSON on stdout; exit 0 when accepted, 1 when
// rejected, 2 on usage errors (and unreadable inputs), with the reason on
// stderr.
package protocli

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
)

// maxInput caps every file or stdin read: envelopes and documents are small.
const maxInput = 16 << 20

const usage = `Usage: seedpod proto COMMAND [flags]

Keys:
  keygen [--bits 4096]                         new private key (PKCS#1 PEM)
  pubkey --key FILE                            its public key (SubjectPublicKeyInfo PEM)
Sending:
  sign-public --key FILE --author ID --entity-xml FILE
                                               magic envelope XML (entity bytes signed as given)
  encrypt-private --recipient-pubkey FILE --envelope FILE
                                               encrypted envelope JSON
  sign-relayable --key FILE --entity-xml FILE  the entity XML with author_signature added
Receiving (JSON verdict; exit 0 accepted, 1 rejected):
  verify-public --envelope FILE|- [--pubkey-for ID=FILE]… [RELATED]
  decrypt-private --key FILE --envelope FILE|- [--recipient ID] [--pubkey-for ID=FILE]… [RELATED]
                                               (--recipient: check the entity is addressed to ID)
  verify-relayable --entity-xml FILE|- [--pubkey-for ID=FILE]… [RELATED]
  RELATED (what this pod knows of a parent, retraction target or reshare root):
    --parent-author ID --parent-local true|false --parent-public true|false [--parent-root-author ID]
    or --no-parent (never seen it)
Discovery:
  webfinger-parse --file FILE|- [--id ID]      WebFinger JRD or XRD → JSON
  hcard-parse --file FILE|-                    hCard → JSON
`

// Run executes `seedpod proto args…` and returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	c := &cmd{name: args[0], stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "keygen":
		return c.keygen(args[1:])
	case "pubkey":
		return c.pubkey(args[1:])
	case "sign-public":
		return c.signPublic(args[1:])
	case "encrypt-private":
		return c.encryptPrivate(args[1:])
	case "sign-relayable":
		return c.signRelayable(args[1:])
	case "verify-public":
		return c.verifyPublic(args[1:])
	case "decrypt-private":
		return c.decryptPrivate(args[1:])
	case "verify-relayable":
		return c.verifyRelayable(args[1:])
	case "webfinger-parse":
		return c.webfingerParse(args[1:])
	case "hcard-parse":
		return c.hcardParse(args[1:])
	default:
		fmt.Fprintf(stderr, "seedpod proto: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

type cmd struct {
	name           string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageErr reports a usage problem and returns 2.
func (c *cmd) usageErr(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "seedpod proto %s: %s\n", c.name, fmt.Sprintf(format, a...))
	return 2
}

// flags returns a FlagSet whose errors go to stderr.
func (c *cmd) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("seedpod proto "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (c *cmd) parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usage)
			return 0, false
		}
		return c.usageErr("%v", err), false
	}
	if fs.NArg() > 0 {
		return c.usageErr("unexpected argument %q", fs.Arg(0)), false
	}
	return 0, true
}

// read reads a file, or stdin for "-", with the size cap.
func (c *cmd) read(flagName, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("--%s is required", flagName)
	}
	var r io.Reader
	if path == "-" {
		r = c.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flagName, path, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("--%s %s: larger than %d bytes", flagName, path, maxInput)
	}
	return b, nil
}

func (c *cmd) privateKey(path string) (*rsa.PrivateKey, error) {
	b, err := c.read("key", path)
	if err != nil {
		return nil, err
	}
	k, err := keys.ParsePrivate(b)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return k, nil
}

func (c *cmd) writeJSON(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (c *cmd) keygen(args []string) int {
	fs := c.flags()
	bits := fs.Int("bits", keys.DefaultBits, "key size")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	k, err := keys.Generate(*bits)
	if err != nil {
		return c.usageErr("%v", err)
	}
	c.stdout.Write(keys.MarshalPrivate(k))
	return 0
}

func (c *cmd) pubkey(args []string) int {
	fs := c.flags()
	keyPath := fs.String("key", "", "private key file")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	k, err := c.privateKey(*keyPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	c.stdout.Write(keys.MarshalPublic(&k.PublicKey))
	return 0
}

func (c *cmd) signPublic(args []string) int {
	fs := c.flags()
	keyPath := fs.String("key", "", "private key file")
	author := fs.String("author", "", "signer's diaspora ID")
	entityPath := fs.String("entity-xml", "", "entity XML file")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	k, err := c.privateKey(*keyPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	sender, err := id.Normalize(*author)
	if err != nil {
		return c.usageErr("--author: %v", err)
	}
	payload, err := c.read("entity-xml", *entityPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	doc, err := envelope.Sign(payload, sender, k)
	if err != nil {
		return c.usageErr("%v", err)
	}
	c.stdout.Write(doc)
	return 0
}

func (c *cmd) encryptPrivate(args []string) int {
	fs := c.flags()
	pubPath := fs.String("recipient-pubkey", "", "recipient's public key file")
	envPath := fs.String("envelope", "", "magic envelope XML file")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	pb, err := c.read("recipient-pubkey", *pubPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	pub, err := keys.ParsePublic(pb)
	if err != nil {
		return c.usageErr("--recipient-pubkey: %v", err)
	}
	doc, err := c.read("envelope", *envPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	body, err := envelope.Encrypt(doc, pub)
	if err != nil {
		return c.usageErr("%v", err)
	}
	c.stdout.Write(body)
	c.stdout.Write([]byte("\n"))
	return 0
}

func (c *cmd) signRelayable(args []string) int {
	fs := c.flags()
	keyPath := fs.String("key", "", "the relayable author's private key")
	entityPath := fs.String("entity-xml", "", "relayable XML file")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	k, err := c.privateKey(*keyPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	payload, err := c.read("entity-xml", *entityPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	out, err := entity.SignRelayable(payload, k)
	if err != nil {
		return c.usageErr("%v", err)
	}
	c.stdout.Write(out)
	if !bytes.HasSuffix(out, []byte("\n")) {
		c.stdout.Write([]byte("\n"))
	}
	return 0
}

// knowledge is what the receive commands are told of the world: keys and
// the related entity.
type knowledge struct {
	keys    diaspora.Keys
	related *diaspora.Related
}

func (k *knowledge) Related(string, string) (diaspora.Related, bool) {
	if k.related == nil {
		return diaspora.Related{}, false
	}
	return *k.related, true
}

// pubkeyFlags collects repeated --pubkey-for ID=FILE.
type pubkeyFlags []string

func (p *pubkeyFlags) String() string     { return strings.Join(*p, ",") }
func (p *pubkeyFlags) Set(v string) error { *p = append(*p, v); return nil }

type relatedFlags struct {
	pubkeys                           pubkeyFlags
	author, local, public, rootAuthor string
	noParent                          bool
}

func (r *relatedFlags) register(fs *flag.FlagSet) {
	fs.Var(&r.pubkeys, "pubkey-for", "ID=FILE: a known public key (repeatable)")
	fs.StringVar(&r.author, "parent-author", "", "the related entity's author")
	fs.StringVar(&r.local, "parent-local", "", "true if its root author is local to this pod")
	fs.StringVar(&r.public, "parent-public", "", "true if it is public")
	fs.StringVar(&r.rootAuthor, "parent-root-author", "", "its root's author, when it is itself a relayable")
	fs.BoolVar(&r.noParent, "no-parent", false, "the receiver has never seen the related entity")
}

func (c *cmd) knowledge(r *relatedFlags) (*knowledge, error) {
	k := &knowledge{keys: diaspora.Keys{}}
	for _, p := range r.pubkeys {
		who, path, ok := strings.Cut(p, "=")
		if !ok || who == "" || path == "" {
			return nil, fmt.Errorf("--pubkey-for %q: want ID=FILE", p)
		}
		norm, err := id.Normalize(who)
		if err != nil {
			return nil, fmt.Errorf("--pubkey-for %q: %w", p, err)
		}
		b, err := c.read("pubkey-for", path)
		if err != nil {
			return nil, err
		}
		pub, err := keys.ParsePublic(b)
		if err != nil {
			return nil, fmt.Errorf("--pubkey-for %s: %w", who, err)
		}
		k.keys[norm] = pub
	}
	given := r.author != "" || r.local != "" || r.public != "" || r.rootAuthor != ""
	switch {
	case r.noParent && given:
		return nil, errors.New("--no-parent excludes the --parent-* flags")
	case r.noParent || !given:
		return k, nil
	}
	if r.author == "" || r.local == "" || r.public == "" {
		return nil, errors.New("--parent-author, --parent-local and --parent-public go together (or use --no-parent)")
	}
	rel := diaspora.Related{}
	var err error
	if rel.Author, err = id.Normalize(r.author); err != nil {
		return nil, fmt.Errorf("--parent-author: %w", err)
	}
	if r.rootAuthor != "" {
		if rel.RootAuthor, err = id.Normalize(r.rootAuthor); err != nil {
			return nil, fmt.Errorf("--parent-root-author: %w", err)
		}
	}
	if rel.Local, err = strconv.ParseBool(r.local); err != nil {
		return nil, fmt.Errorf("--parent-local %q: want true or false", r.local)
	}
	if rel.Public, err = strconv.ParseBool(r.public); err != nil {
		return nil, fmt.Errorf("--parent-public %q: want true or false", r.public)
	}
	k.related = &rel
	return k, nil
}

// accepted and rejected are the verdicts, with fields in the documented order.
type accepted struct {
	OK     bool            `json:"ok"`
	Type   string          `json:"type"`
	Author string          `json:"author"`
	GUID   string          `json:"guid"`
	Sender string          `json:"sender,omitempty"` // the envelope's signer, when there is an envelope
	Entity json.RawMessage `json:"entity"`
}

type rejected struct {
	OK    bool           `json:"ok"`
	Stage diaspora.Stage `json:"stage"`
	Error string         `json:"error"`
}

// verdict prints the JSON verdict and returns the exit code.
func (c *cmd) verdict(r *diaspora.Received, e entity.Entity, err error) int {
	if err != nil {
		stage := diaspora.StageOf(err)
		msg := err.Error()
		if stage != "" {
			msg = strings.TrimPrefix(msg, string(stage)+": ")
		}
		c.writeJSON(rejected{OK: false, Stage: stage, Error: msg})
		return 1
	}
	out := accepted{OK: true}
	if r != nil {
		e = r.Entity
		out.Sender = r.Sender
	}
	out.Type, out.Author, out.GUID, out.Entity = e.Type(), e.Author(), entityGUID(e), entityJSON(e)
	c.writeJSON(out)
	return 0
}

// judge is the shape of the receive commands that take one input and what
// the receiver knows: flags, knowledge, input, verdict.
func (c *cmd) judge(args []string, input, help string, fn func([]byte, *knowledge) (*diaspora.Received, entity.Entity, error)) int {
	fs := c.flags()
	path := fs.String(input, "", help)
	var rf relatedFlags
	rf.register(fs)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	k, err := c.knowledge(&rf)
	if err != nil {
		return c.usageErr("%v", err)
	}
	in, err := c.read(input, *path)
	if err != nil {
		return c.usageErr("%v", err)
	}
	r, e, err := fn(in, k)
	return c.verdict(r, e, err)
}

func (c *cmd) verifyPublic(args []string) int {
	return c.judge(args, "envelope", "magic envelope XML file, or - for stdin",
		func(doc []byte, k *knowledge) (*diaspora.Received, entity.Entity, error) {
			r, err := diaspora.ReceivePublic(doc, k.keys, k)
			return r, nil, err
		})
}

func (c *cmd) decryptPrivate(args []string) int {
	fs := c.flags()
	keyPath := fs.String("key", "", "the recipient's private key")
	envPath := fs.String("envelope", "", "encrypted envelope JSON file, or - for stdin")
	recipient := fs.String("recipient", "", "the recipient's diaspora ID (checks Contact/Conversation addressing)")
	var rf relatedFlags
	rf.register(fs)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	key, err := c.privateKey(*keyPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	var to string
	if *recipient != "" {
		if to, err = id.Normalize(*recipient); err != nil {
			return c.usageErr("--recipient: %v", err)
		}
	}
	k, err := c.knowledge(&rf)
	if err != nil {
		return c.usageErr("%v", err)
	}
	body, err := c.read("envelope", *envPath)
	if err != nil {
		return c.usageErr("%v", err)
	}
	var r *diaspora.Received
	if to != "" {
		r, err = diaspora.ReceivePrivate(body, key, to, k.keys, k)
	} else {
		r, err = diaspora.ReceivePrivateUnbound(body, key, k.keys, k)
	}
	return c.verdict(r, nil, err)
}

func (c *cmd) verifyRelayable(args []string) int {
	return c.judge(args, "entity-xml", "relayable XML file, or - for stdin",
		func(payload []byte, k *knowledge) (*diaspora.Received, entity.Entity, error) {
			e, err := diaspora.VerifyEntity(payload, k.keys, k)
			return nil, e, err
		})
}
