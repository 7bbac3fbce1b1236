// `npm start`: wait for alphacdn, seed it (presets + product photos), build the gallery and
// serve it on http://127.0.0.1:5173 (rebuilt when a source file changes).
//   ALPHACDN_URL (default http://127.0.0.1:8000), ALPHACDN_CLOUD (demo), PORT (5173)
import path from "node:path";
import * as esbuild from "esbuild";
import { build, options } from "./build.mjs";
import { seed, server } from "./seed.mjs";

const port = Number(process.env.PORT || 5173);

async function waitForServer(seconds = 60) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const resp = await fetch(`${server}/health`);
      if (resp.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) {
      console.error(
        `alphacdn does not answer at ${server} after ${seconds} s. Start it first, from the ` +
          `repository root:\n  ALPHACDN_CORS_ORIGINS=http://127.0.0.1:${port} ` +
          "ALPHACDN_MATTE_PREVIEW=u2netp ALPHACDN_MATTE_WAIT=3 make serve",
      );
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

await waitForServer();
await seed();
const dist = await build();
const ctx = await esbuild.context(options());
await ctx.watch();
await ctx.serve({ servedir: dist, host: "127.0.0.1", port });
console.log(`\nStudio Shop: http://127.0.0.1:${port}/  (images from ${server}; ${path.relative(process.cwd(), dist)})`);
