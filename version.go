package main

import "runtime/debug"

// version is set at build time (-ldflags "-X main.version=…"); without it
// the version comes from the module and VCS stamps Go embeds.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	v := "0.1.0-dev"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ".dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += "+" + rev + dirty
	}
	return v
}
