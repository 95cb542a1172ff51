// Package readme keeps README.md and docs/OPERATIONS.md honest: every
// `make <target>` they mention is a Makefile target, every repository path
// they name in backticks exists, every docs/*.md is linked from the README,
// and every mattersync, mattersync-admin and mattersync-gateway command they
// show is one the real binaries accept (checked with --help, flags
// included).
package readme

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// checked are the documents under test, relative to the repository root.
var checked = []string{"README.md", "docs/OPERATIONS.md", "docs/SSO.md"}

// binaries are the commands whose invocations are checked.
var binaries = []string{"mattersync", "mattersync-admin", "mattersync-gateway"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

func loadDocs(t *testing.T, root string) []*doc {
	t.Helper()
	var ds []*doc
	for _, name := range checked {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, parseDoc(name, string(b)))
	}
	return ds
}

// ---- Markdown -------------------------------------------------------------

// doc is a Markdown file reduced to what the checks read: fenced code
// blocks and inline code spans, each with the line it starts on.
type doc struct {
	name   string
	text   string
	blocks []block
	spans  []snippet
}

type block struct {
	lang  string
	line  int
	lines []string
}

type snippet struct {
	line int
	text string
}

var fenceRE = regexp.MustCompile("^\\s*(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")

func parseDoc(name, text string) *doc {
	d := &doc{name: name, text: text}
	var prose []string // text outside fences, one entry per line ("" for fenced lines)
	var cur *block
	var fence string
	for i, line := range strings.Split(text, "\n") {
		if cur != nil {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				d.blocks = append(d.blocks, *cur)
				cur = nil
			} else {
				cur.lines = append(cur.lines, line)
			}
			prose = append(prose, "")
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			fence = m[1]
			cur = &block{lang: strings.ToLower(m[2]), line: i + 1}
			prose = append(prose, "")
			continue
		}
		prose = append(prose, line)
	}
	// Inline code spans: single backticks, may wrap lines, never cross a
	// blank line.
	joined := strings.Join(prose, "\n")
	line := 1
	for i := 0; i < len(joined); i++ {
		switch joined[i] {
		case '\n':
			line++
		case '`':
			j := strings.IndexByte(joined[i+1:], '`')
			if j < 0 {
				continue
			}
			body := joined[i+1 : i+1+j]
			if strings.Contains(body, "\n\n") {
				continue
			}
			d.spans = append(d.spans, snippet{line: line, text: strings.Join(strings.Fields(body), " ")})
			line += strings.Count(body, "\n")
			i += j + 1
		}
	}
	return d
}

// shellBlock reports whether a fenced block holds shell commands.
func shellBlock(lang string) bool {
	switch lang {
	case "", "sh", "bash", "shell", "console", "zsh":
		return true
	}
	return false
}

// commandLines returns the shell lines of a document's shell blocks and
// its inline code spans.
func (d *doc) commandLines() []snippet { return append(d.shellLines(), d.spans...) }

// shellLines returns the lines of a document's shell blocks, backslash
// continuations joined.
func (d *doc) shellLines() []snippet {
	var out []snippet
	for _, b := range d.blocks {
		if !shellBlock(b.lang) {
			continue
		}
		var acc strings.Builder
		start := 0
		for i, l := range b.lines {
			if acc.Len() == 0 {
				start = b.line + 1 + i
			}
			l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
			if strings.HasSuffix(l, "\\") {
				acc.WriteString(strings.TrimSuffix(l, "\\") + " ")
				continue
			}
			acc.WriteString(l)
			out = append(out, snippet{line: start, text: acc.String()})
			acc.Reset()
		}
		if acc.Len() > 0 {
			out = append(out, snippet{line: start, text: acc.String()})
		}
	}
	return out
}

// ---- Shell-ish tokens ---------------------------------------------------------

type token struct {
	text string
	op   bool // an operator: | || && ; & $( ( ) < > >>
}

// tokenize splits a shell line into words and operators. Quotes group
// words (their content is not parsed), # at the start of a word ends the
// line, and <placeholder> is a word, not a redirection.
func tokenize(s string) []token {
	var toks []token
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, token{text: w.String()})
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			return toks
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			flush()
			toks = append(toks, token{text: "$(", op: true})
			i++
		case c == '<' && i+1 < len(s) && isAlpha(s[i+1]) && strings.IndexByte(s[i:], '>') > 0:
			j := strings.IndexByte(s[i:], '>')
			w.WriteString(s[i : i+j+1])
			inWord = true
			i += j
		case strings.IndexByte("|&;()<>", c) >= 0:
			flush()
			op := string(c)
			if i+1 < len(s) && (s[i+1] == c && c != '(' && c != ')') {
				op += string(c)
				i++
			}
			toks = append(toks, token{text: op, op: true})
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

var assignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// invocation is one call of a mattersync binary found in a document.
type invocation struct {
	bin  string
	args []string
	line int
	src  string
}

// command is a word in command position with the words after it.
type command struct {
	name string // as written, e.g. bin/mattersync-admin
	args []string
}

// commands splits a shell line into its commands: a word in command
// position (line start, after | && || ; & $( ( or do then else sudo time
// exec export, or after VAR=value) and the words that follow it up to the
// next operator.
func commands(s string) []command {
	toks := tokenize(s)
	var out []command
	cmdPos := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.op {
			cmdPos = t.text != ")" && t.text != "<" && t.text != ">" && t.text != ">>"
			continue
		}
		if !cmdPos {
			continue
		}
		if assignRE.MatchString(t.text) || slices.Contains([]string{"do", "then", "else", "sudo", "time", "exec", "export"}, t.text) {
			continue
		}
		cmdPos = false
		c := command{name: t.text}
		for i+1 < len(toks) && !toks[i+1].op {
			i++
			c.args = append(c.args, toks[i].text)
		}
		out = append(out, c)
	}
	return out
}

// invocations finds the calls of the three binaries in a shell line.
func invocations(s snippet) []invocation {
	var out []invocation
	for _, c := range commands(s.text) {
		base := c.name[strings.LastIndexByte(c.name, '/')+1:]
		if slices.Contains(binaries, base) {
			out = append(out, invocation{bin: base, args: c.args, line: s.line, src: s.text})
		}
	}
	return out
}

// ---- Binaries and their help ----------------------------------------------------

// cli runs the binaries built for this test and caches their --help.
type cli struct {
	dir  string
	help map[string]*help
}

// help is what `<bin> <path> --help` says.
type help struct {
	err      error
	usage    []string
	runnable bool
	subs     map[string]bool
	flags    map[string]bool // name (long or short) -> takes a value
}

func buildCLI(t *testing.T, root string) *cli {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binaries: skipped under -short")
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, b := range binaries {
		args = append(args, "./cmd/"+b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return &cli{dir: dir, help: map[string]*help{}}
}

var flagRE = regexp.MustCompile(`^\s+(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9-]*)(?: ([a-zA-Z0-9]+))?(?:\s|$)`)

func (c *cli) helpFor(bin string, path []string) *help {
	key := strings.Join(append([]string{bin}, path...), " ")
	if h, ok := c.help[key]; ok {
		return h
	}
	h := &help{subs: map[string]bool{}, flags: map[string]bool{}}
	c.help[key] = h
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.dir, bin), append(slices.Clone(path), "--help")...)
	cmd.Env = append(os.Environ(), "HOME="+c.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.err = fmt.Errorf("`%s --help` failed: %v: %s", key, err, firstLine(string(out)))
		return h
	}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		l := sc.Text()
		if l != "" && !strings.HasPrefix(l, " ") {
			section = strings.TrimSuffix(l, ":")
			continue
		}
		switch section {
		case "Usage":
			if u := strings.TrimSpace(l); u != "" {
				h.usage = append(h.usage, u)
				if !strings.HasSuffix(u, "[command]") {
					h.runnable = true
				}
			}
		case "Available Commands":
			if f := strings.Fields(l); len(f) > 0 {
				h.subs[f[0]] = true
			}
		case "Flags", "Global Flags":
			if m := flagRE.FindStringSubmatch(l); m != nil {
				takes := m[3] != ""
				h.flags[m[2]] = takes
				if m[1] != "" {
					h.flags[m[1]] = takes
				}
			}
		}
	}
	if !slices.ContainsFunc(h.usage, func(u string) bool { return u == key || strings.HasPrefix(u, key+" ") }) {
		h.err = fmt.Errorf("`%s --help` shows the usage of another command: %q", key, h.usage)
	}
	return h
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// placeholder reports whether a word stands for something (<id>, $m, …).
func placeholder(w string) bool { return strings.ContainsAny(w, "<>$|…*{}") }

