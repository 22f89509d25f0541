package zones

import (
	"bytes"
	"os"
	"reflect"

	"github.com/miekg/dns"
)

// posTracker finds the file and first line of each record a ZoneParser
// returns. miekg/dns does not export positions, so they are read from its
// parsers and lexers by reflection; if their shape ever changes we degrade
// to the file alone (line 0), never to a panic.
//
// The lexer's line is where a record ENDS: the closing line of a
// parenthesised SOA. An operator looks for the line a record starts on, so
// the tracker keeps a cursor in the text of every file being parsed and,
// for each record, takes the first line after the previous record of that
// file that holds a token and is neither a comment nor a $directive.
type posTracker struct {
	file string // the top-level file's name
	main []byte // the top-level file's text
	// stack holds a cursor per parser on the path from the top-level parser
	// to the one that produced the last record ($INCLUDE nests).
	stack []*lineCursor
}

// lineCursor walks one file's text a line at a time.
type lineCursor struct {
	// lexer is the reflect value of the parser's lexer pointer. Holding it
	// keeps the lexer alive, so no later lexer can reuse its address and be
	// mistaken for it.
	lexer reflect.Value
	text  []byte // nil when the text is unknown: report end lines
	off   int    // byte offset of the start of line
	line  int    // 1-based number of the line at off
}

// pos reports where the record zp has just returned was written.
func (t *posTracker) pos(zp *dns.ZoneParser) Pos {
	chain := parserChain(zp)
	deep := len(chain) - 1
	// A $GENERATE runs a sub-parser over generated text whose line numbers
	// mean nothing; its records belong to the $GENERATE line of the parent,
	// which the parent's lexer is still on.
	generated := deep > 0 && boolField(chain[deep], "generateDisallowed")
	if generated {
		deep--
	}
	file := t.file
	if deep > 0 {
		file = stringField(chain[deep], "file")
	}
	lexers := make([]reflect.Value, deep+1)
	for i := range lexers {
		c := chain[i].FieldByName("c")
		if !c.IsValid() || c.Kind() != reflect.Pointer || c.IsNil() {
			return Pos{File: file}
		}
		lexers[i] = c
	}
	end, ok := lexerLine(lexers[deep])
	if !ok {
		return Pos{File: file}
	}
	if generated {
		return Pos{File: file, Line: end}
	}
	cur := t.cursor(chain[:deep+1], lexers)
	return Pos{File: file, Line: cur.start(end)}
}

// cursor returns the cursor of the deepest lexer, keeping the cursors of its
// parents and dropping those of finished $INCLUDEs.
func (t *posTracker) cursor(chain, lexers []reflect.Value) *lineCursor {
	n := 0
	for n < len(t.stack) && n < len(lexers) && t.stack[n].lexer.Pointer() == lexers[n].Pointer() {
		n++
	}
	t.stack = t.stack[:n]
	for i := n; i < len(lexers); i++ {
		c := &lineCursor{lexer: lexers[i], line: 1}
		if i == 0 {
			c.text = t.main
		} else if name := stringField(chain[i], "file"); name != "" {
			// miekg/dns opened the $INCLUDEd file itself; read it again for
			// its text. If that fails, end lines are still right.
			c.text, _ = os.ReadFile(name)
		}
		t.stack = append(t.stack, c)
	}
	return t.stack[len(t.stack)-1]
}

// start consumes the text up to and including line end (where a record
// ended) and returns the first line in it that can begin a record.
func (c *lineCursor) start(end int) int {
	if c.text == nil || end < c.line {
		return end
	}
	first := 0
	for c.line <= end {
		rest := c.text[c.off:]
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l = rest[:i]
			c.off += i + 1
		} else {
			c.off = len(c.text)
		}
		if first == 0 && beginsRecord(l) {
			first = c.line
		}
		c.line++
	}
	if first == 0 {
		return end
	}
	return first
}

// beginsRecord reports whether a master file line holds a token that is
// not a $directive ($ORIGIN, $TTL, $INCLUDE, $GENERATE start in column 1)
// or a comment.
func beginsRecord(l []byte) bool {
	if len(l) > 0 && l[0] == '$' {
		return false
	}
	l = bytes.TrimLeft(l, " \t\r")
	return len(l) > 0 && l[0] != ';'
}

// errorLine corrects the line of a parse error raised inside a $GENERATE,
// whose lexer counts lines of generated text: it returns the $GENERATE
// line, or 0 when the error did not come from a $GENERATE.
func errorLine(zp *dns.ZoneParser) int {
	chain := parserChain(zp)
	deep := len(chain) - 1
	if deep == 0 || !boolField(chain[deep], "generateDisallowed") {
		return 0
	}
	c := chain[deep-1].FieldByName("c")
	if !c.IsValid() || c.Kind() != reflect.Pointer || c.IsNil() {
		return 0
	}
	line, _ := lexerLine(c)
	return line
}

// parserChain lists the parser and its active sub-parsers, outermost first.
func parserChain(zp *dns.ZoneParser) []reflect.Value {
	v := reflect.ValueOf(zp).Elem()
	chain := []reflect.Value{v}
	for {
		sub := v.FieldByName("sub")
		if !sub.IsValid() || sub.Kind() != reflect.Pointer || sub.IsNil() {
			return chain
		}
		v = sub.Elem()
		if v.Kind() != reflect.Struct {
			return chain
		}
		chain = append(chain, v)
	}
}

// lexerLine reads the line of the last token a lexer returned.
func lexerLine(c reflect.Value) (int, bool) {
	lx := c.Elem()
	if lx.Kind() != reflect.Struct {
		return 0, false
	}
	l := lx.FieldByName("l")
	if !l.IsValid() || l.Kind() != reflect.Struct {
		return 0, false
	}
	line := l.FieldByName("line")
	if !line.IsValid() || line.Kind() != reflect.Int {
		return 0, false
	}
	return int(line.Int()), true
}

func stringField(v reflect.Value, field string) string {
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(field)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

func boolField(v reflect.Value, field string) bool {
	if v.Kind() != reflect.Struct {
		return false
	}
	f := v.FieldByName(field)
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}
