package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// chromium finds the browser (Debian's chromium, or Google Chrome as on CI runners); without it the test skips, or fails when
// REACHGATE_REQUIRE_ROOT_TESTS=1 (CI installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); REACHGATE_REQUIRE_ROOT_TESTS=1 requires this test to run")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// runChromium runs headless Chromium with a profile of its own and returns stdout and stderr.
func runChromium(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// consoleErrors picks the page's console errors and uncaught exceptions out of Chromium's log.
var consoleLine = regexp.MustCompile(`(?m)^.*(CONSOLE|Uncaught|console-error).*$`)

func TestReportHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	data, _ := json.Marshal([]types.Report{tlsSuiteReport()})
	if err := os.WriteFile(filepath.Join(dir, GinkgoJSON), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(dir); err != nil {
		t.Fatal(err)
	}
	page := "file://" + filepath.Join(dir, ReportHTML)

	dom, logs := runChromium(t, bin, "--dump-dom", page)
	if errs := consoleLine.FindAllString(logs, -1); len(errs) > 0 {
		t.Errorf("console errors while rendering:\n%s", strings.Join(errs, "\n"))
	}
	// The inline script ran (no error stopped it) and counted the matrix rows in the DOM.
	if !strings.Contains(dom, `data-rendered="3"`) {
		t.Errorf("rendered DOM lacks data-rendered=\"3\" on <body> (script failed or the matrix has another row count):\n%.2000s", dom)
	}
	for _, want := range []string{`<table id="matrix">`, "ilb-proxy / hardened / nginx", "ilb-proxy / seed / nginx", "negative / expired / -", `id="findings"`, "RG-TLS-001", "<rect"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars", page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1600 {
		t.Errorf("screenshot is %v; want 1280x1600", b)
	}
	if colors, dark := paletteStats(img); colors < 8 || dark < 500 {
		t.Errorf("screenshot looks blank: %d distinct colors, %d dark pixels; want >= 8 and >= 500", colors, dark)
	}
	if os.Getenv("REACHGATE_KEEP_SCREENSHOT") != "" {
		_ = os.WriteFile(os.Getenv("REACHGATE_KEEP_SCREENSHOT"), mustRead(t, shot), 0o644)
	}
}

// paletteStats counts distinct colors (coarsely) and dark (text) pixels.
func paletteStats(img image.Image) (colors, dark int) {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>12)<<8|(g>>12)<<4|bl>>12] = true
			if r < 0x6000 && g < 0x6000 && bl < 0x6000 {
				dark++
			}
		}
	}
	return len(seen), dark
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
