package store

// keys names every Redis key of one prefix; the schema is documented in
// doc.go. Two hash tags split the data into two Cluster slots:
//
//   - {P:results}: everything about probe results. Results() reads all of it
//     at once, and a PutResults script touches a prober hash, the prober
//     index and the version counter atomically, so they must share a slot.
//   - {P:config}: documents, their histories, drains and the version
//     counters. A document write is one Lua script over the document, its
//     history and the global ConfigVersion: all keys of one script must be
//     in one slot, and since every document write bumps the same global
//     counter, every document is in that slot.
//
// Neither set is large (hundreds of endpoints, tens of documents) nor
// written more than a few times a second, so one slot each costs nothing
// and buys atomic writes and consistent reads.
type keys struct {
	channel string

	resultsVersion string
	probers        string
	proberPrefix   string

	configVersion string
	docsPrefix    string
	docvPrefix    string
	histPrefix    string
	drains        string
	drainsVersion string
}

func newKeys(prefix string) keys {
	res := "{" + prefix + ":results}:"
	cfg := "{" + prefix + ":config}:"
	return keys{
		channel: prefix + ":changes",

		resultsVersion: res + "version",
		probers:        res + "probers",
		proberPrefix:   res + "p:",

		configVersion: cfg + "version",
		docsPrefix:    cfg + "docs:",
		docvPrefix:    cfg + "docv:",
		histPrefix:    cfg + "hist:",
		drains:        cfg + "drains",
		drainsVersion: cfg + "drains:version",
	}
}

func (k keys) prober(id string) string { return k.proberPrefix + id }
func (k keys) docs(kind string) string { return k.docsPrefix + kind }
func (k keys) docv(kind string) string { return k.docvPrefix + kind }

func (k keys) hist(kind, name string) string { return k.histPrefix + kind + ":" + name }

// versionKey is the counter behind a Change's What.
func (k keys) versionKey(what string) string {
	switch what {
	case WhatResults:
		return k.resultsVersion
	case WhatDrains:
		return k.drainsVersion
	default:
		return k.configVersion
	}
}
