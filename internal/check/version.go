package check

import "runtime/debug"

// Version is the command's version: stamped, when the build stamped one (make build, the
// image, the release), else the module's version from the build information, which
// `go install .../cmd/statestore-check@v1.2.3` records, else the commit the build
// information records, else "dev".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "dev"
	}
	if modified == "true" {
		return revision + "-dirty"
	}
	return revision
}
