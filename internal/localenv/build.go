package localenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Components names the binaries hack/build-components.sh links into bin/k8s that the
// environment runs.
var Components = []string{"etcd", "kube-apiserver", "kubectl", "minio"}

// KubeVersionEnv names the environment variable that picks the Kubernetes release the
// environment runs (`make test-kube KUBE_VERSION=v1.30.14`). hack/build-components.sh
// reads the same variable; unset, both use the script's default release.
const KubeVersionEnv = "KUBE_VERSION"

// KubeBinDir is the folder under root that hack/build-components.sh links the components
// into for the Kubernetes release kubeVersion: bin/k8s for "" (the script's default) and
// bin/k8s-<kubeVersion> for any other, so releases sit side by side without relinking.
func KubeBinDir(root, kubeVersion string) string {
	if kubeVersion == "" {
		return filepath.Join(root, "bin", "k8s")
	}
	return filepath.Join(root, "bin", "k8s-"+kubeVersion)
}

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or any parent directory", dir)
		}
	}
}

// BuildComponents runs hack/build-components.sh in root (it skips what is already built)
// for the Kubernetes release KUBE_VERSION names (the script's default when unset) and
// checks that every binary in Components is then in KubeBinDir, and that kube-apiserver
// and kubectl report that release. It returns that directory. The script's output goes
// to out.
//
// A lock file keeps two callers (`make run` beside `make test`) from building the same
// binary at once.
func BuildComponents(ctx context.Context, root string, out io.Writer) (string, error) {
	return buildComponents(ctx, root, out, []string{"etcd", "kube-apiserver", "kubectl", "minio"}, Components)
}

// BuildSeaweedFS is BuildComponents for SeaweedFS's weed binary (bin/k8s/weed), which
// only the suites that run SeaweedFS need: it takes long to build cold.
func BuildSeaweedFS(ctx context.Context, root string, out io.Writer) (string, error) {
	binDir, err := buildComponents(ctx, root, out, []string{"seaweedfs"}, []string{"weed"})
	if err != nil {
		return "", err
	}
	return filepath.Join(binDir, "weed"), nil
}

// buildComponents runs the build script for targets and checks that each of binaries
// is then in KubeBinDir.
func buildComponents(ctx context.Context, root string, out io.Writer, targets, binaries []string) (string, error) {
	kubeVersion := os.Getenv(KubeVersionEnv)
	binDir := KubeBinDir(root, kubeVersion)
	script := filepath.Join(root, "hack", "build-components.sh")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(root, "bin", ".localenv.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	var captured LogBuffer
	w := io.Writer(&captured)
	if out != nil {
		w = io.MultiWriter(&captured, bestEffortWriter{out})
	}
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, targets...)...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s failed (%v); its output:\n%s", script, err, captured.excerpt(2000))
	}
	for _, name := range binaries {
		path := filepath.Join(binDir, name)
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("%s succeeded but %w", script, err)
		}
	}
	if kubeVersion != "" {
		for _, name := range []string{"kube-apiserver", "kubectl"} {
			reported, err := BinaryVersion(ctx, filepath.Join(binDir, name), versionArgs[name]...)
			if err != nil {
				return "", err
			}
			if err := checkReportedVersion(name, reported, kubeVersion); err != nil {
				return "", err
			}
		}
	}
	return binDir, nil
}

// checkReportedVersion fails unless a binary's version line ("Kubernetes v1.30.14",
// "Client Version: v1.30.14") names exactly the release want, so a suite never runs
// another release than the one it was asked for.
func checkReportedVersion(name, reported, want string) error {
	fields := strings.Fields(reported)
	if len(fields) == 0 || fields[len(fields)-1] != want {
		return fmt.Errorf("%s reports %q, but %s=%s asked for %s", name, reported, KubeVersionEnv, want, want)
	}
	return nil
}

// BuildWebhook builds ./cmd/webhook of the module at root into dir/webhook, so the
// environment always runs the current source, and returns the binary's path.
func BuildWebhook(ctx context.Context, root, dir string) (string, error) {
	return BuildCommand(ctx, root, dir, "webhook")
}

// BuildCommand builds ./cmd/<name> of the module at root into dir/<name> and returns the
// binary's path. It builds it the way the Dockerfile and `make build` do: static,
// trimmed, stamped with the version git describes.
func BuildCommand(ctx context.Context, root, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	version := "dev"
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s in %s failed (%v):\n%s", name, root, err, out)
	}
	return bin, nil
}

// BinaryVersion runs a binary with the arguments that print its version and returns the
// first line of output, so a log shows which real binary ran.
func BinaryVersion(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first, nil
}

// versionArgs are the arguments that make each component print its version.
var versionArgs = map[string][]string{
	"etcd":           {"--version"},
	"kube-apiserver": {"--version"},
	"kubectl":        {"version", "--client"},
	"minio":          {"--version"},
	"weed":           {"version"},
	"webhook":        {"--version"},
}

// componentVersions asks each component in binDir for its version, keyed by name.
func componentVersions(ctx context.Context, binDir string) (map[string]string, error) {
	versions := map[string]string{}
	for _, name := range Components {
		v, err := BinaryVersion(ctx, filepath.Join(binDir, name), versionArgs[name]...)
		if err != nil {
			return nil, err
		}
		versions[name] = v
	}
	return versions, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s is missing: %w", path, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting for it, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
