// Package lint holds checks over the whole source tree that run with the
// tests, so CI catches what a reviewer would: unformatted files.
package lint

import (
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