// check resolves an invocation's command path through the binaries' own
// help and checks every flag it uses.
func (c *cli) check(inv invocation) error {
	var path []string
	h := c.helpFor(inv.bin, nil)
	if h.err != nil {
		return h.err
	}
	positional := false
	for i := 0; i < len(inv.args); i++ {
		a := inv.args[i]
		if a == "--" {
			return nil
		}
		if strings.HasPrefix(a, "[") { // an optional part in a usage line: [--off]
			inner := strings.Trim(a, "[]")
			if !strings.HasPrefix(inner, "-") {
				continue
			}
			a = inner
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			takes, ok := h.flags[name]
			if !ok {
				return fmt.Errorf("`%s`: unknown flag %s", strings.Join(append([]string{inv.bin}, path...), " "), a)
			}
			if takes && !hasValue {
				i++
			}
			continue
		}
		if !positional && h.subs[a] {
			path = append(path, a)
			if h = c.helpFor(inv.bin, path); h.err != nil {
				return h.err
			}
			continue
		}
		if !positional && len(h.subs) > 0 && (!h.runnable || len(path) == 0) {
			if placeholder(a) {
				return nil // "<command>": nothing more to check
			}
			return fmt.Errorf("`%s`: unknown command %q", strings.Join(append([]string{inv.bin}, path...), " "), a)
		}
		positional = true
	}
	return nil
}

// ---- Checks -------------------------------------------------------------------------

// makeTargets parses the Makefile's rule names.
func makeTargets(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	re := regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*(?:[ \t]+[A-Za-z0-9][A-Za-z0-9_.-]*)*)[ \t]*:(?:[^=]|$)`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			for _, name := range strings.Fields(m[1]) {
				targets[name] = true
			}
		}
	}
	if len(targets) == 0 {
		t.Fatal("no targets found in the Makefile")
	}
	return targets
}

// makeErrors lists the `make <target>` commands naming no target; n counts
// them.
func makeErrors(d *doc, targets map[string]bool) (errs []string, n int) {
	for _, s := range d.commandLines() {
		for _, c := range commands(s.text) {
			if c.name != "make" {
				continue
			}
			for _, a := range c.args {
				if strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
					continue // flags and variables
				}
				n++
				if !targets[a] {
					errs = append(errs, fmt.Sprintf("%s:%d: `make %s`: no such Makefile target", d.name, s.line, a))
				}
			}
		}
	}
	return errs, n
}

var pathCharsRE = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._/*-]*$`)

// repoPaths returns the words of a span or shell line that name repository
// paths: containing '/' or ending in .md, .yaml, .go or .sh, relative, in
// the repository, and not under a generated (git-ignored) top-level folder.
func repoPath(w string, generated map[string]bool) (string, bool) {
	if !pathCharsRE.MatchString(w) || strings.HasPrefix(w, "../") || strings.Contains(w, "/../") {
		return "", false
	}
	if _, err := netip.ParsePrefix(w); err == nil {
		return "", false // an address range (10.0.0.10/32), not a path
	}
	if !strings.Contains(w, "/") && !slices.ContainsFunc([]string{".md", ".yaml", ".go", ".sh"}, func(ext string) bool { return strings.HasSuffix(w, ext) }) {
		return "", false
	}
	top, _, _ := strings.Cut(w, "/")
	if generated[top] {
		return "", false
	}
	return w, true
}

// generatedRoots are the top-level folders .gitignore anchors (/bin/ …):
// build output and local state, absent from a fresh clone.
func generatedRoots(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	g := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") {
			g[strings.Trim(l, "/")] = true
		}
	}
	return g
}

// repoTopDirs are the repository's top-level folders: in shell lines,
// words starting with one of them are paths too.
func repoTopDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, e.Name()+"/")
		}
	}
	return dirs
}

func pathErrors(d *doc, root string, generated map[string]bool, topDirs []string) (errs []string, n int) {
	check := func(line int, w string) {
		p, ok := repoPath(w, generated)
		if !ok {
			return
		}
		n++
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil || len(matches) == 0 {
			errs = append(errs, fmt.Sprintf("%s:%d: `%s`: no such file or folder in the repository", d.name, line, p))
		}
	}
	for _, s := range d.spans {
		check(s.line, s.text)
	}
	for _, s := range d.shellLines() {
		for _, t := range tokenize(s.text) {
			if !t.op && slices.ContainsFunc(topDirs, func(dir string) bool { return strings.HasPrefix(t.text, dir) }) {
				check(s.line, t.text)
			}
		}
	}
	return errs, n
}

