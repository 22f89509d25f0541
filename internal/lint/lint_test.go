// Package lint holds checks over the whole source tree that run with the
// tests, so CI catches what a reviewer would: unformatted files, and
// scripts or documents that reach outside the repository.
package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGofmt fails on any Go file gofmt would change.
func TestGofmt(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	gofmt := filepath.Join(strings.TrimSpace(string(goroot)), "bin", "gofmt")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gofmt, "-l", root).CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt -l: %v\n%s", err, out)
	}
	if files := strings.TrimSpace(string(out)); files != "" {
		t.Fatalf("not gofmt'ed (run gofmt -w):\n%s", files)
	}
}

// TestSelfContained fails when a tracked script or document refers to the
// directory beside the repository (../shared): a clone must build, test,
// benchmark and read on its own, so nothing may call or link outside it.
func TestSelfContained(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		t.Skipf("not a git checkout (%v): no tracked files to check", err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--",
		"scripts", "docs", "*.md", "Makefile").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 3 {
		t.Fatalf("git ls-files found only %q: the check would be empty", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, bad := range []string{"../shared", "/work/shared"} {
				if strings.Contains(line, bad) {
					t.Errorf("%s:%d refers to %s, outside the repository: %s", f, i+1, bad, strings.TrimSpace(line))
				}
			}
		}
	}
}
