#!/usr/bin/env bash
# The package as a user gets it (npm run test:pack): `npm pack`, the tarball installed into an empty
# folder (its dependencies from the registry, or npm's cache when offline; no repository files), then
# from that folder: `npx pastiche --version`, a stylization with the bundled defaults, and an ESM
# script that imports the library and writes a PNG. No weights mirror and an empty cache: only what
# the package itself ships may be used. Needs a Vulkan driver (lavapipe will do), like the other tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=$(node -p "require('./package.json').version")

photo=$(ls samples/*.png samples/*.jpg 2>/dev/null | head -n 1 || true)
if [ -z "$photo" ]; then
  echo "pack-test: no sample image in samples/ to stylize" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pastiche-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
  echo "pack-test: $*" >&2
  exit 1
}

echo "pack-test: npm pack (builds dist/)"
npm pack --silent --pack-destination "$work" >/dev/null
tarball="$work/pastiche-$version.tgz"
[ -f "$tarball" ] || fail "npm pack wrote no $tarball"

# What the tarball holds: the built JS and declarations, the bundled weights, no sources or tests.
listing=$(tar -tzf "$tarball")
for wanted in package/dist/index.node.js package/dist/index.node.d.ts package/dist/index.browser.js \
  package/dist/cli/main.js package/bin/pastiche.mjs package/weights/manifest.json package/LICENSE package/README.md; do
  grep -qx "$wanted" <<<"$listing" || fail "the tarball lacks ${wanted#package/}"
done
grep -q '^package/weights/bundled/.*\.safetensors$' <<<"$listing" || fail 'the tarball holds no bundled weights (weights/bundled/*.safetensors)'
if grep -E '^package/(src|test|bench|scripts|dist/app)/|\.test\.' <<<"$listing"; then fail 'the tarball holds the files above, which users do not need'; fi
echo "pack-test: $(wc -l <<<"$listing") files, $(du -k "$tarball" | cut -f1) KB packed"

mkdir "$work/user"
cd "$work/user"
printf '{ "name": "pastiche-pack-test", "private": true, "type": "module" }\n' >package.json
echo "pack-test: npm install the tarball into an empty folder"
npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tarball"
[ -e node_modules/pastiche/src ] && fail 'the installed package holds src/'

# (`npx --no --`: the installed bin, never a registry package of the same name.)
# Only what the package ships: a fresh per-user cache, no mirror, no repository on the module path.
export PASTICHE_CACHE_DIR="$work/cache"
unset PASTICHE_WEIGHTS_MIRROR PASTICHE_WEIGHTS_DIR NODE_PATH

reported=$(npx --no -- pastiche --version)
[ "$reported" = "$version" ] || fail "pastiche --version printed '$reported', expected '$version'"
echo "pack-test: pastiche --version → $reported"

cp "$repo/$photo" "photo.${photo##*.}"
photo="photo.${photo##*.}"
npx --no -- pastiche stylize "$photo" --size 96 -o cli-out.png
node --input-type=module -e "
  import { decodeImage } from 'pastiche';
  import { readFileSync } from 'node:fs';
  const image = decodeImage(readFileSync('cli-out.png'), 'cli-out.png');
  if (Math.max(image.width, image.height) !== 96) throw new Error('cli-out.png is ' + image.width + 'x' + image.height + ', expected a long side of 96');
"
echo "pack-test: pastiche stylize $photo -o cli-out.png (bundled defaults) wrote a 96 px PNG"

# The library, as the README shows it: import from the package name, stylize, write a PNG.
cat >api-example.mjs <<'EOF'
import { decodeImage, stylize } from 'pastiche';
import { readFileSync, writeFileSync } from 'node:fs';

// A small copy of the photo (every n-th pixel) as ImageData-like RGBA, to keep a CPU-only run short.
const photo = decodeImage(readFileSync(process.argv[2]), process.argv[2]);
const step = Math.ceil(Math.max(photo.width, photo.height) / 64);
const width = Math.floor(photo.width / step);
const height = Math.floor(photo.height / step);
const data = new Uint8ClampedArray(width * height * 4);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    for (let c = 0; c < 3; c++) data[(y * width + x) * 4 + c] = photo.data[(y * step * photo.width + x * step) * 3 + c];
    data[(y * width + x) * 4 + 3] = 255;
  }
}

const image = await stylize({ width, height, data });
if (image.width !== width || image.height !== height) throw new Error(`stylize returned ${image.width}x${image.height}, expected ${width}x${height}`);
// A style, not a copy: the mean change per channel is large (a mosaic-like style moves colours a lot).
let change = 0;
for (let i = 0; i < data.length; i++) if (i % 4 !== 3) change += Math.abs(image.data[i] - data[i]);
change /= width * height * 3;
if (!(change > 8)) throw new Error(`the stylized image barely differs from the photo (mean change ${change.toFixed(1)} of 255)`);
writeFileSync('api-out.png', image.toPng());
console.log(`api-out.png: ${image.width}x${image.height}, mean change ${change.toFixed(1)} of 255`);
EOF
node api-example.mjs "$photo"
node --input-type=module -e "
  import { decodeImage } from 'pastiche';
  import { readFileSync } from 'node:fs';
  const image = decodeImage(readFileSync('api-out.png'), 'api-out.png');
  if (!(image.width > 0)) throw new Error('api-out.png did not decode');
"
# The shipped declarations: a TypeScript user gets real types (misuse is an error, not `any`).
cat >typed.ts <<'EOF'
import { stylize, type StylizedImage } from 'pastiche';
import { initRuntime } from 'pastiche/gpu';

export async function run(): Promise<Uint8Array> {
  const image: StylizedImage = await stylize('photo.png');
  const width: number = image.width;
  // @ts-expect-error: a number is not an image input
  await stylize(42);
  void initRuntime;
  return width > 0 ? image.toPng() : new Uint8Array();
}
EOF
node "$repo/node_modules/typescript/bin/tsc" --noEmit --strict --skipLibCheck --module nodenext --target es2022 typed.ts ||
  fail "a TypeScript user's import of 'pastiche' does not type-check with the shipped declarations"
echo "pack-test: the declarations type-check a TypeScript user's import (module nodenext)"

# A bundler takes the browser entry: a web app importing 'pastiche' builds with Vite, and nothing
# Node-only (the Node entry, file reading, the weight store) is pulled into it.
mkdir web
printf '<!doctype html>\n<script type="module" src="./main.js"></script>\n' >web/index.html
cat >web/main.js <<'EOF'
import { stylize } from 'pastiche';
const image = await stylize(new ImageData(64, 64));
document.body.textContent = `${image.width}x${image.height}`;
EOF
node "$repo/node_modules/vite/bin/vite.js" build web --outDir ../web-dist --emptyOutDir --logLevel info >vite.log 2>&1 ||
  { cat vite.log >&2; fail "a web app importing 'pastiche' does not build with Vite"; }
if grep -E 'index\.node\.js|image-file\.js|/node/' vite.log web-dist/assets/*.js; then fail "the browser bundle pulls in Node-only modules (above)"; fi
echo "pack-test: a web app importing 'pastiche' bundles the browser entry with Vite ($(cat web-dist/assets/*.js | wc -c) bytes of JS)"

echo "pack-test: ok (installed from $(basename "$tarball"), CLI and library work with no repository files)"
