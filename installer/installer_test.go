// Package installer_test builds the installers in installer/ and checks what
// they contain: the MSI's tables (msiinfo), its Authenticode signature
// (osslsigncode, with a certificate made here), the macOS payload (LaunchAgent
// plist, scripts, MDM profile, universal binary) and the Linux tarball (unit,
// install/uninstall into a staging tree with the real agent binary).
//
// wixl, msitools and osslsigncode are Debian packages: installer/ensure-tools.sh
// installs them when it can; otherwise the MSI tests skip, or fail with CI=true.
package installer_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
)

// root is the module root: the scripts are run from there, as make does.
func root(t testing.TB) string {
	t.Helper()
	r, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatalf("module root: %v", err)
	}
	return r
}

// run runs a command in the module root and returns its combined output,
// failing the test when it fails.
func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(t, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// needTools makes sure the commands exist, installing their Debian packages
// when possible; otherwise the test is skipped, or fails in CI.
func needTools(t *testing.T, cmds ...string) {
	t.Helper()
	out, err := runErr(t, nil, "installer/ensure-tools.sh", cmds...)
	if err == nil {
		return
	}
	msg := fmt.Sprintf("installer tools %v unavailable: %v\n%s", cmds, err, out)
	if testenv.InCI() {
		t.Fatalf("%s (CI=true: missing installer tools are a failure)", msg)
	}
	t.Skip(msg)
}

// goCmd is the go command: $GOROOT/bin/go when go test set GOROOT, else
// the one on PATH.
func goCmd() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// builds caches the agent binaries built for this test run.
var builds struct {
	sync.Mutex
	dir  string
	done map[string]error
}

// agentBinary builds ./cmd/mattersync for goos/goarch (once per run) and
// returns its path. ldflags are added to the Makefile's.
func agentBinary(t *testing.T, goos, goarch, name, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the agent: skipped under -short")
	}
	builds.Lock()
	defer builds.Unlock()
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "mattersync-installer-test-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.done = d, map[string]error{}
	}
	out := filepath.Join(builds.dir, goos+"-"+goarch, name)
	err, ok := builds.done[out]
	if !ok {
		cmd := exec.Command(goCmd(), "build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w -X main.version=test "+ldflags), "-o", out, "./cmd/mattersync")
		cmd.Dir = root(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		if b, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("go build %s/%s: %v\n%s", goos, goarch, e, b)
		}
		builds.done[out] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// ---- Windows ------------------------------------------------------------------

