package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gtm-project/gtm/zones"
)

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "config file")
	allowEmpty := fs.Bool("allow-empty", false, "accept a configuration with no zones and no services")
	if err := fs.Parse(args); err != nil {
		return err
	}
	set, err := zones.Load(*cfgPath)
	if err == nil && !*allowEmpty {
		err = zones.CheckReplace(nil, set)
	}
	if err != nil {
		var list zones.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintf(stderr, "%s: %d error(s)\n", *cfgPath, len(list))
		} else {
			fmt.Fprintln(stderr, err)
		}
		return exitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok: %s\n", *cfgPath, set.Summary())
	return nil
}
