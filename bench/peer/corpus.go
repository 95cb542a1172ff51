package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattersync/mattersync/bench/internal/legaldocs"
)

// corpus is a generated folder tree both tools upload.
type corpus struct {
	dir   string
	files int
	bytes int64
}

// mixedTree writes a law firm's matter folder of about total bytes, the
// same for a seed on every machine: mostly e-mails and letters (text, a
// few KiB to 64 KiB), Word documents (zip of XML), PDFs (compressed
// streams), and some scans and media (incompressible). With 512 MiB it
// holds about 640 files.
func mixedTree(dir string, total int64, seed uint64) (corpus, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := corpus{dir: dir}
	folders := []string{"Correspondence", "Pleadings", "Discovery/Production", "Discovery/Depositions", "Contracts", "Research", "Exhibits", "Billing"}
	for c.bytes < total {
		var data []byte
		var ext string
		switch r := rng.IntN(100); {
		case r < 50:
			data, ext = legaldocs.Text(rng, 4<<10+rng.Int64N(60<<10)), ".eml"
		case r < 72:
			data, ext = legaldocs.Docx(rng, 32<<10+rng.Int64N(480<<10)), ".docx"
		case r < 92:
			data, ext = legaldocs.PDF(rng, 128<<10+rng.Int64N(3<<20)), ".pdf"
		default:
			data, ext = randomBytes(rng, 1<<20+rng.Int64N(9<<20)), ".tif"
		}
		if left := total - c.bytes; int64(len(data)) > left {
			data = data[:left]
		}
		p := filepath.Join(dir, filepath.FromSlash(folders[c.files%len(folders)]), fmt.Sprintf("doc-%05d%s", c.files, ext))
		if err := writeFile(p, data); err != nil {
			return c, err
		}
		c.files++
		c.bytes += int64(len(data))
	}
	return c, nil
}

// cached returns the corpus in dir, made by gen unless a run made it
// before (generating 512 MiB takes minutes on a loaded machine). The
// generators are deterministic, so a kept corpus is the one gen makes.
func cached(dir string, gen func(string) (corpus, error)) (corpus, error) {
	done := dir + ".complete"
	if _, err := os.Stat(done); err == nil {
		c := corpus{dir: dir}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			fi, err := d.Info()
			if err == nil {
				c.files++
				c.bytes += fi.Size()
			}
			return err
		})
		return c, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return corpus{}, err
	}
	c, err := gen(dir)
	if err != nil {
		return c, err
	}
	return c, os.WriteFile(done, nil, 0o644)
}

// smallTree writes n small text files (size bytes on average) in folders
// of 100.
func smallTree(dir string, n int, size int64, seed uint64) (corpus, error) {
	rng := rand.New(rand.NewPCG(seed, 2))
	c := corpus{dir: dir}
	for i := range n {
		data := legaldocs.Text(rng, size/2+rng.Int64N(size+1))
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("notes-%03d", i/100), fmt.Sprintf("note-%05d.txt", i)), data); err != nil {
			return c, err
		}
		c.files++
		c.bytes += int64(len(data))
	}
	return c, nil
}

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func randomBytes(rng *rand.Rand, size int64) []byte {
	b := make([]byte, size+8)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:size]
}

// treeSums maps each regular file under dir (slash paths; names starting
// with ".mattersync" skipped, as the agent keeps its own state there) to
// its SHA-256.
func treeSums(dir string) (map[string][32]byte, error) {
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".mattersync") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = [32]byte(h.Sum(nil))
		return nil
	})
	return out, err
}

// sameTree reports how got differs from want ("" if identical).
func sameTree(want, got string) (string, error) {
	w, err := treeSums(want)
	if err != nil {
		return "", err
	}
	g, err := treeSums(got)
	if err != nil {
		return "", err
	}
	for p, s := range w {
		gs, ok := g[p]
		switch {
		case !ok:
			return p + " missing", nil
		case gs != s:
			return p + " differs", nil
		}
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d files, want %d", len(g), len(w)), nil
	}
	return "", nil
}
