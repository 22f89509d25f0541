package node

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// settle is how long files must stay quiet before a reload: editors and
// deploy tools write in several steps (truncate, write, rename).
const settle = 500 * time.Millisecond

// WatchFiles reloads when the config file or a zone file changes. It
// watches directories, not files, because files are often replaced by
// rename (editors, ConfigMaps). Each reload is validated first, exactly as
// on SIGHUP.
func WatchFiles(ctx context.Context, log zerolog.Logger, path string, eng *Engine) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn().Err(err).Msg("cannot watch files; reload with SIGHUP")
		return nil
	}
	defer w.Close()
	watched := map[string]bool{}
	files := map[string]bool{}
	rewatch := func() {
		base := eng.Base()
		want := []string{path}
		if base != nil {
			for _, ref := range base.Config.Zones {
				want = append(want, base.Config.Resolve(ref.File))
			}
			for _, z := range base.Zones {
				for _, f := range z.Files() {
					if f != "" {
						want = append(want, f)
					}
				}
			}
		}
		for _, f := range want {
			abs, err := filepath.Abs(f)
			if err != nil {
				continue
			}
			files[abs] = true
			dir := filepath.Dir(abs)
			if !watched[dir] {
				if err := w.Add(dir); err != nil {
					log.Warn().Err(err).Str("dir", dir).Msg("cannot watch directory")
					continue
				}
				watched[dir] = true
			}
		}
	}
	rewatch()
	log.Info().Int("dirs", len(watched)).Msg("watching config and zone files")
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// seen is what the files looked like when the timer was last set: a
	// reload waits until two looks settle apart agree (a writer that pauses
	// longer than settle between truncate and write, with no event to
	// tell, still shows in the size or mtime).
	var seen map[string]fileStamp
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			abs, _ := filepath.Abs(ev.Name)
			log.Debug().Str("file", abs).Str("op", ev.Op.String()).Bool("ours", files[abs]).Msg("file event")
			// Kubernetes ConfigMaps swap a "..data" symlink: any change in a
			// watched directory may be one of our files.
			if files[abs] || filepath.Base(ev.Name) == "..data" {
				seen = stampFiles(files)
				timer.Reset(settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn().Err(err).Msg("file watch")
		case <-timer.C:
			if now := stampFiles(files); !maps.Equal(now, seen) {
				seen = now
				timer.Reset(settle)
				continue
			}
			if eng.Reload(path, "file change") {
				rewatch()
			}
		}
	}
}

// fileStamp is what says a file is still being written.
type fileStamp struct {
	size  int64
	mtime time.Time
	err   bool
}

func stampFiles(files map[string]bool) map[string]fileStamp {
	out := make(map[string]fileStamp, len(files))
	for f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			out[f] = fileStamp{err: true}
			continue
		}
		out[f] = fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	}
	return out
}
