// Drive the built gallery in a real headless Chromium (Debian's /usr/bin/chromium through
// puppeteer-core; no browser download) against a running alphacdn, and report what happened as
// JSON: every image's final state, every alphacdn response, timings, the upload, screenshots.
// The checks are made by the caller (tests/e2e/test_gallery_browser.py, bench/gallery.py).
//
//   node test/gallery.mjs --server http://127.0.0.1:8000 --app-port 5199 [--query placeholder=vectorize]
//        [--upload test/upload-mug.jpg] [--interact] [--screenshot out.png] [--page-shot page.png]
//        [--timeout 90] [--out result.json]
import { createReadStream } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const flag = (name) => argv.includes(`--${name}`);

const server = arg("server").replace(/\/$/, "");
const appPort = Number(arg("app-port", "0"));
const timeout = Number(arg("timeout", "90")) * 1000;
const chromium = arg("chromium", process.env.CHROMIUM || "/usr/bin/chromium");
const viewport = { width: 1200, height: 1500 };

// placeholder transformations the @cloudinary/html placeholder plugin adds
const PLACEHOLDER = /e_blur:2000|e_pixelate|e_vectorize|w_iw_div_2|\$currWidth/;

function serveDist() {
  const dist = path.join(root, "dist");
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };
  const srv = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(dist, rel === "/" ? "index.html" : rel);
    if (!file.startsWith(dist) || !(await stat(file).catch(() => null))?.isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(appPort, "127.0.0.1", () => resolve(srv)));
}

// runs in the page: the state of every product image, and when the first cut-out / every
// image became final (ms since navigation start)
function pageProbe(placeholderSource) {
  const placeholder = new RegExp(placeholderSource);
  const final = (img) =>
    img.complete && img.naturalWidth > 0 && img.src && !img.src.startsWith("data:") && !placeholder.test(img.src);
  window.__gallery = { firstCutout: null, allFinal: null };
  const tick = () => {
    const imgs = [...document.querySelectorAll(".card img")];
    const g = window.__gallery;
    if (g.firstCutout === null && imgs.some((i) => i.classList.contains("cutout") && final(i))) {
      g.firstCutout = performance.now();
    }
    const done = imgs.length > 0 && imgs.every(final);
    if (done && g.allFinal === null) g.allFinal = performance.now();
    if (!done) g.allFinal = null;
  };
  setInterval(tick, 20);
  window.__images = () =>
    [...document.querySelectorAll(".card img")].map((img) => ({
      product: img.closest(".card")?.dataset.product,
      kind: img.classList.contains("cutout") ? "cutout" : "original",
      src: img.src,
      complete: img.complete,
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
      final: final(img),
      retries: Number(img.dataset.alphacdnRetry || 0),
      opacity: getComputedStyle(img).opacity,
    }));
}

