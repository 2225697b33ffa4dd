package id

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"alice@pod.example", "alice@pod.example"},
		{"  Alice@Pod.Example  ", "alice@pod.example"},
		{"acct:alice@pod.example", "alice@pod.example"},
		{"ACCT:alice@pod.example", "alice@pod.example"},
		{"alice@pod.example.", "alice@pod.example"},
		{"alice@pod.example:3000", "alice@pod.example:3000"},
		{"alice@Pod.Example.:3000", "alice@pod.example:3000"},
		{"alice@bücher.example", "alice@xn--bcher-kva.example"},
		{"alice@BÜCHER.example", "alice@xn--bcher-kva.example"},
		{"alice@127.0.0.1", "alice@127.0.0.1"},
		{"alice@127.0.0.1:8080", "alice@127.0.0.1:8080"},
		{"alice@[::1]", "alice@[::1]"},
		{"alice@[0:0:0:0:0:0:0:1]:3000", "alice@[::1]:3000"},
		{"a.l-i_ce9@pod-a.example", "a.l-i_ce9@pod-a.example"},
		{"élodie@pod.example", "élodie@pod.example"},
		{"ÉLODIE@pod.example", "élodie@pod.example"},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		if !Valid(got) {
			t.Errorf("Valid(%q) = false for a normalised ID", got)
		}
		if again, _ := Normalize(got); again != got {
			t.Errorf("Normalize is not idempotent on %q: %q", got, again)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, in := range []string{
		"", "acct:", "alice", "@pod.example", "alice@", "alice@pod.example:", "alice@pod.example:0",
		"alice@pod.example:65536", "alice@pod.example:080", "alice@pod.example:http",
		"al ice@pod.example", "alice+tag@pod.example", "alice@pod_a.example", "alice@pod.example/path",
		"alice@::1", "alice@[::1", "alice@[fe80::1%eth0]", "alice@[1.2.3.4]", "alice@.",
		"alice@pod..example:99999", strings.Repeat("a", 250) + "@pod.example", strings.Repeat("x", 5000),
		"alice@xn--.example", "alice@pod.ex ample", "alice@p\u00adod.example\x00",
	} {
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q): error %v does not wrap ErrInvalid", in, err)
		}
	}
}

func TestValid(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"alice@pod.example", true},
		{"alice@pod.example:3000", true},
		{"Alice@pod.example", false},
		{"alice@pod.example.", false},
		{"alice@bücher.example", false},
		{"acct:alice@pod.example", false},
	} {
		if got := Valid(c.in); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if u, h := Split("alice@pod.example:3000"); u != "alice" || h != "pod.example:3000" {
		t.Errorf("Split = %q, %q", u, h)
	}
}

func TestGUID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"c3893bf029e7013487753131731751e9", true},
		{"0123456789abcdef", true},
		{"0123456789abcde", false},
		{"abc-def_ghi@jkl.mn:opqr", true},
		{"0123456789abcdef-", false},
		{"0123456789abcdef/x", false},
		{"0123456789ABCDEF", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
	} {
		if got := ValidGUID(c.in); got != c.want {
			t.Errorf("ValidGUID(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if err := CheckGUID("bad"); !errors.Is(err, ErrInvalidGUID) {
		t.Errorf("CheckGUID: %v", err)
	}
}

// FuzzNormalize: never panics; an accepted ID is valid, no longer than
// MaxLen, and normalising it again changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice@pod.example", "Acct:Bob@Bücher.Example.:443", "x@[::1]:1", "a@1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		if !Valid(n) || len(n) > MaxLen {
			t.Fatalf("Normalize(%q) = %q, which is not Valid", s, n)
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize not idempotent: %q → %q → %q, %v", s, n, again, err)
		}
	})
}
