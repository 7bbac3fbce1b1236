// Seed a local alphacdn for the gallery: two upload presets (through the admin API) and the
// product photos (through the unsigned `catalog` preset, as a browser would upload them).
// Idempotent: presets are updated, photos already there are kept (unsigned uploads never
// overwrite). Usage: node scripts/seed.mjs [--server http://127.0.0.1:8000] [--cloud demo]
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
export const server = (args.server || process.env.ALPHACDN_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
const cloud = args.cloud || process.env.ALPHACDN_CLOUD || "demo";
// the documented development key pair (alphacdn serves it on loopback only)
const key = process.env.ALPHACDN_API_KEY || "123456789012345";
const secret = process.env.ALPHACDN_API_SECRET || "alphacdn-dev-secret";
const auth = "Basic " + Buffer.from(`${key}:${secret}`).toString("base64");

/** The presets the gallery uses: `catalog` for seeding, `storefront` for browser uploads. */
export const PRESETS = {
  catalog: { unsigned: true, folder: "products", tags: "catalog", allowed_formats: "jpg,png,webp" },
  storefront: {
    unsigned: true,
    folder: "products",
    tags: "storefront,uploaded",
    allowed_formats: "jpg,png,webp",
    // the cut-out's matte starts right after the upload
    eager: "e_background_removal/f_png",
    eager_async: true,
  },
};

async function admin(method, route, body) {
  const resp = await fetch(`${server}/v1_1/${cloud}/${route}`, {
    method,
    headers: { Authorization: auth, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return { status: resp.status, json: await resp.json() };
}

export async function seed({ quiet = false } = {}) {
  const log = quiet ? () => {} : console.log;
  for (const [name, settings] of Object.entries(PRESETS)) {
    const made = await admin("POST", "upload_presets", { name, ...settings });
    if (made.status !== 200) {
      const updated = await admin("PUT", `upload_presets/${name}`, settings);
      if (updated.status !== 200) throw new Error(`preset ${name}: ${JSON.stringify(updated.json)}`);
    }
    log(`preset ${name}: ok`);
  }
  const dir = path.join(here, "..", "products");
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".jpg")).sort()) {
    const form = new FormData();
    form.append("upload_preset", "catalog");
    form.append("public_id", file.replace(/\.jpg$/, ""));
    form.append("file", new Blob([await readFile(path.join(dir, file))], { type: "image/jpeg" }), file);
    const resp = await fetch(`${server}/v1_1/${cloud}/image/upload`, { method: "POST", body: form });
    const json = await resp.json();
    if (resp.status !== 200) throw new Error(`${file}: ${JSON.stringify(json)}`);
    log(`${json.existing ? "kept" : "uploaded"} ${json.public_id}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  seed().catch((err) => {
    console.error(`seeding ${server} failed: ${err.message}`);
    process.exit(1);
  });
}