async function settle(page, label, want = () => true) {
  // every image final (and `want` true of them), bounded in time
  const end = Date.now() + timeout;
  for (;;) {
    const images = await page.evaluate(() => window.__images());
    if (images.length && images.every((i) => i.final) && want(images)) return images;
    if (Date.now() > end) {
      const stuck = images.filter((i) => !i.final);
      throw new Error(`${label}: images not final after ${timeout / 1000} s: ${JSON.stringify(stuck)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const app = await serveDist();
  const appUrl = `http://127.0.0.1:${app.address().port}/`;
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars", "--force-color-profile=srgb", "--font-render-hinting=none"],
  });
  const result = { app: appUrl, server, responses: [], failed: [], console: [], steps: {} };
  try {
    const page = await browser.newPage();
    await page.setViewport(viewport);
    await page.setCacheEnabled(!flag("no-cache"));
    page.on("console", (m) => m.type() === "error" && result.console.push(m.text()));
    page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) => result.failed.push({ url: r.url(), error: r.failure()?.errorText }));
    page.on("response", (r) => {
      if (!r.url().startsWith(server)) return;
      const h = r.headers();
      const timing = r.timing();
      result.responses.push({
        url: r.url(),
        method: r.request().method(),
        status: r.status(),
        preview: h["x-alphacdn-preview"] || null,
        cache: h["x-alphacdn-cache"] || null,
        retryAfter: h["retry-after"] || null,
        contentType: h["content-type"] || null,
        length: Number(h["content-length"] || 0),
        fromCache: r.fromCache(),
        at: timing ? timing.requestTime : null,
      });
    });
    await page.evaluateOnNewDocument(pageProbe, PLACEHOLDER.source);

    const query = new URLSearchParams({ server });
    for (const q of (arg("query", "") || "").split("&").filter(Boolean)) {
      const [k, v] = q.split("=");
      query.set(k, v);
    }
    const t0 = Date.now();
    await page.goto(`${appUrl}?${query}`, { waitUntil: "domcontentloaded" });
    const first = await settle(page, "first view");
    const marks = await page.evaluate(() => ({ ...window.__gallery, now: performance.now() }));
    marks.allFinal ??= marks.now; // settled between two ticks of the page's probe
    result.steps.firstView = { wallMs: Date.now() - t0, firstCutoutMs: marks.firstCutout, allFinalMs: marks.allFinal, images: first };
    // bytes: what the page's images cost (resource timing; alphacdn sends Timing-Allow-Origin)
    result.steps.firstView.bytes = await page.evaluate((srv) =>
      performance
        .getEntriesByType("resource")
        .filter((e) => e.name.startsWith(srv))
        .reduce((a, e) => ({ transfer: a.transfer + e.transferSize, body: a.body + e.encodedBodySize, n: a.n + 1 }), { transfer: 0, body: 0, n: 0 }),
    server);

    if (flag("interact")) {
      // the colour swatch changes the underlay of every cut-out
      await page.click('button.swatch.mint');
      const mint = await settle(page, "mint swatch", (imgs) =>
        imgs.filter((i) => i.kind === "cutout").every((i) => i.src.includes("backdrop-mint")),
      );
      // the toggle shows the originals; hovering one card shows its original alone
      const showing = () =>
        page.evaluate(() => [...document.querySelectorAll(".card")].map((c) => c.classList.contains("show-original")));
      await page.click('input[name="originals"]');
      const toggled = await showing();
      await page.click('input[name="originals"]');
      await page.hover(".card:nth-child(2) .frame");
      await new Promise((r) => setTimeout(r, 400));
      const hovered = await showing();
      await page.mouse.move(5, 5);
      result.steps.interact = {
        mintCutouts: mint.filter((i) => i.kind === "cutout").length,
        toggled,
        hovered,
      };
    }

    const upload = arg("upload");
    if (upload) {
      const before = (await page.$$(".card")).length;
      const input = await page.$('input[type="file"]');
      await input.uploadFile(path.resolve(upload));
      const t1 = Date.now();
      await page.click('[data-testid="upload-form"] button[type="submit"]');
      await page.waitForFunction((n) => document.querySelectorAll(".card").length > n, { timeout }, before);
      const images = await settle(page, "uploaded product");
      const status = await page.$eval('.upload [role="status"]', (e) => e.textContent);
      const added = images.filter((i) => i.product && !i.product.match(/products\/(mug|bottle|vase|lamp|ball|giftbox)$/));
      result.steps.upload = { ms: Date.now() - t1, status, images: added };
    }

    const shot = arg("screenshot");
    const pageShot = arg("page-shot");
    if (shot || pageShot) {
      // a second view (the server is warm now): what a returning visitor sees
      await page.goto(`${appUrl}?${query}`, { waitUntil: "domcontentloaded" });
      const warm = await settle(page, "warm view");
      const marks2 = await page.evaluate(() => ({ ...window.__gallery, now: performance.now() }));
      marks2.allFinal ??= marks2.now;
      result.steps.warmView = { allFinalMs: marks2.allFinal, firstCutoutMs: marks2.firstCutout, images: warm };
      await new Promise((r) => setTimeout(r, 300)); // transitions
      if (pageShot) await page.screenshot({ path: pageShot, fullPage: true });
      if (shot) {
        // the product images alone: captions and fonts differ between machines
        await page.addStyleTag({ content: "figcaption, header, footer, .upload { visibility: hidden !important; }" });
        const grid = await page.$(".grid");
        await grid.screenshot({ path: shot });
      }
    }
  } catch (err) {
    result.error = err.message;
  } finally {
    await browser.close();
    app.close();
  }
  const out = arg("out");
  const text = JSON.stringify(result, null, 1);
  if (out) await writeFile(out, text);
  else console.log(text);
  if (result.error) throw new Error(result.error);
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
