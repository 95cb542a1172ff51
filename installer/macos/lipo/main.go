// Command lipo joins thin Mach-O executables into one universal ("fat")
// binary, as Apple's lipo -create does, so the macOS payload can be built on
// Linux: go run ./installer/macos/lipo -o mattersync amd64/mattersync arm64/mattersync
//
// Each input is copied unchanged (its code signature stays valid) into a
// slice aligned to 16 KiB, after a big-endian fat header naming each slice's
// CPU type.
package main

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

const (
	fatMagic = 0xcafebabe
	alignLog = 14 // 16 KiB, the arm64 page size; what lipo uses today
)

func main() {
	out := flag.String("o", "", "output file (required)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: lipo -o OUTPUT THIN-MACHO...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := create(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "lipo:", err)
		os.Exit(1)
	}
}

type slice struct {
	path   string
	cpu    macho.Cpu
	subCPU uint32
	data   []byte
}

// create writes the universal binary out from the thin Mach-O files in.
func create(out string, in []string) error {
	var slices []slice
	seen := map[macho.Cpu]string{}
	for _, p := range in {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := macho.NewFile(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: not a thin Mach-O file: %w", p, err)
		}
		if f.Type != macho.TypeExec {
			return fmt.Errorf("%s: Mach-O type %v, want an executable", p, f.Type)
		}
		if prev, ok := seen[f.Cpu]; ok {
			return fmt.Errorf("%s and %s are both %v", prev, p, f.Cpu)
		}
		seen[f.Cpu] = p
		// The fat header carries the subtype without the capability bits
		// (CPU_SUBTYPE_MASK), as the kernel compares it.
		slices = append(slices, slice{path: p, cpu: f.Cpu, subCPU: f.SubCpu &^ 0xff000000, data: data})
	}
	// Apple's order: by CPU type (x86_64 before arm64).
	sort.Slice(slices, func(i, j int) bool { return slices[i].cpu < slices[j].cpu })

	const align = 1 << alignLog
	header := make([]byte, 8+20*len(slices))
	binary.BigEndian.PutUint32(header[0:], fatMagic)
	binary.BigEndian.PutUint32(header[4:], uint32(len(slices)))
	offset := uint64(align) // the first slice starts on the first aligned boundary
	var body []byte
	for i, s := range slices {
		if offset+uint64(len(s.data)) > 1<<32-1 {
			return errors.New("universal binary over 4 GiB: the 32-bit fat format cannot hold it")
		}
		e := header[8+20*i:]
		binary.BigEndian.PutUint32(e[0:], uint32(s.cpu))
		binary.BigEndian.PutUint32(e[4:], s.subCPU)
		binary.BigEndian.PutUint32(e[8:], uint32(offset))
		binary.BigEndian.PutUint32(e[12:], uint32(len(s.data)))
		binary.BigEndian.PutUint32(e[16:], alignLog)
		pad := int(offset) - len(header) - len(body)
		body = append(body, make([]byte, pad)...)
		body = append(body, s.data...)
		offset = (offset + uint64(len(s.data)) + align - 1) &^ (align - 1)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, append(header, body...), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
