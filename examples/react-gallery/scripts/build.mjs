// Build the gallery into dist/ (esbuild): `node scripts/build.mjs`, or with `--serve` a
// rebuild-on-change server on http://127.0.0.1:5173 (scripts/start.mjs uses it).
import { cp, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");

export function options() {
  return {
    entryPoints: { app: path.join(root, "src", "main.jsx") },
    outdir: dist,
    bundle: true,
    format: "esm",
    minify: true,
    sourcemap: true,
    jsx: "automatic",
    target: ["es2020"],
    // node_modules may be a link to a cache (the CI keeps it under build/)
    nodePaths: [path.join(root, "node_modules")],
    define: {
      "process.env.NODE_ENV": '"production"',
      __ALPHACDN_URL__: JSON.stringify(process.env.ALPHACDN_URL || "http://127.0.0.1:8000"),
      __ALPHACDN_CLOUD__: JSON.stringify(process.env.ALPHACDN_CLOUD || "demo"),
    },
    logLevel: "warning",
  };
}

export async function build() {
  await mkdir(dist, { recursive: true });
  await cp(path.join(root, "public"), dist, { recursive: true });
  await esbuild.build(options());
  return dist;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build();
  console.log(`built ${dist}`);
}
