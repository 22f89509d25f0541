package routing

import "github.com/gtm-project/gtm/internal/testfixture"

// The fixture Lookup is tested on: internal/testfixture's three zones and
// six services, parsed from text (no files: routing does no I/O, and
// neither do its tests). dnsserver's tests serve the same data over
// sockets.
const (
	configYAML = testfixture.ConfigYAML
	exampleCom = testfixture.ExampleCom
	exampleNet = testfixture.ExampleNet
	exampleTLD = testfixture.ExampleTLD
)
