package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/gcpapi"
)

// newLabServeAPICommand runs a lab's GCP API: the daemon `lab up` starts, listening in the
// operator's namespace.
func newLabServeAPICommand() *cobra.Command {
	var name, ns, listen string
	c := &cobra.Command{
		Use:    "serve-api",
		Short:  "Serve a lab's cloud as the compute v1 and container v1 REST APIs (the daemon 'lab up' starts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.Open(name)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			ln, err := lab.ListenAPI(ns, listen)
			if err != nil {
				return fmt.Errorf("listen on %s in %s: %w", listen, ns, err)
			}
			log := slog.Default()
			api := gcpapi.New(labcloud.Lab{L: l, Self: self, Log: log}, lab.Project(name), "http://"+listen)
			if err := api.ResumeGuests(); err != nil {
				log.Warn("instances' metadata servers", "err", err)
			}
			srv := &http.Server{Handler: logRequests(api, log), ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			log.Info("serving the lab's GCP API", "lab", name, "project", lab.Project(name), "listen", listen, "namespace", ns)
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name")
	c.Flags().StringVar(&ns, "netns", "", "network namespace to listen in")
	c.Flags().StringVar(&listen, "listen", lab.APIAddr, "address to listen on")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("netns")
	return c
}

// statusRecorder keeps a response's status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// logRequests logs one line per request: method, path and query, status and duration.
// Bodies are not logged (a VPN tunnel's insert carries its shared secret).
func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		uri := r.URL.Path
		if q := r.URL.RawQuery; q != "" {
			uri += "?" + q
		}
		log.Info("request", "method", r.Method, "uri", uri, "status", rec.code,
			"ms", fmt.Sprintf("%.1f", float64(time.Since(start).Microseconds())/1000), "agent", strings.Fields(r.UserAgent() + " -")[0])
	})
}

// newLabEnvCommand prints the exports for a shell at the operator's position.
func newLabEnvCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "env",
		Short: "Print the exports that point gcloud and kubectl at the lab (for a shell in the operator's namespace)",
		Long: "Print the exports that point gcloud at the lab's GCP API: endpoint overrides, project, region, no\n" +
			"credentials, no metadata server, the lab's own gcloud configuration directory, and KUBECONFIG.\n" +
			"The API listens in the operator's network namespace, so use them there:\n" +
			"  reachgate lab exec operator -- bash   (the exports are already set), or\n" +
			"  eval \"$(reachgate lab env)\"; nsenter --net=/run/netns/<operator namespace> bash",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := openLab(name)
			if err != nil {
				return err
			}
			n := l.State.Name
			endpoint, ns, ok := l.APIEndpoint()
			if !ok {
				return fmt.Errorf("lab %s serves no GCP API (it was brought up without one): run 'reachgate lab down --name %s' and 'reachgate lab up' again", n, n)
			}
			fmt.Printf("# lab %s: GCP API %s in network namespace %s (nsenter --net=/run/netns/%s)\n", n, endpoint, ns, ns)
			for _, kv := range l.OperatorEnv() {
				k, v, _ := strings.Cut(kv, "=")
				fmt.Printf("export %s=%s\n", k, shellQuote(v))
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab)")
	return c
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
