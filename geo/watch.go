package geo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// Watch reloads the databases when their files change, until ctx is done.
// It watches the directories holding the files, not the files: updaters
// such as geoipupdate write a new file and rename it over the old one,
// which a watch on the old file (inode) would never report. When a path is
// a symbolic link, the link target's directory is watched too.
//
// Any event in those directories starts a quiet period (Options.Settle);
// when it ends, the files are compared (inode, size, mtime) with the ones
// in use and reloaded if they differ, so unrelated files in the same
// directory cost a stat and nothing more. A failed reload is logged and the
// previous database stays in use until the next change.
//
// Watch returns nil when ctx is done, at once when no database is
// configured, and an error if the directories cannot be watched.
func (p *Provider) Watch(ctx context.Context, log zerolog.Logger) error {
	if p.opts.Database == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("geo: watch: %w", err)
	}
	defer w.Close()
	for _, dir := range watchDirs(p.opts.Database, p.opts.ASNDatabase) {
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("geo: watch %s: %w", dir, err)
		}
	}
	settle := time.NewTimer(p.opts.Settle)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("geo: watch: watcher closed")
			}
			log.Debug().Str("file", ev.Name).Str("op", ev.Op.String()).Msg("geo: file event")
			settle.Reset(p.opts.Settle)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("geo: watch: watcher closed")
			}
			// An overflow means events were lost: check the files anyway.
			log.Warn().Err(err).Msg("geo: watch error; checking databases")
			settle.Reset(p.opts.Settle)
		case <-settle.C:
			p.reloadIfChanged(log)
		}
	}
}

// reloadIfChanged reloads when a file differs from the one in use, logging
// the outcome once.
func (p *Provider) reloadIfChanged(log zerolog.Logger) {
	changed, err := p.changed()
	if err != nil {
		log.Warn().Err(err).Msg("geo: database file unavailable; keeping the loaded database")
		return
	}
	if !changed {
		log.Debug().Msg("geo: databases unchanged")
		return
	}
	if err := p.Reload(); err != nil {
		log.Error().Err(err).Msg("geo: reload failed; keeping the loaded database")
		return
	}
	info := p.Current().Info()
	ev := log.Info().
		Str("database", info.Location.Path).
		Str("type", info.Location.Type).
		Time("built", info.Location.Built)
	if info.ASN.Path != "" {
		ev = ev.Str("asn_database", info.ASN.Path).Time("asn_built", info.ASN.Built)
	}
	ev.Msg("geo: databases reloaded")
}

// watchDirs lists, without duplicates, the directories of the given files
// and of their symbolic link targets.
func watchDirs(paths ...string) []string {
	var dirs []string
	add := func(dir string) {
		for _, d := range dirs {
			if d == dir {
				return
			}
		}
		dirs = append(dirs, dir)
	}
	for _, path := range paths {
		if path == "" {
			continue
		}
		add(filepath.Dir(filepath.Clean(path)))
		if target, err := filepath.EvalSymlinks(path); err == nil {
			add(filepath.Dir(target))
		}
	}
	return dirs
}
