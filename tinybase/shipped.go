package tinybase

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed shipped
var shipped embed.FS

// Shipped returns the embedded tiny base model folder (config.json,
// model.safetensors, tokenizer.json, build.json, README.md).
func Shipped() (fs.FS, error) {
	sub, err := fs.Sub(shipped, "shipped")
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if _, err := fs.Stat(sub, f); err != nil {
			return nil, fmt.Errorf("tinybase: this build has no shipped model (%s missing): rebuild it with \"longrecipe tinybase\"", f)
		}
	}
	return sub, nil
}
