package pod

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// A received AccountMigration carries what the user decided about the old
// identity over to the new one: its aspects (the old identity leaves
// them), blocks and ignores; the profile says moved_to; the outbox sends
// to the new identity, also for a limited post written before the move.
func TestFollowMove(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, Config{DataDir: filepath.Join(t.TempDir(), "pod"), KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	people := map[string]string{"bob@old.example": "b0b00000000000000000000000000001", "bob@new.example": "b0b20000000000000000000000000001",
		"carol@old.example": "ca401000000000000000000000000001", "carol@new.example": "ca402000000000000000000000000001",
		"dave@old.example": "da4e1000000000000000000000000001", "dave@new.example": "da4e2000000000000000000000000001"}
	for h, g := range people {
		if err := p.AddPerson(ctx, store.PersonRecord{GUID: g, DiasporaID: h, FirstName: h[:3]}); err != nil {
			t.Fatal(err)
		}
	}
	friends, err := p.CreateAspect(ctx, "Band")
	if err != nil {
		t.Fatal(err)
	}
	work, err := p.CreateAspect(ctx, "Club")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []int64{friends.ID, work.ID} {
		if err := p.AddToAspect(ctx, a, people["bob@old.example"]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Ignore(ctx, people["carol@old.example"]); err != nil {
		t.Fatal(err)
	}
	if err := p.Block(ctx, people["dave@old.example"]); err != nil {
		t.Fatal(err)
	}
	f := apiv1.Bool(false)
	post, err := p.CreatePost(ctx, PostInput{Body: "for friends", Public: &f, Aspects: []int64{friends.ID}})
	if err != nil {
		t.Fatal(err)
	}
	move := func(old, new string) {
		t.Helper()
		x, err := entity.Marshal(&entity.AccountMigration{AuthorID: old, OldIdentityID: old, Signature: "c2ln",
			Profile: &entity.Profile{AuthorID: new, FirstName: "Moved"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Receive(ctx, x); err != nil {
			t.Fatalf("receive the move of %s: %v", old, err)
		}
	}
	for _, who := range []string{"bob", "carol", "dave"} {
		move(who+"@old.example", who+"@new.example")
	}
	// Again (a page received twice): nothing more to carry.
	move("bob@old.example", "bob@new.example")

	r := p.db.R
	for _, c := range []struct {
		set, member string
		want        bool
	}{
		{store.AspectSetName(friends.ID), people["bob@new.example"], true},
		{store.AspectSetName(work.ID), people["bob@new.example"], true},
		{store.AspectSetName(friends.ID), people["bob@old.example"], false},
		{store.AspectSetName(work.ID), people["bob@old.example"], false},
		{store.SetIgnores, people["carol@new.example"], true},
		{store.SetIgnores, people["carol@old.example"], true},
		{store.SetBlocks, people["dave@new.example"], true},
		{store.SetBlocks, people["dave@old.example"], true},
	} {
		if in, err := store.IsMember(ctx, r, c.set, c.member); err != nil || in != c.want {
			t.Errorf("%s in %s: %v, %v; want %v", c.member, c.set, in, err, c.want)
		}
	}
	u, err := p.User(ctx, people["bob@old.example"])
	if err != nil || u.Other == nil || u.Other.MovedTo != "bob@new.example" || u.Other.Closed || len(u.Other.Aspects) != 0 {
		t.Fatalf("bob's old profile: %+v, %v", u.Other, err)
	}
	u, err = p.User(ctx, people["bob@new.example"])
	if err != nil || u.Other == nil || u.Other.MovedTo != "" || len(u.Other.Aspects) != 2 || !u.Other.Relationship.Receiving {
		t.Fatalf("bob's new profile: %+v, %v", u.Other, err)
	}
	cs, _, err := p.Contacts(ctx, "", 0, apiv1.IndexPage{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	var contacts []string
	for _, c := range cs {
		contacts = append(contacts, c.Person.DiasporaID)
	}
	if !slices.Equal(contacts, []string{"bob@new.example"}) {
		t.Errorf("contacts: %v, want only bob's new identity", contacts)
	}
	e, err := p.OutboxEntryOf(ctx, post.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Recipients) != 1 || e.Recipients[0].DiasporaID != "bob@new.example" {
		t.Errorf("the limited post from before the move goes to %+v, want bob's new identity", e.Recipients)
	}
	// The carried sets are own ops: the user can take bob out again.
	if err := p.RemoveFromAspect(ctx, work.ID, people["bob@new.example"]); err != nil {
		t.Fatal(err)
	}
}
