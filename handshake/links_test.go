package handshake_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestDocLinks checks that every relative link in the module's top-level
// documents resolves: a link to a file or directory names one that exists,
// and a link to #anchor (in the same document or another Markdown file)
// names a heading there, as GitHub renders it.
func TestDocLinks(t *testing.T) {
	docs := []string{
		filepath.Join(moduleRoot, "README.md"),
		filepath.Join(moduleRoot, "CHANGELOG.md"),
		"PROTOCOL.md",
	}
	for _, doc := range docs {
		t.Run(filepath.Base(doc), func(t *testing.T) {
			text, err := os.ReadFile(doc)
			if err != nil {
				t.Fatalf("read %s: %v", doc, err)
			}
			links := markdownLinks(string(text))
			if len(links) == 0 && filepath.Base(doc) != "CHANGELOG.md" {
				t.Fatalf("found no links in %s", doc)
			}
			for _, l := range links {
				if err := checkLink(doc, l); err != nil {
					t.Errorf("%s: link %q: %v", doc, l, err)
				}
			}
		})
	}
}

var (
	fencedCode = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```")
	inlineCode = regexp.MustCompile("`[^`\n]*`")
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`(?m)^\s*\[[^\]]+\]:\s+(\S+)`)
)

// markdownLinks returns the targets of a document's inline and reference
// links, outside code.
func markdownLinks(text string) []string {
	text = fencedCode.ReplaceAllString(text, "")
	text = inlineCode.ReplaceAllString(text, "")
	var out []string
	for _, re := range []*regexp.Regexp{inlineLink, refLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// checkLink resolves one link target of doc; external links are not checked.
func checkLink(doc, target string) error {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return nil
	}
	path, anchor, _ := strings.Cut(target, "#")
	file := doc
	if path != "" {
		file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
		if _, err := os.Stat(file); err != nil {
			return err
		}
	}
	if anchor == "" || !strings.HasSuffix(file, ".md") {
		return nil
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !headingAnchors(string(text))[anchor] {
		return &anchorError{file: file, anchor: anchor}
	}
	return nil
}

type anchorError struct{ file, anchor string }

func (e *anchorError) Error() string {
	return "no heading in " + e.file + " has the anchor #" + e.anchor
}

var heading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)

// headingAnchors returns the anchors GitHub gives a document's headings:
// lower case, punctuation removed, spaces as hyphens, "-1", "-2"... for
// repeats.
func headingAnchors(text string) map[string]bool {
	text = fencedCode.ReplaceAllString(text, "")
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(text, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}
