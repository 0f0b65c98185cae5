// Package nginxconf parses nginx configuration files the way nginx reads them: a tokenizer
// (quotes, escapes, comments, variables) and a block parser that keeps the file and line of
// every directive and follows include directives (globs, relative to the including file or to
// a prefix).
package nginxconf

import (
	"fmt"
	"strings"
)

// Error is a syntax problem at a file and line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// tokKind is what the tokenizer found.
type tokKind int

const (
	tokWord tokKind = iota
	tokSemicolon
	tokOpen
	tokClose
	tokEOF
)

type token struct {
	kind   tokKind
	text   string // the word, unescaped
	quoted bool   // written in ' or "
	line   int
}

// lexer turns a file into words and punctuation, as ngx_conf_read_token does: a word ends at
// whitespace, ';', '{' or '}'; '#' starts a comment at the start of a word; quoted words may
// hold anything and their escapes (\" \' \\ \t \r \n) are resolved; "${name}" keeps its braces.
type lexer struct {
	file string
	src  string
	pos  int
	line int
}

func newLexer(file string, src []byte) *lexer { return &lexer{file: file, src: string(src), line: 1} }

func (l *lexer) errorf(line int, format string, args ...any) *Error {
	return &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (l *lexer) next() (token, error) {
	for {
		// Skip whitespace and comments.
		for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		if l.pos >= len(l.src) {
			return token{kind: tokEOF, line: l.line}, nil
		}
		if l.src[l.pos] != '#' {
			break
		}
		for l.pos < len(l.src) && l.src[l.pos] != '\n' {
			l.pos++
		}
	}
	c := l.src[l.pos]
	switch c {
	case ';':
		l.pos++
		return token{kind: tokSemicolon, text: ";", line: l.line}, nil
	case '{':
		l.pos++
		return token{kind: tokOpen, text: "{", line: l.line}, nil
	case '}':
		l.pos++
		return token{kind: tokClose, text: "}", line: l.line}, nil
	case '"', '\'':
		return l.quoted(c)
	}
	return l.word()
}

// quoted reads a word in quotes; what follows the closing quote must separate words.
func (l *lexer) quoted(q byte) (token, error) {
	start := l.line
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return token{}, l.errorf(start, "unexpected end of file: the %c opened here is never closed (close the quoted string)", q)
		}
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteString(unescape(l.src[l.pos+1]))
			if l.src[l.pos+1] == '\n' {
				l.line++
			}
			l.pos += 2
			continue
		case c == q:
			l.pos++
			if l.pos < len(l.src) {
				if n := l.src[l.pos]; !isSpace(n) && n != ';' && n != '{' && n != '}' {
					return token{}, l.errorf(l.line, "unexpected %q after the closing %c (separate words with a space)", n, q)
				}
			}
			return token{kind: tokWord, text: b.String(), quoted: true, line: start}, nil
		case c == '\n':
			l.line++
		}
		b.WriteByte(c)
		l.pos++
	}
}

// unescape resolves the escapes nginx resolves; others keep their backslash.
func unescape(c byte) string {
	switch c {
	case '"', '\'', '\\':
		return string(c)
	case 't':
		return "\t"
	case 'r':
		return "\r"
	case 'n':
		return "\n"
	}
	return "\\" + string(c)
}

// word reads an unquoted word. A backslash protects the next character; "${" opens a
// variable whose closing brace belongs to the word.
func (l *lexer) word() (token, error) {
	start := l.line
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteString(unescape(l.src[l.pos+1]))
			l.pos += 2
			continue
		case c == '$' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '{':
			end := strings.IndexByte(l.src[l.pos:], '}')
			nl := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 || (nl >= 0 && nl < end) {
				return token{}, l.errorf(l.line, "the variable \"${\" is not closed on this line (write ${name})")
			}
			b.WriteString(l.src[l.pos : l.pos+end+1])
			l.pos += end + 1
			continue
		case isSpace(c) || c == ';' || c == '{' || c == '}':
			return token{kind: tokWord, text: b.String(), line: start}, nil
		case c == '"' || c == '\'':
			if b.Len() > 0 {
				// nginx takes a quote inside a word literally.
				b.WriteByte(c)
				l.pos++
				continue
			}
		}
		b.WriteByte(c)
		l.pos++
	}
	return token{kind: tokWord, text: b.String(), line: start}, nil
}
