package nginxconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Directive is one directive, simple (`name args;`) or a block (`name args { … }`).
type Directive struct {
	Name  string
	Args  []Arg
	File  string
	Line  int
	Block []*Directive // the block's directives; nil for a simple directive
	// IsBlock distinguishes an empty block from a simple directive.
	IsBlock bool
	// From is the include directive this one was read through (nil in the main file).
	From *Directive
}

// Arg is one argument as nginx sees it after quotes and escapes are resolved.
type Arg struct {
	Value  string
	Quoted bool
	Line   int
}

var varRef = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))`)

// Variables returns the names of the variables the argument refers to ($name or ${name}).
func (a Arg) Variables() []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(a.Value, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// Pos is "file:line".
func (d *Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Arg returns the i-th argument's value, or "" when there is none.
func (d *Directive) Arg(i int) string {
	if i < len(d.Args) {
		return d.Args[i].Value
	}
	return ""
}

// Config is a parsed configuration with its includes spliced in where they were included.
type Config struct {
	File       string
	Files      []string // the main file, then each included file in the order read
	Directives []*Directive
}

// Options control how includes are found.
type Options struct {
	// Prefix is the directory relative include paths are resolved against, as nginx resolves
	// them against its configuration prefix; empty means the including file's directory.
	Prefix string
	// FS reads files; nil means the operating system's file system (paths as given).
	FS fs.FS
	// NoIncludes keeps include directives as they are instead of reading their files.
	NoIncludes bool
}

const maxIncludeDepth = 16

// ParseFile reads and parses the configuration at path.
func ParseFile(path string, o Options) (*Config, error) {
	src, err := o.read(path)
	if err != nil {
		return nil, fmt.Errorf("read nginx configuration: %w", err)
	}
	return Parse(path, src, o)
}

// Parse parses src, named name in positions; includes are read according to o.
func Parse(name string, src []byte, o Options) (*Config, error) {
	p := &parser{o: o, cfg: &Config{File: name}}
	ds, err := p.file(name, src, nil, 0)
	if err != nil {
		return nil, err
	}
	p.cfg.Directives = ds
	return p.cfg, nil
}

func (o Options) read(path string) ([]byte, error) {
	if o.FS != nil {
		return fs.ReadFile(o.FS, filepath.ToSlash(path))
	}
	return os.ReadFile(path)
}

func (o Options) glob(pattern string) ([]string, error) {
	if o.FS != nil {
		return fs.Glob(o.FS, filepath.ToSlash(pattern))
	}
	return filepath.Glob(pattern)
}

type parser struct {
	o     Options
	cfg   *Config
	stack []string // files being read, for cycle detection
}

func (p *parser) file(name string, src []byte, from *Directive, depth int) ([]*Directive, error) {
	p.cfg.Files = append(p.cfg.Files, name)
	p.stack = append(p.stack, name)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	lx := newLexer(name, src)
	ds, end, err := p.block(lx, from, depth)
	if err != nil {
		return nil, err
	}
	if end.kind == tokClose {
		return nil, lx.errorf(end.line, "unexpected \"}\" (no block is open here: remove it)")
	}
	return ds, nil
}

// block reads directives until '}' or the end of the file, and returns the token that ended it.
func (p *parser) block(lx *lexer, from *Directive, depth int) ([]*Directive, token, error) {
	var out []*Directive
	var cur *Directive
	for {
		t, err := lx.next()
		if err != nil {
			return nil, t, err
		}
		switch t.kind {
		case tokWord:
			if cur == nil {
				cur = &Directive{Name: t.text, File: lx.file, Line: t.line, From: from}
			} else {
				cur.Args = append(cur.Args, Arg{Value: t.text, Quoted: t.quoted, Line: t.line})
			}
		case tokSemicolon:
			if cur == nil {
				return nil, t, lx.errorf(t.line, "unexpected \";\" (a directive name must come first; remove the extra ';')")
			}
			if cur.Name == "include" && !p.o.NoIncludes {
				inc, err := p.include(cur, depth)
				if err != nil {
					return nil, t, err
				}
				out = append(out, inc...)
			} else {
				out = append(out, cur)
			}
			cur = nil
		case tokOpen:
			if cur == nil {
				return nil, t, lx.errorf(t.line, "unexpected \"{\" (a block needs a name, like `server {`)")
			}
			inner, end, err := p.block(lx, from, depth)
			if err != nil {
				return nil, t, err
			}
			if end.kind == tokEOF {
				return nil, t, lx.errorf(end.line, "unexpected end of file, expecting \"}\" (the %q block opened at line %d is not closed)", cur.Name, cur.Line)
			}
			cur.Block, cur.IsBlock = inner, true
			if cur.Block == nil {
				cur.Block = []*Directive{}
			}
			out = append(out, cur)
			cur = nil
		case tokClose, tokEOF:
			if cur != nil {
				what := "\"}\""
				if t.kind == tokEOF {
					what = "end of file"
				}
				return nil, t, lx.errorf(t.line, "unexpected %s, expecting \";\" or \"}\" (end the %q directive of line %d with ';')", what, cur.Name, cur.Line)
			}
			return out, t, nil
		}
	}
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// include reads the files an include directive names and returns their directives.
func (p *parser) include(d *Directive, depth int) ([]*Directive, error) {
	if len(d.Args) != 1 {
		return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include takes one file or glob, got %d arguments", len(d.Args))}
	}
	if depth+1 > maxIncludeDepth {
		return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("includes nest deeper than %d (is there an include cycle?)", maxIncludeDepth)}
	}
	target := d.Args[0].Value
	if !filepath.IsAbs(target) {
		base := p.o.Prefix
		if base == "" {
			base = filepath.Dir(d.File)
		}
		target = filepath.Join(base, target)
	}
	var files []string
	if hasGlob(target) {
		m, err := p.o.glob(target)
		if err != nil {
			return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %q: bad pattern: %v", d.Args[0].Value, err)}
		}
		files = m // nginx accepts a glob that matches nothing
	} else {
		files = []string{target}
	}
	var out []*Directive
	for _, f := range files {
		for _, open := range p.stack {
			if open == f {
				return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %q: %s is already being read (include cycle; remove one of the includes)", d.Args[0].Value, f)}
			}
		}
		src, err := p.o.read(f)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				msg = "no such file"
			}
			return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %q: open %s: %s (fix the path; relative paths start at %s)", d.Args[0].Value, f, msg, p.relBase(d))}
		}
		ds, err := p.file(f, src, d, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func (p *parser) relBase(d *Directive) string {
	if p.o.Prefix != "" {
		return p.o.Prefix
	}
	return filepath.Dir(d.File)
}

// Walk calls fn for every directive in file order, with the blocks that enclose it
// (outermost first). It descends into a block after visiting the block's directive.
func (c *Config) Walk(fn func(d *Directive, parents []*Directive)) {
	var walk func(ds []*Directive, parents []*Directive)
	walk = func(ds []*Directive, parents []*Directive) {
		for _, d := range ds {
			fn(d, parents)
			if d.IsBlock {
				walk(d.Block, append(parents[:len(parents):len(parents)], d))
			}
		}
	}
	walk(c.Directives, nil)
}

// Find returns the directives named name directly inside ds (not nested).
func Find(ds []*Directive, name string) []*Directive {
	var out []*Directive
	for _, d := range ds {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}
