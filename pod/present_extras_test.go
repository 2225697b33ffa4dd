package pod

import (
	"context"
	"strings"
	"testing"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

func TestContentWarning(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct{ text, want string }{
		{"CW: spiders\n\nThey are fine.", "spiders"},
		{"cw:   politics  \r\nmore", "politics"},
		{"\n\n  CW: leading blank lines\nx", "leading blank lines"},
		{"CW:\n\nno warning given", ""},
		{"CWspiders", ""},
		{"A post\nCW: not on the first line", ""},
		{"", ""},
		{"CW: " + long, strings.Repeat("é", maxContentWarning-1) + "…"},
	}
	for _, tt := range tests {
		if got := contentWarning(tt.text); got != tt.want {
			t.Errorf("contentWarning(%.30q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// An own post says whether a relay has it yet: queued, then handed once
// the outbox entry is handed (as the federation engine records it).
func TestOwnPostDeliveryState(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	readyIdentity(t, p, "Ana", "ana")
	post := publicPost(t, p, "going out")
	if post.Seedpod == nil || post.Seedpod.Delivery == nil || post.Seedpod.Delivery.State != "queued" {
		t.Fatalf("a new own post: %+v", post.Seedpod)
	}
	if err := p.log.Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetAdd{Set: store.HandedSet, Member: post.GUID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Post(ctx, post.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seedpod == nil || got.Seedpod.Delivery == nil || got.Seedpod.Delivery.State != "handed" {
		t.Fatalf("after it was handed: %+v", got.Seedpod)
	}
}
