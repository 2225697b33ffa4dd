package pod

import (
	"strings"
	"testing"
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