func commandErrors(d *doc, c *cli) (errs []string, n int) {
	for _, s := range d.commandLines() {
		for _, inv := range invocations(s) {
			n++
			if err := c.check(inv); err != nil {
				errs = append(errs, fmt.Sprintf("%s:%d: %v\n\tin: %s", d.name, inv.line, err, inv.src))
			}
		}
	}
	return errs, n
}

func report(t *testing.T, errs []string) {
	t.Helper()
	for _, e := range errs {
		t.Error(e)
	}
}

// ---- Tests --------------------------------------------------------------------------

func TestMakeTargets(t *testing.T) {
	root := repoRoot(t)
	targets := makeTargets(t, root)
	for _, d := range loadDocs(t, root) {
		errs, n := makeErrors(d, targets)
		report(t, errs)
		if n == 0 {
			t.Errorf("%s: no `make <target>` found: is the parser broken?", d.name)
		}
	}
}

func TestPaths(t *testing.T) {
	root := repoRoot(t)
	generated, topDirs := generatedRoots(t, root), repoTopDirs(t, root)
	for _, d := range loadDocs(t, root) {
		errs, n := pathErrors(d, root, generated, topDirs)
		report(t, errs)
		if n == 0 {
			t.Errorf("%s: no repository paths found: is the parser broken?", d.name)
		}
	}
}

// TestDocsLinked: the README's documentation list links every docs/*.md.
func TestDocsLinked(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if len(mds) == 0 {
		t.Fatal("no docs/*.md")
	}
	for _, p := range mds {
		link := "(docs/" + filepath.Base(p) + ")"
		if !strings.Contains(string(readme), link) {
			t.Errorf("README.md does not link docs/%s", filepath.Base(p))
		}
	}
}

// TestCommands builds the three binaries once and checks every command the
// documents show, then checks that the checks catch invented commands.
func TestCommands(t *testing.T) {
	root := repoRoot(t)
	c := buildCLI(t, root)
	for _, d := range loadDocs(t, root) {
		t.Run(filepath.Base(d.name), func(t *testing.T) {
			errs, n := commandErrors(d, c)
			report(t, errs)
			t.Logf("%s: %d commands checked", d.name, n)
			if n == 0 {
				t.Errorf("%s: no mattersync commands found: is the parser broken?", d.name)
			}
		})
	}

	t.Run("catches mistakes", func(t *testing.T) {
		bogus := parseDoc("bogus.md", strings.Join([]string{
			"Run `mattersync-admin user revoke --no-such-flag asmith` and `make no-such-target`,",
			"then read `docs/NO-SUCH-FILE.md` and `configs/none/*.yaml`.",
			"",
			"```sh",
			"mattersync-admin matter frobnicate 2026-0001      # unknown subcommand",
			"mattersync-admin frobnicate                        # unknown command",
			"echo pw | bin/mattersync-admin --login itadmin audit export --format csv --no-such-flag",
			"mattersync frobnicate",
			"mattersync-gateway --no-such-flag",
			"x=$(mattersync-admin vault no-such-sub)",
			"mattersync-admin matter create 2026-0001 --name \"A v. B\"   # fine",
			"mattersync-admin user admin <name> [--off]                   # fine",
			"make run   # fine",
			"```",
		}, "\n"))
		cmdErrs, n := commandErrors(bogus, c)
		if n != 9 || len(cmdErrs) != 7 {
			t.Errorf("commands: found %d, %d errors; want 9 and 7:\n%s", n, len(cmdErrs), strings.Join(cmdErrs, "\n"))
		}
		mkErrs, n := makeErrors(bogus, makeTargets(t, root))
		if n != 2 || len(mkErrs) != 1 {
			t.Errorf("make: found %d, %d errors; want 2 and 1: %q", n, len(mkErrs), mkErrs)
		}
		pErrs, _ := pathErrors(bogus, root, generatedRoots(t, root), repoTopDirs(t, root))
		if len(pErrs) != 2 {
			t.Errorf("paths: %d errors, want 2: %q", len(pErrs), pErrs)
		}
	})
}
