package host

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// piece is one call of a lineWriter's fn.
type piece struct {
	Line    string
	Partial bool
}

// collect returns a lineWriter whose pieces are appended to *got.
func collect(tailMax int) (*lineWriter, *[]piece) {
	var got []piece
	w := &lineWriter{tailMax: tailMax, fn: func(line []byte, partial bool) {
		got = append(got, piece{string(line), partial}) // string copies: fn must not keep line
	}}
	return w, &got
}

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		flush  bool
		want   []piece
	}{
		{"one line", []string{"hello\n"}, false, []piece{{"hello", false}}},
		{"two lines in one write", []string{"a\nb\n"}, false, []piece{{"a", false}, {"b", false}}},
		{"split across writes", []string{"he", "llo\nwor", "ld\n"}, false, []piece{{"hello", false}, {"world", false}}},
		{"byte at a time", []string{"o", "k", "\n"}, false, []piece{{"ok", false}}},
		{"CRLF", []string{"a\r\nb\r\n"}, false, []piece{{"a", false}, {"b", false}}},
		{"CRLF split between writes", []string{"a\r", "\nb\r\n"}, false, []piece{{"a", false}, {"b", false}}},
		{"lone CR kept", []string{"a\rb\n"}, false, []piece{{"a\rb", false}}},
		{"empty lines", []string{"\n\n"}, false, []piece{{"", false}, {"", false}}},
		{"unfinished line waits", []string{"done\nhalf"}, false, []piece{{"done", false}}},
		{"flush passes on an unfinished line", []string{"done\nhalf"}, true, []piece{{"done", false}, {"half", false}}},
		{"flush with nothing pending", []string{"done\n"}, true, []piece{{"done", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, got := collect(0)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v, want %d, nil", s, n, err, len(s))
				}
			}
			if tt.flush {
				w.flush()
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("lines of %q (-want +got):\n%s", tt.writes, diff)
			}
		})
	}
}

// The writer must not keep the caller's buffer: callers (os/exec's copy
// loop) reuse it.
func TestLineWriterDoesNotKeepInput(t *testing.T) {
	w, got := collect(0)
	buf := []byte("first half")
	w.Write(buf)
	copy(buf, "XXXXXXXXXX")
	w.Write([]byte(" and the rest\n"))
	if diff := cmp.Diff([]piece{{"first half and the rest", false}}, *got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// checkLongLine checks that pieces are 1 MiB partial pieces and a final
// non-partial one, and that together they are want.
func checkLongLine(t *testing.T, got []piece, want string, wantFull int, wantRest int) {
	t.Helper()
	if len(got) != wantFull+1 {
		t.Fatalf("got %d pieces, want %d partial ones and the rest", len(got), wantFull)
	}
	var all strings.Builder
	for i, p := range got[:wantFull] {
		if len(p.Line) != maxLineChunk || !p.Partial {
			t.Errorf("piece %d: %d bytes, partial=%v; want %d bytes, partial=true", i, len(p.Line), p.Partial, maxLineChunk)
		}
		all.WriteString(p.Line)
	}
	last := got[wantFull]
	if len(last.Line) != wantRest || last.Partial {
		t.Errorf("last piece: %d bytes, partial=%v; want %d bytes, partial=false", len(last.Line), last.Partial, wantRest)
	}
	all.WriteString(last.Line)
	if all.String() != want {
		t.Errorf("pieces joined differ from the line written (%d bytes, want %d)", all.Len(), len(want))
	}
}

// longLine returns n bytes of varied printable text without a newline.
func longLine(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func TestLineWriterLongLineInPipeSizedWrites(t *testing.T) {
	const rest = 100
	line := longLine(3*maxLineChunk + rest)
	w, got := collect(DefaultStderrTail)
	data := line + "\nnext\n"
	for len(data) > 0 { // as os/exec's copy loop delivers a pipe: 32 KiB at a time
		n := min(32<<10, len(data))
		w.Write([]byte(data[:n]))
		data = data[n:]
	}
	if len(*got) < 2 {
		t.Fatalf("got %d pieces, want more", len(*got))
	}
	checkLongLine(t, (*got)[:len(*got)-1], line, 3, rest)
	if diff := cmp.Diff(piece{"next", false}, (*got)[len(*got)-1]); diff != "" {
		t.Errorf("line after the long one (-want +got):\n%s", diff)
	}
}

func TestLineWriterLongLineInMiBWrites(t *testing.T) {
	line := longLine(3 * maxLineChunk)
	w, got := collect(0)
	for i := 0; i < len(line); i += maxLineChunk {
		w.Write([]byte(line[i : i+maxLineChunk]))
	}
	w.Write([]byte("\n"))
	checkLongLine(t, *got, line, 3, 0)
}

func TestLineWriterLongLineOneWrite(t *testing.T) {
	const rest = 7
	line := longLine(3*maxLineChunk + rest)
	w, got := collect(0)
	w.Write([]byte(line))
	w.flush()
	checkLongLine(t, *got, line, 3, rest)
}

// maxLineChunk is documented as the longest piece passed on at once; that
// must hold also when a long line and its newline arrive in one Write.
func TestLineWriterLongLineWithNewlineOneWrite(t *testing.T) {
	const rest = 7
	line := longLine(3*maxLineChunk + rest)
	w, got := collect(0)
	w.Write([]byte(line + "\n"))
	checkLongLine(t, *got, line, 3, rest)
}

func TestLineWriterTail(t *testing.T) {
	tests := []struct {
		name    string
		tailMax int
		writes  []string
		want    string
	}{
		{"shorter than the tail", 10, []string{"abc\n"}, "abc\n"},
		{"one long write", 10, []string{"0123456789abcdef"}, "6789abcdef"},
		{"many small writes", 5, []string{"ab", "cd", "ef", "g\n"}, "defg\n"},
		{"exactly the tail", 4, []string{"wxyz"}, "wxyz"},
		{"no tail kept", 0, []string{"anything\n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := collect(tt.tailMax)
			for _, s := range tt.writes {
				w.Write([]byte(s))
			}
			if got := w.Tail(); got != tt.want {
				t.Errorf("Tail() after %q (max %d) = %q, want %q", tt.writes, tt.tailMax, got, tt.want)
			}
		})
	}
}

func TestLineWriterTailOfLongOutput(t *testing.T) {
	w, _ := collect(DefaultStderrTail)
	var all bytes.Buffer
	for i := range 10000 {
		line := []byte(strings.Repeat("x", i%50) + "\n")
		all.Write(line)
		w.Write(line)
	}
	want := all.String()[all.Len()-DefaultStderrTail:]
	if got := w.Tail(); got != want {
		t.Errorf("Tail() = %d bytes ending %q, want the last %d bytes", len(got), got[max(0, len(got)-20):], DefaultStderrTail)
	}
}

func TestLineWriterConcurrent(t *testing.T) {
	var mu sync.Mutex
	count := 0
	w := &lineWriter{tailMax: 64, fn: func(line []byte, partial bool) {
		mu.Lock()
		count++
		mu.Unlock()
	}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				w.Write([]byte("line\n"))
				_ = w.Tail()
			}
		})
	}
	wg.Wait()
	if count != 800 {
		t.Errorf("lines = %d, want 800", count)
	}
}
