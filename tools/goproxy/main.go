// Command goproxy writes the Go modules under generated/go into a folder laid
// out as a Go module proxy (GOPROXY=file://...), at the version in VERSION.
//
// Until this repository is public and tagged, `go get` cannot fetch the
// modules from the Go module proxy. Served from this folder instead, they are
// fetched exactly as they will be once published: as module zips made by
// golang.org/x/mod/zip, the code the go command itself uses, so nested
// modules are left out of their parent's zip, and each module's go.mod is the
// one a consumer will read. It refuses a module that could only build inside
// this repository: a replace directive, or a sibling module required at
// another version than the one being released.
//
// The version is the one go.work gives the published modules, which
// scripts/stamp_version.py writes from the VERSION file (0.2.0 is v0.2.0).
// Go takes a version it has downloaded once to be the same forever, so this
// also removes that version of the modules from the local module cache: the
// next `go get` reads them from the folder just written, not from a copy made
// from an older checkout.
//
//	go run ./tools/goproxy [-out dist/goproxy] [-version vX.Y.Z]
//
// It prints each module with the git tag that releases it (docs/clients.md).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

// published is the folder, relative to the repository's root, whose modules are released.
const published = "generated/go"

func main() {
	root := flag.String("root", ".", "the repository's root (where go.work is)")
	out := flag.String("out", "dist/goproxy", "the proxy folder to write (relative to -root)")
	version := flag.String("version", "", "the version to write (default: the one go.work names)")
	flag.Parse()
	if err := run(*root, *out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
}

// release is one module to publish: where it is, what it is called, its go.mod.
type release struct {
	dir  string
	path string
	mod  []byte
	file *modfile.File
}

func run(root, out, version string) error {
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	releases, err := findModules(filepath.Join(root, published))
	if err != nil {
		return err
	}
	if version == "" {
		if version, err = workspaceVersion(root, releases); err != nil {
			return err
		}
	}
	if !semver.IsValid(version) || semver.Build(version) != "" {
		return fmt.Errorf("%q is not a module version (vMAJOR.MINOR.PATCH[-pre])", version)
	}
	if err := check(releases, version); err != nil {
		return err
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	for _, r := range releases {
		if err := write(out, r, version); err != nil {
			return fmt.Errorf("%s: %w", r.path, err)
		}
		if err := forget(strings.TrimSpace(string(cache)), r.path, version); err != nil {
			return fmt.Errorf("%s: %w", r.path, err)
		}
		// A module in a subfolder is released by a tag prefixed with that folder.
		folder, err := filepath.Rel(root, r.dir)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s (git tag %s/%s)\n", r.path, version, filepath.ToSlash(folder), version)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	fmt.Printf("GOPROXY=file://%s,https://proxy.golang.org\n", filepath.ToSlash(abs))
	return nil
}

// findModules returns every module whose go.mod is under dir, in path order.
func findModules(dir string) ([]release, error) {
	var releases []release
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() || entry.Name() != "go.mod" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file, err := modfile.Parse(path, data, nil)
		if err != nil {
			return err
		}
		releases = append(releases, release{filepath.Dir(path), file.Module.Mod.Path, data, file})
		return nil
	})
	if err == nil && len(releases) == 0 {
		err = fmt.Errorf("no go.mod under %s", dir)
	}
	slices.SortFunc(releases, func(a, b release) int { return strings.Compare(a.path, b.path) })
	return releases, err
}

// workspaceVersion returns the one version at which go.work points every
// published module at its folder.
func workspaceVersion(root string, releases []release) (string, error) {
	path := filepath.Join(root, "go.work")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	work, err := modfile.ParseWork(path, data, nil)
	if err != nil {
		return "", err
	}
	versions := map[string]string{}
	for _, replace := range work.Replace {
		versions[replace.Old.Path] = replace.Old.Version
	}
	version := versions[releases[0].path]
	for _, r := range releases {
		if versions[r.path] == "" || versions[r.path] != version {
			return "", fmt.Errorf("go.work must replace each of %s at one version: run scripts/stamp_version.py", published)
		}
	}
	return version, nil
}

// check refuses go.mod files that would not build outside this repository.
func check(releases []release, version string) error {
	ours := map[string]bool{}
	for _, r := range releases {
		ours[r.path] = true
	}
	var problems []error
	for _, r := range releases {
		for _, replace := range r.file.Replace {
			problems = append(problems, fmt.Errorf("%s: replace %s: a published go.mod must have no replace directive (go.work serves in-repository builds)", r.path, replace.Old.Path))
		}
		for _, require := range r.file.Require {
			if ours[require.Mod.Path] && require.Mod.Version != version {
				problems = append(problems, fmt.Errorf("%s requires %s %s, not %s: run scripts/stamp_version.py", r.path, require.Mod.Path, require.Mod.Version, version))
			}
		}
	}
	return errors.Join(problems...)
}

// write adds one module version to the proxy folder: list, info, mod and zip
// (the GOPROXY protocol, https://go.dev/ref/mod#goproxy-protocol).
func write(out string, r release, version string) error {
	escaped, err := module.EscapePath(r.path)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	zipFile, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		return err
	}
	err = zip.CreateFromDir(zipFile, module.Version{Path: r.path, Version: version}, r.dir)
	if closeErr := zipFile.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, version+".mod"), r.mod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, version+".info"), info, 0o644); err != nil {
		return err
	}
	return addToList(filepath.Join(dir, "list"), version)
}

// addToList records version in the proxy's list of versions, once.
func addToList(path, version string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	versions := strings.Fields(string(data))
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	semver.Sort(versions)
	return os.WriteFile(path, []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

// forget removes one module version from the module cache: the extracted
// folder (read-only, as Go leaves it) and the downloaded files.
func forget(cache, path, version string) error {
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	extracted := filepath.Join(cache, filepath.FromSlash(escaped)+"@"+version)
	if err := filepath.WalkDir(extracted, func(name string, entry fs.DirEntry, err error) error {
		if err == nil && entry.IsDir() {
			err = os.Chmod(name, 0o755)
		}
		return err
	}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(extracted); err != nil {
		return err
	}
	downloaded, err := filepath.Glob(filepath.Join(cache, "cache", "download", filepath.FromSlash(escaped), "@v", version+".*"))
	if err != nil {
		return err
	}
	for _, name := range downloaded {
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	return nil
}
