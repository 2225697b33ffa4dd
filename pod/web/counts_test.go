package web

import (
	"net/http"
	"testing"

	"seedpod/pod"
)

func TestCountsBadges(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var c0, c1 pod.Counts
	r.json("GET", APIPrefix+"/counts", nil, http.StatusOK, &c0)
	if c0.Drafts != 0 || c0.NotificationsUnread != 0 || c0.ConversationsUnread != 0 {
		t.Fatalf("fresh counts: %+v", c0)
	}
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "later", "public": true}, http.StatusCreated, nil)
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "hello world", "public": true}, http.StatusOK, nil)
	r.json("GET", APIPrefix+"/counts", nil, http.StatusOK, &c1)
	if c1.Drafts != 1 || c1.OutboxPending != c0.OutboxPending+1 {
		t.Fatalf("counts after a draft and a post: %+v (before %+v)", c1, c0)
	}
}

func TestV1JSONSuffix(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	a := r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, nil)
	b := r.json("GET", V1Prefix+"/aspects.json", nil, http.StatusOK, nil)
	if string(a) != string(b) || len(a) < 10 {
		t.Fatalf("aspects %s vs aspects.json %s", a, b)
	}
	r.json("GET", APIPrefix+"/identity.json", nil, http.StatusNotFound, nil) // only v1 has the suffix
}
