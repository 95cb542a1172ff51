// Package browser opens a URL in the person's system browser, for the
// sign-in through the firm's identity provider (mattersync login,
// mattersync-admin --login-method oidc).
package browser

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
)

// Open starts the system browser on url without waiting for it. It fails
// where there is no desktop to show one (an SSH session, a server): the
// caller prints the URL then.
func Open(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)")
		}
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it; xdg-open and open return at once
	return nil
}
