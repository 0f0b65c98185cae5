package lint

import (
	"strings"
)

// Command is one simple command of a shell script: its words with quotes removed, and the
// line it starts on. Commands inside $( … ) are listed on their own, after the command
// that contains them.
type Command struct {
	Words []string
	Line  int
}

// Script is a parsed shell script.
type Script struct {
	File     string
	Lines    []string
	Commands []Command
}

// parseShell splits a POSIX shell script into simple commands. It understands what the
// checks need: quotes, backslash escapes and line continuations, comments, the control
// operators ; & && || |, redirections (kept as words ">" ">>" "<"), $( … ) command
// substitutions (their commands are listed as well) and here-documents (bodies skipped).
func parseShell(file string, src []byte) *Script {
	s := &shellScanner{src: string(src), line: 1}
	sc := &Script{File: file, Lines: strings.Split(string(src), "\n")}
	sc.Commands = s.commands(0)
	return sc
}

type shellScanner struct {
	src      string
	pos      int
	line     int
	heredocs []heredoc // pending at the next newline
}

type heredoc struct {
	delim    string
	stripTab bool
}

// commands scans until the end of input or, when depth > 0, the ')' closing a $( … ).
func (s *shellScanner) commands(depth int) []Command {
	var out, nested []Command
	var words []string
	var word strings.Builder
	inWord := false
	start := s.line
	flushWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			out = append(out, Command{Words: words, Line: start})
		}
		out = append(out, nested...)
		words, nested = nil, nil
	}
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		if len(words) == 0 && !inWord && c != ' ' && c != '\t' && c != '\n' {
			start = s.line
		}
		switch {
		case c == '\\' && s.pos+1 < len(s.src):
			if s.src[s.pos+1] == '\n' { // line continuation
				s.line++
			} else {
				word.WriteByte(s.src[s.pos+1])
				inWord = true
			}
			s.pos += 2
			continue
		case c == '\'':
			end := strings.IndexByte(s.src[s.pos+1:], '\'')
			if end < 0 {
				end = len(s.src) - s.pos - 1
			}
			body := s.src[s.pos+1 : s.pos+1+end]
			word.WriteString(body)
			s.line += strings.Count(body, "\n")
			s.pos += end + 2
			inWord = true
			continue
		case c == '"':
			s.pos++
			for s.pos < len(s.src) && s.src[s.pos] != '"' {
				switch {
				case s.src[s.pos] == '\\' && s.pos+1 < len(s.src):
					word.WriteByte(s.src[s.pos+1])
					s.pos += 2
					continue
				case strings.HasPrefix(s.src[s.pos:], "$("):
					nested = append(nested, s.substitution(&word, depth)...)
					continue
				case s.src[s.pos] == '\n':
					s.line++
				}
				word.WriteByte(s.src[s.pos])
				s.pos++
			}
			s.pos++
			inWord = true
			continue
		case strings.HasPrefix(s.src[s.pos:], "$("):
			nested = append(nested, s.substitution(&word, depth)...)
			inWord = true
			continue
		case c == ')' && depth > 0:
			s.pos++
			flushCmd()
			return out
		case c == '#' && !inWord:
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
			continue
		case c == '\n':
			flushCmd()
			s.pos++
			s.line++
			s.skipHeredocs()
			continue
		case c == ' ' || c == '\t':
			flushWord()
		case c == ';' || c == '&' || c == '|':
			flushCmd()
			if s.pos+1 < len(s.src) && (s.src[s.pos+1] == c) {
				s.pos++
			}
		case c == '>' || c == '<':
			flushWord()
			op := string(c)
			if s.pos+1 < len(s.src) && s.src[s.pos+1] == c {
				op += string(c)
				s.pos++
			}
			if op == "<<" {
				s.pos++
				s.readHeredocDelim()
				continue
			}
			words = append(words, op)
		default:
			word.WriteByte(c)
			inWord = true
		}
		s.pos++
	}
	flushCmd()
	return out
}

// substitution reads "$( … )" at s.pos, writes it to word as written and returns its commands.
func (s *shellScanner) substitution(word *strings.Builder, depth int) []Command {
	from := s.pos
	s.pos += 2
	cmds := s.commands(depth + 1)
	word.WriteString(s.src[from:min(s.pos, len(s.src))])
	return cmds
}

// readHeredocDelim reads the word after "<<" (or "<<-") and queues the here-document.
func (s *shellScanner) readHeredocDelim() {
	h := heredoc{}
	if s.pos < len(s.src) && s.src[s.pos] == '-' {
		h.stripTab = true
		s.pos++
	}
	for s.pos < len(s.src) && (s.src[s.pos] == ' ' || s.src[s.pos] == '\t') {
		s.pos++
	}
	var d strings.Builder
	for s.pos < len(s.src) && !strings.ContainsRune(" \t\n;&|<>)", rune(s.src[s.pos])) {
		if c := s.src[s.pos]; c != '\'' && c != '"' && c != '\\' {
			d.WriteByte(c)
		}
		s.pos++
	}
	h.delim = d.String()
	s.heredocs = append(s.heredocs, h)
}

// skipHeredocs skips the bodies of the here-documents queued on the line just ended.
func (s *shellScanner) skipHeredocs() {
	for _, h := range s.heredocs {
		for s.pos < len(s.src) {
			end := strings.IndexByte(s.src[s.pos:], '\n')
			var l string
			if end < 0 {
				l, s.pos = s.src[s.pos:], len(s.src)
			} else {
				l = s.src[s.pos : s.pos+end]
				s.pos += end + 1
				s.line++
			}
			if h.stripTab {
				l = strings.TrimLeft(l, "\t")
			}
			if l == h.delim {
				break
			}
		}
	}
	s.heredocs = nil
}

// flag returns the value of a --name flag (as "--name value" or "--name=value") and whether
// it is present.
func (c Command) flag(names ...string) (string, bool) {
	for i, w := range c.Words {
		for _, n := range names {
			if w == n {
				if i+1 < len(c.Words) {
					return c.Words[i+1], true
				}
				return "", true
			}
			if strings.HasPrefix(w, n+"=") {
				return strings.TrimPrefix(w, n+"="), true
			}
		}
	}
	return "", false
}

// is reports whether the command's words start with prefix (e.g. "kubectl", "create").
// kubectl's global flags before the verb (-n NS, --context X) are skipped.
func (c Command) is(prefix ...string) bool {
	words := c.Words
	if len(words) == 0 || len(prefix) == 0 || words[0] != prefix[0] {
		return false
	}
	rest := words[1:]
	j := 0
	for i := 0; i < len(rest) && j < len(prefix)-1; i++ {
		w := rest[i]
		if strings.HasPrefix(w, "-") {
			if takesValue(w) {
				i++
			}
			continue
		}
		if w != prefix[j+1] {
			return false
		}
		j++
	}
	return j == len(prefix)-1
}

// has reports whether one of the words is word.
func (c Command) has(word string) bool {
	for _, w := range c.Words {
		if w == word {
			return true
		}
	}
	return false
}

func (c Command) contains(sub string) bool {
	for _, w := range c.Words {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// takesValue reports whether a kubectl flag written without "=" takes the next word as its value.
func takesValue(flag string) bool {
	switch flag {
	case "-n", "--namespace", "--context", "--kubeconfig", "-o", "--output", "--verb", "--resource",
		"--resource-name", "--non-resource-url", "--aggregation-rule", "-l", "--selector", "-f", "--filename":
		return true
	}
	return false
}
