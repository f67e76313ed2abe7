#!/bin/sh
# Put the Chatterbox weights in DEST: from the Hugging Face hub (MODEL_SOURCE=hub, needs the `hf`
# CLI of huggingface_hub) or from a local directory (MODEL_SOURCE=local). Then check that every
# file the server loads is there. Used by Dockerfile.base; CI runs the local path.
#   fetch-weights.sh hub|local SRC_DIR DEST_DIR
set -eu
source="${1:?usage: fetch-weights.sh hub|local SRC_DIR DEST_DIR}"
src="${2:?SRC_DIR}"
dest="${3:?DEST_DIR}"
repo="${MODEL_REPO:-ResembleAI/chatterbox}"
revision="${MODEL_REVISION:-main}"
required="ve.safetensors t3_cfg.safetensors s3gen.safetensors tokenizer.json"
optional="conds.pt conds.safetensors config.json"

mkdir -p "$dest"
case "$source" in
hub)
    # shellcheck disable=SC2086 # word splitting of the file lists is intended
    hf download "$repo" $required conds.pt --revision "$revision" --local-dir "$dest"
    rm -rf "$dest/.cache"
    ;;
local)
    for f in $required $optional; do
        if [ -f "$src/$f" ]; then cp "$src/$f" "$dest/$f"; fi
    done
    ;;
*)
    echo "fetch-weights: MODEL_SOURCE must be hub or local, not '$source'" >&2
    exit 2
    ;;
esac

missing=""
for f in $required; do
    [ -s "$dest/$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
    echo "fetch-weights: missing in $dest:$missing" >&2
    exit 1
fi
if [ ! -s "$dest/conds.pt" ] && [ ! -s "$dest/conds.safetensors" ]; then
    echo "fetch-weights: no conds.pt: requests must upload a voice prompt" >&2
fi
# The server runs as an unprivileged user: the weights must be readable by everyone (a copied
# file may be private to its owner).
chmod -R a+rX "$dest"
ls -l "$dest"
