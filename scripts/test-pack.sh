#!/usr/bin/env bash
# Clean-room install test of the npm tarball: packs the package (with the prebuild already in
# prebuilds/, from `npm run prebuild`), installs it into an empty project with a PATH that holds
# no cmake, make, nvcc or C/C++ compiler (each name is shadowed by a script that records the
# call and fails), and checks that the install hook takes the prebuild, that `repmlp info`
# runs, that an ES module and a CommonJS file each run a forward pass and an AdamW training
# step, and that a TypeScript file type-checks against the published types.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tsc="$root/node_modules/.bin/tsc"
fail() { echo "test-pack: FAIL: $*" >&2; exit 1; }

ls "$root"/prebuilds/linux-x64/*.node >/dev/null 2>&1 || fail "no prebuild in prebuilds/linux-x64 (run npm run prebuild first)"
work="$(mktemp -d /tmp/repmlp-pack.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# 1. Pack.
cd "$root"
tarball="$(npm pack --silent --pack-destination "$work")"
tarball="$work/$(echo "$tarball" | tail -1)"
[ -f "$tarball" ] || fail "npm pack wrote no tarball"
echo "test-pack: $(basename "$tarball") $(du -h "$tarball" | cut -f1)"
tar -tzf "$tarball" > "$work/contents"
for f in package/prebuilds/linux-x64/repmlp.glibc.node package/dist/lib/index.js package/dist/lib/index.d.ts \
         package/README.md package/LICENSE package/scripts/install.cjs; do
  grep -qx "$f" "$work/contents" || fail "the tarball lacks $f"
done
grep -q '^package/data/' "$work/contents" || fail "the tarball lacks data/"
if grep -E '^package/(test|build|node_modules)/|\.safetensors$' "$work/contents" | grep -v '^package/data/'; then
  fail "the tarball holds test fixtures, build/ or node_modules/"
fi

# 2. A PATH with node, npm and basic tools only; build tools fail loudly.
bin="$work/bin"
mkdir -p "$bin"
for t in node npm npx sh bash env cat ls mkdir rm cp mv ln chmod uname dirname basename readlink realpath \
         grep sed tr head tail sort wc tar gzip mktemp touch date id; do
  p="$(command -v "$t" || true)"
  [ -n "$p" ] && ln -s "$p" "$bin/$t"
done
log="$work/build-tools.log"
for t in cmake make ninja nvcc gcc g++ cc c++ clang clang++ ld; do
  printf '#!/bin/sh\necho "%s $*" >> "%s"\necho "test-pack: %s must not run during install" >&2\nexit 127\n' "$t" "$log" "$t" > "$bin/$t"
  chmod +x "$bin/$t"
done
clean_path="$bin"

# 3. Install into an empty project.
app="$work/app"
mkdir -p "$app"
cd "$app"
PATH="$clean_path" npm init -y >/dev/null
PATH="$clean_path" npm install "$tarball" --ignore-scripts=false --foreground-scripts --no-audit --no-fund 2>&1 | tee "$work/install.log"
[ ! -s "$log" ] || fail "build tools ran during install: $(cat "$log")"
grep -q 'repmlp: using prebuilds/linux-x64/repmlp.glibc.node' "$work/install.log" || fail "the install hook did not report the prebuild"
[ ! -e node_modules/repmlp/build ] || fail "the install created node_modules/repmlp/build"

# 4. The CLI.
PATH="$clean_path" npx --no-install repmlp info --json > info.json
PATH="$clean_path" node -e '
  const i = JSON.parse(require("fs").readFileSync("info.json", "utf8"));
  const s = JSON.stringify(i);
  if (!/"version":"\d+\.\d+\.\d+"/.test(s)) throw new Error("repmlp info --json has no version: " + s);
  console.log("test-pack: repmlp info --json:", s.slice(0, 300));'

# 5. ESM and CommonJS: a forward pass and one AdamW step of a small conv + linear model.
train_body='
const rng = new Rng(1);
const conv = new Conv2d(1, 4, 3, { rng, padding: 1 });
const fc = new Linear(4 * 6 * 6, 3, { rng });
const params = [...conv.parameters(), ...fc.parameters()];
const opt = new AdamW(params, { lr: 0.01 });
const x = randn([2, 1, 6, 6], rng);
const y = tensor(new BigInt64Array([0n, 2n]), [2], { dtype: "int64" });
const r = relu(tensor([-1, 0, 2], [3])).data();
if (r[0] !== 0 || r[1] !== 0 || r[2] !== 2) throw new Error("relu gave " + Array.from(r));
const lossOf = () => scope(() => {
  const logits = fc.forward(reshape(relu(conv.forward(x)), [2, 4 * 6 * 6]));
  if (logits.shape.join() !== "2,3") throw new Error("logits shape " + logits.shape);
  return crossEntropy(logits, y).keep();
});
const before = params.map((p) => Float32Array.from(p.data()));
const l0 = lossOf();
const v0 = l0.item();
if (!Number.isFinite(v0) || v0 <= 0) throw new Error("loss " + v0);
opt.zeroGrad();
l0.backward();
opt.step();
const moved = params.every((p, i) => p.data().some((v, j) => v !== before[i][j]));
if (!moved) throw new Error("AdamW left a parameter unchanged");
const v1 = lossOf().item();
if (!(v1 < v0)) throw new Error("the loss did not fall: " + v0 + " -> " + v1);
console.log(KIND + ": loss " + v0.toFixed(4) + " -> " + v1.toFixed(4));
'
{ echo 'import { tensor, relu, randn, reshape, crossEntropy, scope, Rng, Conv2d, Linear, AdamW } from "repmlp";'
  echo 'const KIND = "esm";'; echo "$train_body"; } > esm.mjs
{ echo 'const { tensor, relu, randn, reshape, crossEntropy, scope, Rng, Conv2d, Linear, AdamW } = require("repmlp");'
  echo 'const KIND = "cjs";'; echo "$train_body"; } > cjs.cjs
PATH="$clean_path" node esm.mjs | tee esm.out
PATH="$clean_path" node cjs.cjs | tee cjs.out
grep -q '^esm: loss' esm.out || fail "the ES module printed no loss"
grep -q '^cjs: loss' cjs.out || fail "the CommonJS file printed no loss"

# 6. TypeScript against the published types (the project's own compiler).
cat > check.mts <<'TS'
import { tensor, relu, randn, reshape, crossEntropy, scope, Rng, Conv2d, Linear, AdamW, info, type Tensor } from 'repmlp';
const rng = new Rng(1);
const conv = new Conv2d(1, 4, 3, { rng, padding: 1 });
const fc = new Linear(4 * 6 * 6, 3, { rng });
const params: Tensor[] = [...conv.parameters(), ...fc.parameters()];
const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.05 });
const x: Tensor = randn([2, 1, 6, 6], rng);
const y = tensor(new BigInt64Array([0n, 2n]), [2], { dtype: 'int64' });
const loss: Tensor = scope(() => crossEntropy(fc.forward(reshape(relu(conv.forward(x)), [2, 144])), y).keep());
const value: number = loss.item();
opt.zeroGrad();
loss.backward();
opt.step();
const shape: readonly number[] = loss.shape;
const cuda: boolean = info().backends.cuda.available;
// @ts-expect-error: relu takes a Tensor, not a number
relu(3);
// @ts-expect-error: AdamW has no option 'learningRate'
new AdamW(params, { learningRate: 0.1 });
export { value, shape, cuda };
TS
# A TypeScript project for Node.js, as a user's is: Node's types (@types/node) and nothing else;
# the API takes and returns Buffers where it reads files, as sharp's does.
cat > tsconfig.json <<JSON
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "ES2022",
    "lib": ["ES2022"], "types": ["node"], "typeRoots": ["$root/node_modules/@types"], "strict": true, "noEmit": true, "skipLibCheck": false },
  "files": ["check.mts"] }
JSON
echo "test-pack: $("$tsc" --version)"
"$tsc" -p tsconfig.json --noEmit || fail "check.mts does not type-check against the published types"
echo "test-pack: OK"
