package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// SetDrain implements Store.
func (r *Redis) SetDrain(ctx context.Context, d Drain, on bool) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: encode drain: %w", err)
	}
	onArg := "0"
	if on {
		onArg = "1"
	}
	err = setDrainScript.Run(ctx, r.client, []string{r.keys.drains, r.keys.drainsVersion},
		drainID(d), onArg, b, r.keys.channel).Err()
	if err != nil {
		return fmt.Errorf("store: set drain %s: %w", drainID(d), err)
	}
	return nil
}

// Drains implements Store.
func (r *Redis) Drains(ctx context.Context) ([]Drain, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	m, err := r.client.HGetAll(ctx, r.keys.drains).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read drains: %w", err)
	}
	out := make([]Drain, 0, len(m))
	for id, v := range m {
		var d Drain
		key := r.keys.drains + "/" + id
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			r.garbage.bad(garbageDrain, key, v, err)
			continue
		}
		r.garbage.good(key)
		out = append(out, d)
	}
	sortDrains(out)
	return out, nil
}