func TestMSIVersion(t *testing.T) {
	for _, c := range []struct{ in, commits, want string }{
		{"v1.4.2", "", "1.4.2.0"},
		{"1.4.2", "", "1.4.2.0"},
		{"v1.4.2-7-gabc1234", "", "1.4.2.7"},
		{"v1.4.2-7-gabc1234-dirty", "", "1.4.2.7"},
		{"v1.4.2-dirty", "", "1.4.2.0"},
		{"v01.02.003", "", "1.2.3.0"},
		{"ca26d66-dirty", "42", "0.0.0.42"},
		{"dev", "7", "0.0.0.7"},
		{"v1.2", "3", "0.0.0.3"},
		{"v300.0.0", "", ""}, // out of the MSI's range: an error, not a wrong version
		{"v1.2.70000", "", ""},
	} {
		args := []string{c.in}
		if c.commits != "" {
			args = append(args, c.commits)
		}
		out, err := runErr(t, nil, "installer/windows/msi-version.sh", args...)
		got := strings.TrimSpace(out)
		if c.want == "" {
			if err == nil {
				t.Errorf("msi-version.sh %s = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("msi-version.sh %s = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// msiTable returns a table exported by msiinfo as rows of columns.
func msiTable(t *testing.T, msi, table string) (cols []string, rows [][]string) {
	t.Helper()
	out := run(t, nil, "msiinfo", "export", msi, table)
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(out, "\r\n", "\n"), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, out)
	}
	cols = strings.Split(lines[0], "\t")
	for _, l := range lines[3:] { // names, types, table name and keys
		rows = append(rows, strings.Split(l, "\t"))
	}
	return cols, rows
}

// msiRows returns a table's rows as maps from column name to value.
func msiRows(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	cols, rows := msiTable(t, msi, table)
	var m []map[string]string
	for _, r := range rows {
		row := map[string]string{}
		for i, c := range cols {
			if i < len(r) {
				row[c] = r[i]
			}
		}
		m = append(m, row)
	}
	return m
}

// byKey indexes rows by one column.
func byKey(rows []map[string]string, col string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, r := range rows {
		m[r[col]] = r
	}
	return m
}

// buildMSI builds the MSI from freshly built Windows binaries, as make msi does.
func buildMSI(t *testing.T, out string, env ...string) {
	t.Helper()
	exe := agentBinary(t, "windows", "amd64", "mattersync.exe", "")
	exew := agentBinary(t, "windows", "amd64", "mattersyncw.exe", "-H=windowsgui")
	if filepath.Dir(exe) != filepath.Dir(exew) {
		t.Fatalf("windows binaries in two folders: %s, %s", exe, exew)
	}
	run(t, env, "installer/windows/build-msi.sh", "--version", "v1.2.3-4-gabcdef0", "--exe-dir", filepath.Dir(exe), "--out", out)
}

// Windows Installer custom action type bits.
const (
	caExeFromFile = 18     // run an installed file (Source: File key)
	caExeFromDir  = 34     // run a command line (Source: working directory)
	caContinue    = 0x40   // ignore the exit code
	caInScript    = 0x400  // deferred
	caNoImperson  = 0x800  // run as LocalSystem
	caBaseMask    = 0x3f   // the source/target kind
	regHKLM       = "2"    // Registry.Root
	compWin64     = 0x0100 // Component.Attributes msidbComponentAttributes64bit
)

func TestMSI(t *testing.T) {
	needTools(t, "wixl", "msibuild", "msiinfo")
	msi := filepath.Join(t.TempDir(), "mattersync.msi")
	buildMSI(t, msi)

	t.Run("summary", func(t *testing.T) {
		out := run(t, nil, "msiinfo", "suminfo", msi)
		if !strings.Contains(out, "Template: x64;1033") {
			t.Errorf("summary information is not an x64 package:\n%s", out)
		}
	})

	t.Run("files", func(t *testing.T) {
		files := byKey(msiRows(t, msi, "File"), "File")
		comps := byKey(msiRows(t, msi, "Component"), "Component")
		dirs := byKey(msiRows(t, msi, "Directory"), "Directory")
		for _, name := range []string{"mattersync.exe", "mattersyncw.exe"} {
			f, ok := files[name]
			if !ok {
				t.Errorf("File table has no %s: %v", name, files)
				continue
			}
			if f["FileName"] != name || f["FileSize"] == "0" {
				t.Errorf("File %s: %v", name, f)
			}
			c := comps[f["Component_"]]
			if a, _ := strconv.Atoi(c["Attributes"]); a&compWin64 == 0 {
				t.Errorf("component %v of %s is not 64-bit", c, name)
			}
			d := dirs[c["Directory_"]]
			if d["DefaultDir"] != "mattersync" || d["Directory_Parent"] != "ProgramFiles64Folder" {
				t.Errorf("%s installs into %v, want [ProgramFiles64Folder]mattersync", name, d)
			}
		}
		if d := dirs["CONFIGDIR"]; d["DefaultDir"] != "mattersync" || d["Directory_Parent"] != "CommonAppDataFolder" {
			t.Errorf("CONFIGDIR is %v, want [CommonAppDataFolder]mattersync", d)
		}
	})

	t.Run("properties", func(t *testing.T) {
		props := map[string]string{}
		for _, r := range msiRows(t, msi, "Property") {
			props[r["Property"]] = r["Value"]
		}
		want := map[string]string{
			"ProductName": "mattersync", "ProductVersion": "1.2.3.4", "ALLUSERS": "1",
			"VAULT_AUTH": "oidc", "UpgradeCode": "{6D26DA90-3A35-46BF-8DC1-BDFE50F8D473}",
		}
		for k, v := range want {
			if props[k] != v {
				t.Errorf("Property %s = %q, want %q", k, props[k], v)
			}
		}
		secure := strings.Split(props["SecureCustomProperties"], ";")
		for _, p := range []string{"GATEWAY_URL", "VAULT_ADDR", "MATTERS_ROOT", "VAULT_AUTH", "VAULT_USERNAME", "WIX_UPGRADE_DETECTED"} {
			if !slices.Contains(secure, p) {
				t.Errorf("SecureCustomProperties %q lacks %s", props["SecureCustomProperties"], p)
			}
		}
		// No default for the two required settings: an install without
		// them must stop at the launch condition, not write a wrong config.
		for _, p := range []string{"GATEWAY_URL", "VAULT_ADDR"} {
			if v, ok := props[p]; ok {
				t.Errorf("Property %s has a default %q", p, v)
			}
		}
		var conds []string
		for _, r := range msiRows(t, msi, "LaunchCondition") {
			conds = append(conds, r["Condition"])
		}
		if !slices.Contains(conds, "Installed OR WIX_UPGRADE_DETECTED OR (GATEWAY_URL AND VAULT_ADDR)") {
			t.Errorf("no launch condition requiring GATEWAY_URL and VAULT_ADDR: %q", conds)
		}
	})

	cas := byKey(msiRows(t, msi, "CustomAction"), "Action")
	seq := map[string]map[string]string{}
	seqNo := map[string]int{}
	for _, r := range msiRows(t, msi, "InstallExecuteSequence") {
		seq[r["Action"]] = r
		seqNo[r["Action"]], _ = strconv.Atoi(r["Sequence"])
	}
	caType := func(name string) int {
		n, err := strconv.Atoi(cas[name]["Type"])
		if err != nil {
			t.Fatalf("custom action %s: %v (table: %v)", name, err, cas)
		}
		return n
	}
	// between reports whether action runs after a and before b.
	between := func(action, a, b string) bool {
		n, ok := seqNo[action]
		return ok && seqNo[a] < n && n < seqNo[b]
	}

	t.Run("custom actions", func(t *testing.T) {
		for _, c := range []struct {
			name, target, cond string
			base               int
			ignore             bool
			after, before      string
		}{
			{"ConfigInit", "config init --config \"[CONFIGDIR]agent.yaml\"", `NOT (REMOVE~="ALL") AND GATEWAY_URL AND VAULT_ADDR`, caExeFromFile, false, "InstallFiles", "InstallFinalize"},
			{"ServiceStop", "service stop --config \"[CONFIGDIR]agent.yaml\"", `REMOVE~="ALL"`, caExeFromFile, true, "InstallInitialize", "RemoveFiles"},
			{"ServiceUninstall", "service uninstall --config \"[CONFIGDIR]agent.yaml\"", `REMOVE~="ALL"`, caExeFromFile, true, "ServiceStop", "RemoveFiles"},
			{"StopAgents", `"[System64Folder]taskkill.exe" /F /IM mattersyncw.exe /IM mattersync.exe`, `REMOVE~="ALL"`, caExeFromDir, true, "InstallInitialize", "RemoveFiles"},
			{"RemoveConfig", `"[System64Folder]cmd.exe" /d /c if exist "[CONFIGDIR]" rmdir /s /q "[CONFIGDIR]"`, `REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE`, caExeFromDir, true, "RemoveFiles", "InstallFinalize"},
		} {
			ca, ok := cas[c.name]
			if !ok {
				t.Errorf("no custom action %s", c.name)
				continue
			}
			typ := caType(c.name)
			if typ&caBaseMask != c.base || typ&caInScript == 0 || typ&caNoImperson == 0 || (typ&caContinue != 0) != c.ignore {
				t.Errorf("%s: type %d, want base %d, deferred, not impersonated, ignore exit code %v", c.name, typ, c.base, c.ignore)
			}
			if !strings.HasPrefix(ca["Target"], c.target) {
				t.Errorf("%s runs %q, want it to start with %q", c.name, ca["Target"], c.target)
			}
			if c.base == caExeFromFile && ca["Source"] != "mattersync.exe" {
				t.Errorf("%s runs file %q, want mattersync.exe", c.name, ca["Source"])
			}
			if seq[c.name]["Condition"] != c.cond {
				t.Errorf("%s condition %q, want %q", c.name, seq[c.name]["Condition"], c.cond)
			}
			if !between(c.name, c.after, c.before) {
				t.Errorf("%s at %d, want between %s (%d) and %s (%d)", c.name, seqNo[c.name], c.after, seqNo[c.after], c.before, seqNo[c.before])
			}
		}
		for _, want := range []string{"--gateway-url \"[GATEWAY_URL]\"", "--vault-addr \"[VAULT_ADDR]\"", "--root \"[MATTERS_ROOT]\"", "--auth \"[VAULT_AUTH]\"", "--force"} {
			if !strings.Contains(cas["ConfigInit"]["Target"], want) {
				t.Errorf("ConfigInit %q lacks %s", cas["ConfigInit"]["Target"], want)
			}
		}
		if !between("RemoveExistingProducts", "InstallValidate", "InstallInitialize") {
			t.Errorf("RemoveExistingProducts at %d, want between InstallValidate and InstallInitialize", seqNo["RemoveExistingProducts"])
		}
		for _, a := range []string{"WriteEnvironmentStrings", "RemoveEnvironmentStrings", "WriteRegistryValues", "RemoveRegistryValues"} {
			if _, ok := seqNo[a]; !ok {
				t.Errorf("InstallExecuteSequence lacks %s", a)
			}
		}
	})

	// The command line the MSI runs must be one the real CLI accepts: run
	// it (with the host's build) the way Windows Installer would format it.
	t.Run("config init command line", func(t *testing.T) {
		bin := agentBinary(t, runtime.GOOS, runtime.GOARCH, "mattersync", "")
		dir := t.TempDir()
		for _, props := range []map[string]string{
			{"GATEWAY_URL": "https://mattersync.firm.example", "VAULT_ADDR": "https://vault.firm.example:8200", "VAULT_AUTH": "oidc"},
			{"GATEWAY_URL": "https://gw.example", "VAULT_ADDR": "http://127.0.0.1:8200", "MATTERS_ROOT": filepath.Join(dir, "Matters"), "VAULT_AUTH": "userpass", "VAULT_USERNAME": "alice"},
		} {
			props["CONFIGDIR"] = dir + string(filepath.Separator)
			args := formatCommandLine(t, cas["ConfigInit"]["Target"], props)
			run(t, nil, bin, args...) // --force: the second run replaces the first file
			cfg := filepath.Join(dir, "agent.yaml")
			run(t, nil, bin, "check-config", "--config", cfg)
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{props["GATEWAY_URL"], props["VAULT_ADDR"], props["MATTERS_ROOT"], props["VAULT_USERNAME"]} {
				if !strings.Contains(string(b), v) {
					t.Errorf("config from %v lacks %q:\n%s", props, v, b)
				}
			}
		}
		// Without a gateway URL the command fails, so the install rolls back.
		args := formatCommandLine(t, cas["ConfigInit"]["Target"], map[string]string{"CONFIGDIR": dir + "/", "VAULT_ADDR": "https://v.example", "VAULT_AUTH": "oidc"})
		if out, err := runErr(t, nil, bin, args...); err == nil {
			t.Errorf("config init without GATEWAY_URL succeeded:\n%s", out)
		}
	})

	t.Run("autostart and environment", func(t *testing.T) {
		var runValue map[string]string
		regs := msiRows(t, msi, "Registry")
		for _, r := range regs {
			if r["Key"] == `Software\Microsoft\Windows\CurrentVersion\Run` && r["Name"] == "mattersync" {
				runValue = r
			}
		}
		if runValue == nil {
			t.Fatalf("no HKLM Run value for the per-user agent: %v", regs)
		}
		if runValue["Root"] != regHKLM || runValue["Value"] != `"[INSTALLDIR]mattersyncw.exe" run --log-file --config "[CONFIGDIR]agent.yaml"` {
			t.Errorf("Run value %v", runValue)
		}
		env := byKey(msiRows(t, msi, "Environment"), "Name")
		if e := env["=-*MATTERSYNC_CONFIG"]; e["Value"] != "[CONFIGDIR]agent.yaml" {
			t.Errorf("MATTERSYNC_CONFIG environment entry %v (table %v)", e, env)
		}
		if e := env["=-*PATH"]; e["Value"] != "[~];[INSTALLDIR]" {
			t.Errorf("PATH environment entry %v", e)
		}
	})

	// Every command line the MSI runs is one the agent's CLI accepts.
	t.Run("CLI contract", func(t *testing.T) {
		props := map[string]string{"INSTALLDIR": `C:\Program Files\mattersync\`, "CONFIGDIR": `C:\ProgramData\mattersync\`}
		for _, a := range []string{"ConfigInit", "ServiceStop", "ServiceUninstall"} {
			cliAccepts(t, formatCommandLine(t, cas[a]["Target"], props))
		}
		for _, r := range msiRows(t, msi, "Registry") {
			if r["Name"] == "mattersync" && strings.HasSuffix(r["Key"], `\Run`) {
				cliAccepts(t, formatCommandLine(t, r["Value"], props)[1:])
			}
		}
	})

	t.Run("no ServiceInstall table rows", func(t *testing.T) {
		// By design: no LocalSystem service (see docs/INSTALL.md); the agent
		// runs per user from the Run key.
		if _, rows := msiTable(t, msi, "ServiceInstall"); len(rows) != 0 {
			t.Errorf("ServiceInstall rows: %v", rows)
		}
	})

	t.Run("upgrades", func(t *testing.T) {
		var up, down bool
		for _, r := range msiRows(t, msi, "Upgrade") {
			a, _ := strconv.Atoi(r["Attributes"])
			switch r["ActionProperty"] {
			case "WIX_UPGRADE_DETECTED":
				// Removes 0.0.0 up to and including this version (512 = max inclusive).
				up = r["VersionMin"] == "0.0.0" && r["VersionMax"] == "1.2.3.4" && a&0x200 != 0 && a&0x2 == 0
			case "WIX_DOWNGRADE_DETECTED":
				down = r["VersionMin"] == "1.2.3.4" && a&0x2 != 0 && a&0x100 == 0
			}
		}
		if !up || !down {
			t.Errorf("Upgrade table: upgrade row ok %v, downgrade row ok %v", up, down)
		}
	})
}

// cliAccepts checks that the agent's CLI knows the subcommand and every flag
// of args (the installers' command lines), by running them with --help.
func cliAccepts(t *testing.T, args []string) {
	t.Helper()
	bin := agentBinary(t, runtime.GOOS, runtime.GOARCH, "mattersync", "")
	out, err := runErr(t, nil, bin, append(slices.Clone(args), "--help")...)
	// Cobra answers an unknown subcommand with its parent's help, so the
	// usage line must name the whole command path.
	var path []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		path = append(path, a)
	}
	usage := "mattersync " + strings.Join(path, " ") + " [flags]"
	if err != nil || !strings.Contains(out, usage) {
		t.Errorf("mattersync %q is not a command line the CLI accepts (want %q in its help): %v\n%s", args, usage, err, out)
	}
}

// formatCommandLine formats an exe custom action's command line with the
// given properties (others are empty, as in Windows Installer) and splits
// it the way the Windows C runtime does for arguments without backslash
// escapes.
func formatCommandLine(t *testing.T, target string, props map[string]string) []string {
	t.Helper()
	s := regexp.MustCompile(`\[([A-Za-z_][A-Za-z0-9_.]*)\]`).ReplaceAllStringFunc(target, func(m string) string {
		return props[m[1:len(m)-1]]
	})
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		t.Fatalf("unbalanced quotes in %q", target)
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// selfSignedCodeSigning writes a self-signed code-signing certificate and its
// key as PEM files, as a firm's CA-issued pair would be given to make msi.
func selfSignedCodeSigning(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"mattersync test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestMSISigned(t *testing.T) {
	needTools(t, "wixl", "msibuild", "msiinfo", "msiextract", "osslsigncode")
	dir := t.TempDir()
	const cn = "mattersync test signer"
	cert, key := selfSignedCodeSigning(t, dir, cn)
	msi := filepath.Join(dir, "signed.msi")
	buildMSI(t, msi, "SIGN_CERT="+cert, "SIGN_KEY="+key)

	// Trusting the test certificate, the signature verifies completely.
	out := run(t, nil, "osslsigncode", "verify", "-CAfile", cert, "-in", msi)
	if !strings.Contains(out, "Signature verification: ok") || !strings.Contains(out, "/CN="+cn) {
		t.Errorf("osslsigncode verify -CAfile:\n%s", out)
	}
	// Against the system roots it names the signer and fails only on trust.
	out, err := runErr(t, nil, "osslsigncode", "verify", "-in", msi)
	if !strings.Contains(out, "/CN="+cn) {
		t.Errorf("osslsigncode verify does not report the signer (err %v):\n%s", err, out)
	}
	// ... and the digests it recomputes match the signed ones.
	cur := regexp.MustCompile(`Current DigitalSignature\s*:\s*([0-9A-F]+)`).FindStringSubmatch(out)
	calc := regexp.MustCompile(`Calculated DigitalSignature\s*:\s*([0-9A-F]+)`).FindStringSubmatch(out)
	if cur == nil || calc == nil || cur[1] != calc[1] {
		t.Errorf("MSI digest: current %q, calculated %q", cur, calc)
	}
	if err != nil && !strings.Contains(out, "self-signed certificate") && !strings.Contains(out, "self signed certificate") {
		t.Errorf("osslsigncode verify failed for another reason than the untrusted root: %v\n%s", err, out)
	}

	// The executables inside are signed too, and mattersyncw.exe (the agent
	// the Run key starts) opens no console window.
	ext := filepath.Join(dir, "extracted")
	run(t, nil, "msiextract", "-C", ext, msi)
	for name, subsystem := range map[string]uint16{"mattersync.exe": pe.IMAGE_SUBSYSTEM_WINDOWS_CUI, "mattersyncw.exe": pe.IMAGE_SUBSYSTEM_WINDOWS_GUI} {
		var found string
		filepath.WalkDir(ext, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == name {
				found = p
			}
			return nil
		})
		if found == "" {
			t.Errorf("%s not in the MSI", name)
			continue
		}
		if out := run(t, nil, "osslsigncode", "verify", "-CAfile", cert, "-in", found); !strings.Contains(out, "Signature verification: ok") {
			t.Errorf("%s signature:\n%s", name, out)
		}
		f, err := pe.Open(found)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		f.Close()
		if !ok || oh.Subsystem != subsystem {
			t.Errorf("%s: optional header %T, want 64-bit with subsystem %d", name, f.OptionalHeader, subsystem)
		}
	}

	// A changed MSI no longer verifies.
	tampered := filepath.Join(dir, "tampered.msi")
	b, err := os.ReadFile(msi)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "msibuild", tampered, "-q", "UPDATE `Property` SET `Value` = 'userpass' WHERE `Property` = 'VAULT_AUTH'")
	if out, err := runErr(t, nil, "osslsigncode", "verify", "-CAfile", cert, "-in", tampered); err == nil || strings.Contains(out, "Signature verification: ok") {
		t.Errorf("tampered MSI verifies:\n%s", out)
	}
}

// ---- archives -----------------------------------------------------------------

type entry struct {
	mode     os.FileMode
	uid, gid int
	data     []byte
	link     string
}

// readTarGz returns the regular files and symlinks of a .tar.gz by name.
func readTarGz(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	m := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimSuffix(h.Name, "/")] = entry{mode: h.FileInfo().Mode(), uid: h.Uid, gid: h.Gid, data: b, link: h.Linkname}
	}
	return m
}

// extract unpacks a .tar.gz into dir with the system tar, as IT would.
func extract(t *testing.T, tgz, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "tar", "-xzf", tgz, "-C", dir)
}

// checkShell checks that each script parses and is executable.
func checkShell(t *testing.T, files map[string]entry, names ...string) {
	t.Helper()
	for _, n := range names {
		e, ok := files[n]
		if !ok {
			t.Errorf("%s missing", n)
			continue
		}
		if e.mode.Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", n, e.mode.Perm())
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = bytes.NewReader(e.data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", n, err, out)
		}
	}
}

// ---- macOS --------------------------------------------------------------------

// thinMachO returns a minimal 64-bit Mach-O executable header for cpu: enough
// for the payload and lipo, which never run the binary.
func thinMachO(cpu macho.Cpu, sub uint32, fill byte) []byte {
	b := make([]byte, 32, 4096)
	binary.LittleEndian.PutUint32(b[0:], macho.Magic64)
	binary.LittleEndian.PutUint32(b[4:], uint32(cpu))
	binary.LittleEndian.PutUint32(b[8:], sub)
	binary.LittleEndian.PutUint32(b[12:], uint32(macho.TypeExec))
	return append(b, bytes.Repeat([]byte{fill}, 4000)...)
}

func TestUniversalBinary(t *testing.T) {
	dir := t.TempDir()
	amd := thinMachO(macho.CpuAmd64, 3|0x80000000, 0xaa) // x86_64 ALL, with the LIB64 capability bit
	arm := thinMachO(macho.CpuArm64, 0, 0xbb)
	for name, b := range map[string][]byte{"amd64": amd, "arm64": arm, "amd64-again": amd} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "universal")
	run(t, nil, goCmd(), "run", "./installer/macos/lipo", "-o", out, filepath.Join(dir, "arm64"), filepath.Join(dir, "amd64"))
	ff, err := macho.OpenFat(out)
	if err != nil {
		t.Fatalf("not a universal binary: %v", err)
	}
	defer ff.Close()
	if len(ff.Arches) != 2 || ff.Arches[0].Cpu != macho.CpuAmd64 || ff.Arches[1].Cpu != macho.CpuArm64 {
		t.Fatalf("arches %+v, want amd64 then arm64", ff.Arches)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{amd, arm} {
		a := ff.Arches[i]
		if a.Offset%(1<<14) != 0 || a.Align != 14 {
			t.Errorf("%v slice at %d, align 2^%d: want 16 KiB alignment", a.Cpu, a.Offset, a.Align)
		}
		if !bytes.Equal(raw[a.Offset:a.Offset+a.Size], want) {
			t.Errorf("%v slice differs from its input", a.Cpu)
		}
		if a.SubCpu&0xff000000 != 0 {
			t.Errorf("%v fat subtype %#x keeps capability bits", a.Cpu, a.SubCpu)
		}
	}
	// Two slices for one CPU, or a file that is not Mach-O, are refused.
	if out, err := runErr(t, nil, goCmd(), "run", "./installer/macos/lipo", "-o", filepath.Join(dir, "bad"), filepath.Join(dir, "amd64"), filepath.Join(dir, "amd64-again")); err == nil {
		t.Errorf("lipo accepted two amd64 slices:\n%s", out)
	}
	if out, err := runErr(t, nil, goCmd(), "run", "./installer/macos/lipo", "-o", filepath.Join(dir, "bad"), "installer/macos/install.sh"); err == nil {
		t.Errorf("lipo accepted a shell script:\n%s", out)
	}
}

// plistValue is a decoded XML property list value: string, bool, int64,
// []any or map[string]any.
func decodePlist(t *testing.T, data []byte) any {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("plist: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				t.Fatalf("plist: root element %s", se.Name.Local)
			}
			v, end := plistNext(t, d)
			if end {
				t.Fatal("plist: empty")
			}
			return v
		}
	}
}

// plistNext decodes the next value; end reports the closing tag of the
// enclosing array, dict or plist instead.
func plistNext(t *testing.T, d *xml.Decoder) (v any, end bool) {
	t.Helper()
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("plist: %v", err)
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			return nil, true
		case xml.StartElement:
			switch tok.Name.Local {
			case "string", "key", "date", "data":
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					t.Fatalf("plist: %v", err)
				}
				if tok.Name.Local == "key" {
					return plistKey(s), false
				}
				return s, false
			case "integer":
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					t.Fatalf("plist: %v", err)
				}
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					t.Fatalf("plist: integer %q", s)
				}
				return n, false
			case "true", "false":
				if err := d.Skip(); err != nil {
					t.Fatalf("plist: %v", err)
				}
				return tok.Name.Local == "true", false
			case "array":
				a := []any{}
				for {
					e, end := plistNext(t, d)
					if end {
						return a, false
					}
					a = append(a, e)
				}
			case "dict":
				m := map[string]any{}
				for {
					k, end := plistNext(t, d)
					if end {
						return m, false
					}
					key, ok := k.(plistKey)
					if !ok {
						t.Fatalf("plist: dict entry %v is not after a <key>", k)
					}
					if _, dup := m[string(key)]; dup {
						t.Fatalf("plist: duplicate key %s", key)
					}
					val, end := plistNext(t, d)
					if end {
						t.Fatalf("plist: key %s without a value", key)
					}
					m[string(key)] = val
				}
			default:
				t.Fatalf("plist: unknown element %s", tok.Name.Local)
			}
		}
	}
}

type plistKey string

const (
	macBinary = "/usr/local/mattersync/bin/mattersync"
	macConfig = "/Library/Application Support/mattersync/agent.yaml"
)

func TestMacOSPayload(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mattersync")
	if err := os.WriteFile(bin, thinMachO(macho.CpuArm64, 0, 1), 0o755); err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(dir, "payload.tar.gz")
	run(t, nil, "installer/macos/build-payload.sh", "--version", "v1.2.3", "--binary", bin, "--out", tgz)
	files := readTarGz(t, tgz)
	p := "mattersync-v1.2.3-macos/"
	for name, e := range files {
		if e.uid != 0 || e.gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", name, e.uid, e.gid)
		}
	}
	if e := files[p+"root"+macBinary]; e.mode.Perm() != 0o755 || !bytes.Equal(e.data, thinMachO(macho.CpuArm64, 0, 1)) {
		t.Errorf("payload binary: mode %v, %d bytes", e.mode, len(e.data))
	}
	checkShell(t, files, p+"install.sh", p+"uninstall.sh", p+"build-pkg.sh", p+"scripts/preinstall", p+"scripts/postinstall",
		p+"root/usr/local/mattersync/uninstall.sh", p+"root/usr/local/bin/mattersync")
	settings := string(files[p+"scripts/settings.sh"].data)

	t.Run("LaunchAgent", func(t *testing.T) {
		e, ok := files[p+"root/Library/LaunchAgents/com.mattersync.agent.plist"]
		if !ok || e.mode.Perm() != 0o644 {
			t.Fatalf("LaunchAgent plist missing or mode %v", e.mode)
		}
		pl, ok := decodePlist(t, e.data).(map[string]any)
		if !ok {
			t.Fatalf("plist is not a dict")
		}
		want := []any{macBinary, "run", "--log-file", "--config", macConfig}
		if got, _ := pl["ProgramArguments"].([]any); !slices.Equal(got, want) {
			t.Errorf("ProgramArguments %q, want %q", got, want)
		}
		if pl["Label"] != "com.mattersync.agent" || pl["RunAtLoad"] != true || pl["LimitLoadToSessionType"] != "Aqua" {
			t.Errorf("plist %v", pl)
		}
		var args []string
		for _, a := range want[1:] {
			args = append(args, a.(string))
		}
		cliAccepts(t, args)
		if ka, _ := pl["KeepAlive"].(map[string]any); ka["SuccessfulExit"] != false {
			t.Errorf("KeepAlive %v, want a restart after crashes only", pl["KeepAlive"])
		}
		// The scripts and the plist agree on where things are.
		for _, s := range []string{`binary="$prefix/bin/mattersync"`, `prefix="$vol/usr/local/mattersync"`, `configdir="$vol/Library/Application Support/mattersync"`, `config="$configdir/agent.yaml"`, `label=com.mattersync.agent`} {
			if !strings.Contains(settings, s) {
				t.Errorf("settings.sh lacks %s", s)
			}
		}
		if w := string(files[p+"root/usr/local/bin/mattersync"].data); !strings.Contains(w, `MATTERSYNC_CONFIG:=`+macConfig+`}`) || !strings.Contains(w, `exec "`+macBinary+`" "$@"`) {
			t.Errorf("CLI wrapper:\n%s", w)
		}
	})

	t.Run("mobileconfig", func(t *testing.T) {
		e, ok := files[p+"com.mattersync.agent.mobileconfig"]
		if !ok {
			t.Fatal("no mobileconfig in the payload")
		}
		prof, ok := decodePlist(t, e.data).(map[string]any)
		if !ok || prof["PayloadType"] != "Configuration" || prof["PayloadVersion"] != int64(1) || prof["PayloadScope"] != "System" {
			t.Fatalf("profile %v", prof)
		}
		uuidRE := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
		seen := map[any]bool{}
		payloads, _ := prof["PayloadContent"].([]any)
		all := append([]any{prof}, payloads...)
		var settingsPayload, loginItems map[string]any
		for _, pa := range all {
			m, _ := pa.(map[string]any)
			for _, k := range []string{"PayloadType", "PayloadIdentifier", "PayloadUUID", "PayloadVersion"} {
				if m[k] == nil {
					t.Errorf("payload %v lacks %s", m["PayloadIdentifier"], k)
				}
			}
			u, _ := m["PayloadUUID"].(string)
			if !uuidRE.MatchString(u) || seen[u] || seen[m["PayloadIdentifier"]] {
				t.Errorf("payload %v: UUID %q malformed or reused, or identifier reused", m["PayloadIdentifier"], u)
			}
			seen[u], seen[m["PayloadIdentifier"]] = true, true
			switch m["PayloadType"] {
			case "com.mattersync.agent":
				settingsPayload = m
			case "com.apple.servicemanagement":
				loginItems = m
			}
		}
		if settingsPayload == nil || loginItems == nil {
			t.Fatalf("profile lacks the settings or login item payload: %v", payloads)
		}
		// Every setting in the profile is one the install scripts read, and
		// the required ones are there.
		for k := range settingsPayload {
			if strings.HasPrefix(k, "Payload") {
				continue
			}
			if !strings.Contains(settings, "managed "+k+")") {
				t.Errorf("profile key %s is not read by settings.sh", k)
			}
		}
		// The sample profile signs people in with the firm's identity
		// provider, as the MSI does by default.
		if settingsPayload["VaultAuth"] != "oidc" {
			t.Errorf("profile VaultAuth = %v, want oidc", settingsPayload["VaultAuth"])
		}
		for _, k := range []string{"GatewayURL", "VaultAddr"} {
			if s, _ := settingsPayload[k].(string); !strings.HasPrefix(s, "https://") {
				t.Errorf("profile %s = %v", k, settingsPayload[k])
			}
		}
		rules, _ := loginItems["Rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["RuleType"] != "Label" || rules[0].(map[string]any)["RuleValue"] != "com.mattersync.agent" {
			t.Errorf("login item rules %v, want the LaunchAgent's label", rules)
		}
	})

	// The scripts, run on this host against a staging volume with the host's
	// agent binary in place of the macOS one: they write a valid config,
	// keep it on an upgrade without settings, refuse to install with
	// nothing to configure from, and uninstall removes what they installed.
	t.Run("install and uninstall", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("the scripts are POSIX sh")
		}
		host := agentBinary(t, runtime.GOOS, runtime.GOARCH, "mattersync", "")
		x := filepath.Join(t.TempDir(), "x")
		extract(t, tgz, x)
		pl := filepath.Join(x, "mattersync-v1.2.3-macos")
		copyFile(t, host, filepath.Join(pl, "root"+macBinary), 0o755)
		vol := filepath.Join(t.TempDir(), "vol")
		env := []string{"DESTDIR=" + vol}

		if out, err := runErr(t, env, filepath.Join(pl, "install.sh")); err == nil || !strings.Contains(out, "no settings") {
			t.Errorf("install without settings: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(vol, macBinary)); err == nil {
			t.Errorf("a refused install left files behind")
		}
		run(t, env, filepath.Join(pl, "install.sh"), "--gateway-url", "https://mattersync.firm.example", "--vault-addr", "https://vault.firm.example:8200")
		cfg := filepath.Join(vol, macConfig)
		run(t, nil, host, "check-config", "--config", cfg)
		if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "https://mattersync.firm.example") {
			t.Errorf("config:\n%s", b)
		}
		for _, f := range []string{"/Library/LaunchAgents/com.mattersync.agent.plist", "/usr/local/bin/mattersync", "/usr/local/mattersync/uninstall.sh"} {
			if _, err := os.Stat(filepath.Join(vol, f)); err != nil {
				t.Errorf("not installed: %v", err)
			}
		}
		// An upgrade without settings keeps the config.
		out := run(t, env, filepath.Join(pl, "install.sh"))
		if !strings.Contains(out, "keeping") {
			t.Errorf("upgrade without settings:\n%s", out)
		}
		run(t, nil, host, "check-config", "--config", cfg)

		run(t, env, filepath.Join(vol, "usr/local/mattersync/uninstall.sh"))
		for _, f := range []string{"/Library/LaunchAgents/com.mattersync.agent.plist", "/usr/local/bin/mattersync", "/usr/local/mattersync", "/Library/Application Support/mattersync"} {
			if _, err := os.Stat(filepath.Join(vol, f)); err == nil {
				t.Errorf("%s left after uninstall", f)
			}
		}
	})
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// ---- Linux --------------------------------------------------------------------

func TestLinuxTarball(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("installs the host's binary: Linux only")
	}
	host := agentBinary(t, runtime.GOOS, runtime.GOARCH, "mattersync", "")
	dir := t.TempDir()
	tgz := filepath.Join(dir, "linux.tar.gz")
	run(t, nil, "installer/linux/build-tarball.sh", "--version", "v1.2.3", "--arch", runtime.GOARCH, "--binary", host, "--out", tgz)
	files := readTarGz(t, tgz)
	p := "mattersync-v1.2.3-linux-" + runtime.GOARCH + "/"
	checkShell(t, files, p+"install.sh", p+"uninstall.sh")
	if e := files[p+"mattersync"]; e.mode.Perm() != 0o755 || len(e.data) == 0 {
		t.Errorf("binary: mode %v, %d bytes", e.mode, len(e.data))
	}
	unit := string(files[p+"mattersync.service.in"].data)
	for _, want := range []string{"[Unit]\n", "[Service]\n", "[Install]\n", "\nType=simple\n",
		"\nExecStart=\"@BINARY@\" run --config \"@CONFIG@\"\n", "\nRestart=on-failure\n", "\nWantedBy=default.target\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	// A user unit must not name a user or reach for system targets.
	for _, bad := range []string{"User=", "Group=", "multi-user.target"} {
		if strings.Contains(unit, bad) {
			t.Errorf("user unit contains %q", bad)
		}
	}

	x := filepath.Join(dir, "x")
	extract(t, tgz, x)
	tb := filepath.Join(x, strings.TrimSuffix(p, "/"))
	gw, vault := "https://mattersync.firm.example", "https://vault.firm.example:8200"

	t.Run("system", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest")
		env := []string{"DESTDIR=" + dest}
		if out, err := runErr(t, env, filepath.Join(tb, "install.sh")); err == nil {
			t.Errorf("install without settings succeeded:\n%s", out)
		}
		run(t, env, filepath.Join(tb, "install.sh"), "--gateway-url", gw, "--vault-addr", vault, "--auth", "oidc")
		checkUnit(t, filepath.Join(dest, "usr/local/lib/systemd/user/mattersync.service"), "/usr/local/lib/mattersync/mattersync", "/etc/mattersync/agent.yaml")
		run(t, nil, host, "check-config", "--config", filepath.Join(dest, "etc/mattersync/agent.yaml"))
		w, _ := os.ReadFile(filepath.Join(dest, "usr/local/bin/mattersync"))
		if !strings.Contains(string(w), `MATTERSYNC_CONFIG:=/etc/mattersync/agent.yaml}`) || !strings.Contains(string(w), `exec "/usr/local/lib/mattersync/mattersync" "$@"`) {
			t.Errorf("CLI wrapper:\n%s", w)
		}
		run(t, env, filepath.Join(dest, "usr/local/lib/mattersync/mattersync-uninstall.sh"))
		for _, f := range []string{"usr/local/lib/systemd/user/mattersync.service", "usr/local/bin/mattersync", "usr/local/lib/mattersync", "etc/mattersync"} {
			if _, err := os.Stat(filepath.Join(dest, f)); err == nil {
				t.Errorf("%s left after uninstall", f)
			}
		}
	})

	t.Run("user", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest")
		home := "/home/alice"
		env := []string{"DESTDIR=" + dest, "HOME=" + home, "XDG_CONFIG_HOME="}
		run(t, env, filepath.Join(tb, "install.sh"), "--user", "--gateway-url", gw, "--vault-addr", vault)
		checkUnit(t, filepath.Join(dest, home, ".config/systemd/user/mattersync.service"), home+"/.local/bin/mattersync", home+"/.config/mattersync/agent.yaml")
		run(t, nil, host, "check-config", "--config", filepath.Join(dest, home, ".config/mattersync/agent.yaml"))
		run(t, env, filepath.Join(dest, home, ".local/bin/mattersync-uninstall.sh"), "--user")
		for _, f := range []string{".config/systemd/user/mattersync.service", ".local/bin/mattersync", ".config/mattersync"} {
			if _, err := os.Stat(filepath.Join(dest, home, f)); err == nil {
				t.Errorf("~/%s left after uninstall", f)
			}
		}
	})
}

// checkUnit checks an installed unit runs binary with config.
func checkUnit(t *testing.T, path, binary, config string) {
	t.Helper()
	cliAccepts(t, []string{"run", "--config", config})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("unit not installed: %v", err)
	}
	want := fmt.Sprintf("\nExecStart=%q run --config %q\n", binary, config)
	if !strings.Contains(string(b), want) || strings.Contains(string(b), "@") {
		t.Errorf("unit %s lacks %q or has a placeholder left:\n%s", path, want, b)
	}
}
