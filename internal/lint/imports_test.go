package lint

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gtm-project/gtm/"

// layers says which of the module's packages each package's non-test code
// may import (internal/certpool is shared by all). Imports flow one way:
// the wire and the API above the decision and the state, which sit above
// the model. A package not listed may import anything but cmd/.
var layers = map[string][]string{
	"zones":     {},
	"geo":       {},
	"store":     {},
	"routing":   {"geo", "store", "zones"},
	"health":    {"store", "zones"},
	"prober":    {"health", "store", "zones"},
	"dnsserver": {"routing"},
	// node owns a running node's state; the API and the binary sit above.
	"node": {"dnsserver", "geo", "health", "prober", "routing", "store", "zones"},
}

// TestImportBoundaries keeps the layers: dnsserver knows nothing of the
// store (it is handed a snapshot and a sink), store nothing of the zone
// model, and nothing imports the binary.
func TestImportBoundaries(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		allowed, layered := layers[pkg]
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours || dep == "internal/certpool" {
				continue
			}
			switch {
			case strings.HasPrefix(dep, "cmd/"):
				t.Errorf("%s imports the binary %s", pkg, dep)
			case layered && !slices.Contains(allowed, dep):
				t.Errorf("%s imports %s; it may import only %v of this module", pkg, dep, allowed)
			}
		}
		if layered {
			checked++
		}
	}
	if checked != len(layers) {
		t.Errorf("checked %d of the %d layered packages: is go list's output what this test expects?", checked, len(layers))
	}
}
