package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

// LaunchTable is a recipe's launch table ([extend.launch], [anneal.launch]):
// the torch launcher's own keys (torchlaunch.Launch's JSON names, read into
// it as they are) and config, a launcher settings file whose values the
// table's keys override. precision is not among them: the recipe's
// precision key sets it (Settings.Precision).
type LaunchTable map[string]any

// Config is the table's launcher settings file ("" when none).
func (t LaunchTable) Config() string {
	s, _ := t["config"].(string)
	return s
}

// Anchor makes a relative config path relative to dir (the recipe's
// folder).
func (t LaunchTable) Anchor(dir string) {
	if c := t.Config(); c != "" && !filepath.IsAbs(c) {
		t["config"] = filepath.Join(dir, c)
	}
}

// Launch returns the launcher settings: the config file's, overridden by
// the table's keys, checked (CheckLaunch) and with the launcher's defaults.
// An error names the key.
func (t LaunchTable) Launch() (torchlaunch.Launch, error) {
	var l torchlaunch.Launch
	if _, ok := t["config"]; ok && t.Config() == "" {
		return l, errors.New("config: want a file name")
	}
	if _, ok := t["precision"]; ok {
		return l, errors.New("precision: set the recipe's precision key (one precision for every stage and backend)")
	}
	if c := t.Config(); c != "" {
		var err error
		if l, err = torchlaunch.LoadLaunch(c); err != nil {
			return l, err
		}
	}
	over := maps.Clone(t)
	delete(over, "config")
	return Overlay(l, over)
}

// Overlay sets the launch settings named by keys (torchlaunch.Launch's
// JSON names, as a recipe's launch table or the command line give them)
// in l, checks the result (CheckLaunch) and fills in the launcher's
// defaults. An error names the key.
func Overlay(l torchlaunch.Launch, keys map[string]any) (torchlaunch.Launch, error) {
	var unknown []string
	known := launchKeys()
	for k := range keys {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return l, fmt.Errorf("unknown key(s) %s", strings.Join(unknown, ", "))
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return l, fmt.Errorf("%s: want %s, not %s", te.Field, te.Type, te.Value)
		}
		return l, err
	}
	if err := CheckLaunch(l); err != nil {
		return l, err
	}
	return l.WithDefaults(), nil
}

// launchKeys are the keys a launch table may set: torchlaunch.Launch's
// JSON names, less plan (what `longrecipe plan` records for itself).
func launchKeys() map[string]bool {
	keys := map[string]bool{}
	rt := reflect.TypeFor[torchlaunch.Launch]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && name != "plan" {
			keys[name] = true
		}
	}
	return keys
}
