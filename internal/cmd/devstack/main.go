// Command devstack runs the local stack behind `make run`: Vault, MinIO, the
// gateway and two demo agents, until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattersync/mattersync/internal/devstack"
)

func main() {
	var o devstack.Options
	flag.StringVar(&o.Dir, "dir", ".run", "state folder")
	flag.StringVar(&o.Bin, "bin", "bin", "folder with the mattersync binaries")
	flag.StringVar(&o.Tools, "tools", ".tools/bin", "folder with vault and minio (else PATH)")
	flag.IntVar(&o.Ports.Vault, "vault-port", 18200, "Vault port")
	flag.IntVar(&o.Ports.MinIO, "minio-port", 19000, "MinIO port")
	flag.IntVar(&o.Ports.MinIOConsole, "minio-console-port", 19001, "MinIO console port")
	flag.IntVar(&o.Ports.Gateway, "gateway-port", 18443, "gateway port")
	flag.IntVar(&o.Replicas, "replicas", 1, "gateway replicas; more than 1 runs them on PostgreSQL behind HAProxy with MinIO on four drives (make run REPLICAS=3)")
	flag.StringVar(&o.PostgresDSN, "postgres-dsn", "", "the replicas' database (default: mattersync_devstack on 127.0.0.1:5432)")
	flag.BoolVar(&o.Mail, "mail", true, "run Mailpit and turn share links on, their codes mailed to it")
	flag.BoolVar(&o.SSO, "sso", false, "sign in through an identity provider (ORY Hydra) with TOTP MFA (make run SSO=1)")
	totpUser := flag.String("totp", "", "print the current TOTP code of this demo user's authenticator app (after -sso) and exit")
	flag.Parse()
	if *totpUser != "" {
		code, err := devstack.TOTP(o.Dir, *totpUser)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(code)
		return
	}
	o.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := devstack.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(s.Guide())
	err = s.Wait(ctx)
	fmt.Fprintln(os.Stderr, "\ndevstack: stopping...")
	s.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
