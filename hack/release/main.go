// Command release makes a release (make release VERSION=vX.Y.Z) or prints the manifests
// for an image just built (make deploy IMG=...). See internal/release.
//
//	go run ./hack/release build -version v1.2.3 -dist dist
//	go run ./hack/release manifests -image registry.example/webhook:dev
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("want a command: build or manifests")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	root := fs.String("root", ".", "module root")
	switch args[0] {
	case "build":
		version := fs.String("version", "", "the version to release, vX.Y.Z")
		dist := fs.String("dist", "dist", "where the rendered manifests and the packaged chart go")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		v, err := release.ParseVersion(*version)
		if err != nil {
			return err
		}
		rendered, chart, err := release.Build(*root, *dist, v)
		if err != nil {
			return err
		}
		fmt.Printf("stamped %s into %s and %s/Chart.yaml\nwrote %s\nwrote %s\n", v.Tag, release.BaseKustomization, release.ChartDir, rendered, chart)
		return nil
	case "manifests":
		image := fs.String("image", "", "the image to deploy instead of the released one")
		dir := fs.String("dir", release.DefaultManifests, "the kustomize directory to render")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		out, err := release.Render(*root, *dir, *image)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	default:
		return fmt.Errorf("unknown command %q: want build or manifests", args[0])
	}
}
